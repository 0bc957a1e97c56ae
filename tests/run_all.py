#!/usr/bin/env python3
"""`make test`: every test of the workspace, several test binaries at a time.

    python3 tests/run_all.py --features FEATURES [--jobs N]

`cargo test` runs one test binary after another, and ours spend most of their time waiting: on
LocalStack (a schedule's next minute, visibility timeouts), or on a build or an image build in
another process. Each end-to-end binary shares one LocalStack among its tests, so a runner with
a process per test (cargo-nextest) would start one LocalStack per test instead.

This builds every test once, then runs N `cargo test` invocations at a time. Each selects one
kind of target of the workspace's default members (all but the bench) with the same features,
so cargo resolves the same features and finds the build fresh. Each one's output is printed whole when it ends, a summary with the time
of each comes last, and the exit status says whether everything passed.
"""

import argparse
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "target" / "test-logs"

# Integration test targets that take longest in `make test`, longest first, so that none of them
# starts last and ends the run alone. A target not listed runs after these.
LONGEST = [
    "cli_watch",
    "docker",
    "outside_workspace",
    "cli_docker",
    "triggers",
    "cli_new",
    "lifecycle",
    "examples",
]


def integration_targets(build_messages: str) -> list[str]:
    """The names of the integration test targets cargo built, from its JSON messages."""
    names = set()
    for line in build_messages.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if (
            message.get("reason") == "compiler-artifact"
            and message["profile"]["test"]
            and message["target"]["kind"] == ["test"]
        ):
            names.add(message["target"]["name"])
    ordered = [n for n in LONGEST if n in names]
    return ordered + sorted(names - set(ordered))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", required=True)
    parser.add_argument("--jobs", type=int, default=3)
    args = parser.parse_args()
    cargo = ["cargo", "test", "--features", args.features]
    LOGS.mkdir(parents=True, exist_ok=True)
    for old in LOGS.glob("*.log"):
        old.unlink()

    print(f"==> building every test ({' '.join(cargo)} --no-run)", flush=True)
    build = subprocess.run(
        [*cargo, "--no-run", "--message-format=json-render-diagnostics"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    if build.returncode != 0:
        print("make test: the build failed (see above)", file=sys.stderr)
        return 1
    selections = [["--test", n] for n in integration_targets(build.stdout)]
    selections += [["--lib", "--bins"], ["--doc"]]

    printing = threading.Lock()
    results: dict[str, tuple[int, float]] = {}

    def run(selection: list[str]) -> None:
        name = " ".join(selection)
        log = LOGS / (name.replace("--", "").replace(" ", "_") + ".log")
        with printing:
            print(f"==> started cargo test {name}", flush=True)
        started = time.monotonic()
        with log.open("w") as out:
            code = subprocess.run(
                [*cargo, *selection], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            ).returncode
        took = time.monotonic() - started
        results[name] = (code, took)
        verdict = "passed" if code == 0 else f"FAILED (exit {code})"
        with printing:
            print(f"==> cargo test {name}: {verdict} in {took:.0f} s", flush=True)
            for line in log.read_text(errors="replace").splitlines():
                print(f"    {line}")
            sys.stdout.flush()

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(run, selections))

    print(f"\n==> summary (exit status, wall time); logs in {LOGS.relative_to(ROOT)}/")
    for name, (code, took) in results.items():
        print(f"    {name:28} {code:4} {took:7.0f} s")
    failed = [name for name, (code, _) in results.items() if code != 0]
    if failed:
        print(f"make test: {len(failed)} failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("make test: every test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
