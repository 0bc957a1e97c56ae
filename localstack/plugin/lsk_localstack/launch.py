"""Starts LocalStack for lsk, optionally tied to its parent through a stdin lifeline.

`python -m lsk_localstack.launch` with LSK_LIFELINE=1: when stdin reaches EOF (the process that
started us exited, however it died), LocalStack shuts down, and is killed if it ignores that.
Without the lifeline (detached `lsk up`) it runs until `lsk down` signals it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

SHUTDOWN_GRACE_S = 10.0


def _watch_lifeline() -> None:
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)
    # LocalStack sometimes ignores SIGTERM while busy; never outlive the parent.
    time.sleep(SHUTDOWN_GRACE_S)
    os._exit(1)


def main() -> None:
    # LocalStack serves every request and its own background work (log shipping, event source
    # polling) in one interpreter. A shorter GIL switch interval than Python's 5 ms lets the
    # thread answering a caller get back in sooner. LSK_SWITCH_INTERVAL_MS=5 restores the default.
    interval_ms = os.environ.get("LSK_SWITCH_INTERVAL_MS", "")
    if interval_ms:
        try:
            sys.setswitchinterval(float(interval_ms) / 1000.0)
        except ValueError:
            sys.stderr.write(
                f"lsk: ignoring LSK_SWITCH_INTERVAL_MS={interval_ms!r}: not a number\n"
            )
    if os.environ.get("LSK_LIFELINE") == "1":
        threading.Thread(target=_watch_lifeline, name="lsk-lifeline", daemon=True).start()
    from lsk_localstack import compat

    compat.install()
    compat.defer_moto_batch()
    compat.share_botocore_loader()
    from localstack.runtime.main import main as localstack_main

    localstack_main()


if __name__ == "__main__":
    main()
