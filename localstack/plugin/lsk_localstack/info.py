"""`GET /_lsk/info`: what this LocalStack gives functions, for `lsk status` and the tests.

Answers `{"executor": "process", "function_fs": "namespaced"}` or, where the OS refuses mount
namespaces, `{"function_fs": "host-paths", "function_fs_reason": "..."}`. The filesystem view
is what `lsk-init --fs-probe` finds on this machine (or in this container), asked once.
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess

LOG = logging.getLogger(__name__)

PATH = "/_lsk/info"
PROBE_TIMEOUT_S = 10


@functools.cache
def function_fs() -> tuple[str, str | None]:
    """("namespaced", None) or ("host-paths", why), from lsk-init's own probe."""
    from lsk_localstack.executor import INIT_SETTINGS, init_binary

    try:
        binary = init_binary()
    except Exception as e:  # LambdaRuntimeException: no lsk-init configured
        return "host-paths", str(e)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    env.update({k: os.environ[k] for k in INIT_SETTINGS if k in os.environ})
    try:
        out = subprocess.run(
            [binary, "--fs-probe"],
            env=env,
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as e:
        return "host-paths", f"lsk-init --fs-probe failed: {e}"
    answer = out.stdout.decode(errors="replace").strip()
    if answer == "namespaced":
        return "namespaced", None
    _, _, why = answer.partition(":")
    return "host-paths", why.strip() or answer


def info() -> dict:
    mode, why = function_fs()
    doc = {"executor": "process", "function_fs": mode}
    if why is not None:
        doc["function_fs_reason"] = why
    return doc


def serve_info(chain, context, response) -> None:
    """Gateway request handler for `GET /_lsk/info`."""
    request = context.request
    if request is None or request.path != PATH:
        return
    if request.method != "GET":
        response.status_code = 405
        response.set_json({"error": f"{PATH} answers GET only"})
    else:
        response.set_json(info())
    chain.stop()


def install_gateway_handler(gateway) -> None:
    handlers = gateway.request_handlers
    if serve_info not in handlers:
        handlers.insert(0, serve_info)
