#!/usr/bin/env python3
"""`make test`: every test of the workspace, several test binaries at a time.

    python3 tests/run_all.py --features FEATURES [--jobs N]

`cargo test` runs one test binary after another, and ours spend most of their time waiting: on
LocalStack (a schedule's next minute, visibility timeouts), or on a build or an image build in
another process. Each end-to-end binary shares one LocalStack among its tests, so a runner with
a process per test (cargo-nextest) would start one LocalStack per test instead.

This builds every test once, then runs N `cargo test` invocations at a time. Each selects one
kind of target of the workspace's default members (all but the bench) with the same features,
so cargo resolves the same features and finds the build fresh. Each one's output is printed whole
when it ends, a summary with the time of each comes last, and the exit status says whether
everything passed.

Each `cargo test` runs in a session of its own, and counts as done only when nothing of that
session runs any more: a test binary's LocalStack stops when the binary's lifeline closes, after
the binary has exited, so without this wait `make test` could return while the last one was still
stopping. What is still there after LEFTOVER_WAIT_S is ended and fails the run.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "target" / "test-logs"

# How long the processes a test binary started (its LocalStack and what that started, a
# container's reaper) may take to stop after the binary exits: they stop when their stdin
# lifeline closes, and LocalStack's shutdown stops each execution environment in turn.
LEFTOVER_WAIT_S = 300

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


def session_processes(sid: int) -> dict[int, str]:
    """The processes of session `sid` that are still there, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # Fields after the command name, which is in parentheses and may hold spaces.
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[3]) != sid:
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").strip()
            found[int(entry.name)] = (
                cmdline.decode(errors="replace") or f"[{fields[0]}]"
            )
        except (OSError, ValueError, IndexError):
            continue
    return found


def wait_for_session(sid: int) -> dict[int, str]:
    """Waits until nothing of session `sid` runs any more, for at most LEFTOVER_WAIT_S; then
    ends what is left (only processes of that session: ours) and returns what it ended."""
    if not Path("/proc/self/stat").exists():
        return {}
    deadline = time.monotonic() + LEFTOVER_WAIT_S
    while time.monotonic() < deadline:
        left = session_processes(sid)
        if not left:
            return {}
        time.sleep(0.5)
    left = session_processes(sid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in left:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        time.sleep(5)
    return left


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
            # A session of its own, so that what the test binary started and left to stop on
            # its own can be told apart from everything else on the machine.
            child = subprocess.Popen(
                [*cargo, *selection],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            code = child.wait()
            left = wait_for_session(child.pid)
            if left:
                out.write(
                    f"\nmake test: still running {LEFTOVER_WAIT_S} s after the tests ended, "
                    "so ended by make test:\n"
                )
                out.writelines(
                    f"    {pid} {cmd}\n" for pid, cmd in sorted(left.items())
                )
                code = code or 1
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
