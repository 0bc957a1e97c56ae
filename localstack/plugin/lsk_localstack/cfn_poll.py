"""CloudFormation waits 100 ms, not 1 s, between looks at a resource that is still being made.

LocalStack's CloudFormation engine asks a resource provider again and again until the resource
is done (`ResourceProviderExecutor.deploy_loop`), sleeping `sleep_time` (1 s) between asks. A
Lambda function is `Pending` for a few milliseconds on the kit's `process` executor, yet each
one cost its stack a whole second: a SAM template with five functions took about 10 s to create,
against 3 s for the same stack deployed by lsk from `lsk.toml`. With 100 ms the engine finds
each function Active on its next look. The number of looks before the per-resource timeout
(`CFN_PER_RESOURCE_TIMEOUT`) is computed from the interval, so the timeout stays the same.

Patches a pinned LocalStack (localstack/requirements.lock); localstack/plugin/tests checks the
shape it relies on. `LSK_CFN_POLL_MS` sets another interval.
"""

from __future__ import annotations

import inspect
import os

DEFAULT_POLL_MS = 100


def poll_seconds() -> float:
    """The interval in seconds: `LSK_CFN_POLL_MS`, else 100 ms (1 ms at least)."""
    raw = os.environ.get("LSK_CFN_POLL_MS", "")
    try:
        ms = float(raw) if raw else DEFAULT_POLL_MS
    except ValueError:
        ms = DEFAULT_POLL_MS
    return max(ms, 1.0) / 1000.0


def install() -> None:
    """Sets `deploy_loop`'s default `sleep_time` (once the module is importable)."""
    from localstack.services.cloudformation.resource_provider import ResourceProviderExecutor

    loop = ResourceProviderExecutor.deploy_loop
    params = list(inspect.signature(loop).parameters)
    defaults = list(loop.__defaults__ or ())
    # The defaults belong to the last len(defaults) parameters; `sleep_time` must be one of them.
    if "sleep_time" not in params[len(params) - len(defaults) :]:
        return
    index = params[len(params) - len(defaults) :].index("sleep_time")
    defaults[index] = poll_seconds()
    loop.__defaults__ = tuple(defaults)
