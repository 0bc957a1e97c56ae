"""Ships Lambda logs to CloudWatch Logs in batches instead of one PutLogEvents per invocation.

LocalStack's `LogHandler` thread sends each invocation's logs with its own PutLogEvents call,
through LocalStack's own HTTP gateway. With host-process Lambdas that call costs as much
Python time as the invocation itself, on the same GIL. `install()` replaces the handler's loop
with one that waits up to `LSK_LOG_BATCH_MS` (default 100 ms) for more invocations' logs and
sends them as one call per log stream. Logs reach CloudWatch at most that much later; nothing
is dropped, and what is queued is sent before the handler stops.

This patches a method of a pinned LocalStack (localstack/requirements.lock); the runtime tests
(`tests/tests/runtime.rs`) read the logs back through CloudWatch, so a LocalStack upgrade that
breaks it fails there.
"""

from __future__ import annotations

import logging
import os
import queue
import time

LOG = logging.getLogger(__name__)

# PutLogEvents limits: 10,000 events and 1,048,576 bytes, counting 26 bytes per event.
MAX_EVENTS = 10_000
MAX_BYTES = 1_048_576
EVENT_OVERHEAD = 26

_installed = False


def batch_window_s() -> float:
    raw = os.environ.get("LSK_LOG_BATCH_MS", "100") or "100"
    try:
        ms = float(raw)
    except ValueError:
        LOG.warning("LSK_LOG_BATCH_MS=%r is not a number; using 100", raw)
        ms = 100.0
    return max(0.0, ms) / 1000.0


def chunks(events: list[dict]) -> list[list[dict]]:
    """Splits events into PutLogEvents-sized calls, keeping their order."""
    out: list[list[dict]] = []
    current: list[dict] = []
    size = 0
    for event in events:
        n = len(event["message"].encode()) + EVENT_OVERHEAD
        if current and (len(current) >= MAX_EVENTS or size + n > MAX_BYTES):
            out.append(current)
            current, size = [], 0
        current.append(event)
        size += n
    if current:
        out.append(current)
    return out


def group_by_stream(items: list[tuple[object, int]]) -> dict[tuple[str, str], list[dict]]:
    """(LogItem, receive time in ms) pairs to events per (group, stream), in arrival order.

    Lines are split like LocalStack does: on newlines, keeping them, dropping empty lines
    (CloudWatch refuses empty messages)."""
    streams: dict[tuple[str, str], list[dict]] = {}
    for item, at_ms in items:
        events = streams.setdefault((item.log_group, item.log_stream), [])
        events.extend(
            {"timestamp": at_ms, "message": line + "\n"} for line in item.logs.split("\n") if line
        )
    return streams


def install() -> None:
    """Replaces `LogHandler.run_log_loop` (once)."""
    global _installed
    if _installed:
        return
    from localstack.aws.connect import connect_to
    from localstack.services.lambda_.invocation import logs as ls_logs
    from localstack.utils.aws.client_types import ServicePrincipal

    window = batch_window_s()

    def put(logs_client, group: str, stream: str, events: list[dict]) -> None:
        for batch in chunks(events):
            try:
                logs_client.put_log_events(
                    logGroupName=group, logStreamName=stream, logEvents=batch
                )
            except logs_client.exceptions.ResourceNotFoundException:
                try:
                    logs_client.create_log_group(logGroupName=group)
                except logs_client.exceptions.ResourceAlreadyExistsException:
                    pass
                try:
                    logs_client.create_log_stream(logGroupName=group, logStreamName=stream)
                except logs_client.exceptions.ResourceAlreadyExistsException:
                    pass
                logs_client.put_log_events(
                    logGroupName=group, logStreamName=stream, logEvents=batch
                )

    def run_log_loop(self, *args, **kwargs) -> None:
        logs_client = connect_to.with_assumed_role(
            region_name=self.region,
            role_arn=self.role_arn,
            service_principal=ServicePrincipal.lambda_,
        ).logs
        stopping = False
        while not stopping:
            first = self.log_queue.get()
            if first is ls_logs.QUEUE_SHUTDOWN:
                return
            items = [(first, int(time.time() * 1000))]
            deadline = time.monotonic() + window
            while True:
                remaining = deadline - time.monotonic()
                try:
                    item = (
                        self.log_queue.get(timeout=remaining)
                        if remaining > 0
                        else self.log_queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if item is ls_logs.QUEUE_SHUTDOWN:
                    stopping = True
                    break
                items.append((item, int(time.time() * 1000)))
            for (group, stream), events in group_by_stream(items).items():
                if not events:
                    continue
                try:
                    put(logs_client, group, stream, events)
                except Exception as e:
                    LOG.warning(
                        "Error saving logs to group %s in region %s: %s", group, self.region, e
                    )

    ls_logs.LogHandler.run_log_loop = run_log_loop
    _installed = True
