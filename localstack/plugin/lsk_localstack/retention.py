"""Bounds what LocalStack keeps per Lambda invocation, so a long-running LocalStack stays flat.

Under a soak of warm invokes of `square`, LocalStack 4.13.1 grew by about 5 MB per 1,000
invocations. tracemalloc snapshots taken 4,000 invokes apart named two holders:

- The `Invocations` CloudWatch metric. `LambdaVersionManager.invoke` records it on a new thread
  per invocation (`start_thread`), and `start_thread` appends every thread to `TMP_THREADS`, a
  list LocalStack empties only at shutdown: about 5 KB per invocation (the thread, its events,
  conditions and future). `install()` hands these calls to one long-lived worker thread
  instead: nothing is kept, and no thread is started per invocation. The metric is still
  published, when CloudWatch is enabled (it is not among lsk's services by default).
- Log lines. Each invocation's START, END and REPORT lines (and whatever the function prints)
  are kept as moto `LogEvent`s in the in-memory CloudWatch Logs backend, forever: about 0.3 KB
  a line. `install()` keeps the newest `LSK_LOG_EVENTS_PER_STREAM` events (default 10,000,
  0 for no limit) of each log stream. A Lambda log stream belongs to one execution
  environment, so this is about the last 3,000 invocations of each warm environment.
  GetLogEvents pages by index in moto: a reader paging through a stream while it is being
  trimmed can miss events that were dropped between its pages.

Both patch methods of the pinned LocalStack (localstack/requirements.lock) and moto; their
shape is checked by localstack/plugin/tests/test_retention.py.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger(__name__)

DEFAULT_EVENTS_PER_STREAM = 10_000
# Names LambdaVersionManager.invoke gives its per-invocation metric threads.
METRIC_THREAD_PREFIX = "record-cloudwatch-metric"
# Metric calls waiting for the worker: a full queue drops new ones (a metric is not worth
# unbounded memory when CloudWatch cannot keep up).
METRIC_BACKLOG = 10_000

_installed = False


def events_per_stream() -> int:
    """The per-stream limit from `LSK_LOG_EVENTS_PER_STREAM` (0: unlimited)."""
    raw = os.environ.get("LSK_LOG_EVENTS_PER_STREAM", "") or str(DEFAULT_EVENTS_PER_STREAM)
    try:
        n = int(raw)
    except ValueError:
        LOG.warning(
            "LSK_LOG_EVENTS_PER_STREAM=%r is not a whole number; using %d",
            raw,
            DEFAULT_EVENTS_PER_STREAM,
        )
        return DEFAULT_EVENTS_PER_STREAM
    return max(0, n)


def bound_log_streams(stream_class: type, limit: int) -> None:
    """Wraps `stream_class.put_log_events` so a stream keeps only its newest `limit` events."""
    own = vars(stream_class).get("put_log_events")
    if limit <= 0 or getattr(own, "_lsk_bounded", False):
        return
    put = stream_class.put_log_events

    def put_log_events(self, *args, **kwargs):
        token = put(self, *args, **kwargs)
        excess = len(self.events) - limit
        if excess > 0:
            # Events are appended in arrival order: the oldest are at the front.
            del self.events[:excess]
        return token

    put_log_events._lsk_bounded = True
    put_log_events.__wrapped__ = put
    stream_class.put_log_events = put_log_events


class MetricWorker:
    """Runs fire-and-forget metric calls one after another on a single daemon thread."""

    def __init__(self, backlog: int = METRIC_BACKLOG):
        self._queue: queue.Queue = queue.Queue(maxsize=backlog)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def submit(self, method: Callable[[Any], Any], params: Any = None) -> None:
        self._ensure_started()
        try:
            self._queue.put_nowait((method, params))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                LOG.warning(
                    "Lambda metric backlog full (%d calls): dropping metrics until it drains",
                    self._queue.maxsize,
                )

    def join(self) -> None:
        """Waits until every submitted call has run (for tests)."""
        self._queue.join()

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                t = threading.Thread(target=self._run, name="lsk-lambda-metrics", daemon=True)
                t.start()
                self._thread = t

    def _run(self) -> None:
        while True:
            method, params = self._queue.get()
            try:
                # start_thread's FuncThread calls its function with the params alone.
                method(params)
            except Exception as e:
                LOG.debug("Lambda metric call failed: %s", e)
            finally:
                self._queue.task_done()


def metrics_on_worker(start_thread: Callable[..., Any], worker: MetricWorker) -> Callable[..., Any]:
    """`start_thread` with the per-invocation metric threads sent to `worker` instead."""

    def patched(
        method,
        params=None,
        quiet=False,
        on_stop=None,
        _shutdown_hook=True,
        name=None,
    ):
        if on_stop is None and isinstance(name, str) and name.startswith(METRIC_THREAD_PREFIX):
            # The caller drops the returned thread; nothing waits for the metric.
            worker.submit(method, params)
            return None
        return start_thread(
            method,
            params=params,
            quiet=quiet,
            on_stop=on_stop,
            _shutdown_hook=_shutdown_hook,
            name=name,
        )

    patched._lsk_metrics_worker = worker
    patched.__wrapped__ = start_thread
    return patched


def install() -> None:
    """Applies both bounds (once). Runs when the Lambda service loads our executor."""
    global _installed
    if _installed:
        return
    # LocalStack's logs provider replaces moto's put_log_events when it is imported; import it
    # first, so ours wraps that replacement instead of being discarded by it.
    import localstack.services.logs.provider  # noqa: F401
    from localstack.services.lambda_.invocation import version_manager
    from moto.logs.models import LogStream

    bound_log_streams(LogStream, events_per_stream())
    current = version_manager.start_thread
    if getattr(current, "_lsk_metrics_worker", None) is None:
        version_manager.start_thread = metrics_on_worker(current, MetricWorker())
    _installed = True
