"""The first requests to a service, arriving together, all find its operations routed.

LocalStack attaches a service's operations to its request router on the service's first
request (`ServiceLoader.require_service`). It marks the service as loaded before it adds the
routes, and a second request checks that mark without the service's lock: if it arrives in
between, it finds no route and fails with `InternalFailure: no handler for operation ...`
(501). lsk's deploy sends its first Lambda requests concurrently (one per function), so a fresh
LocalStack failed a deploy now and then.

The fix: until a service's routes are known to exist, a request takes the service's lock (a
re-entrant lock LocalStack already keeps per service) around LocalStack's own loading, so it
waits for the first request's loading to finish. Patches a pinned LocalStack
(localstack/requirements.lock); localstack/plugin/tests checks the shapes it relies on.
"""

from __future__ import annotations

import threading


def install() -> None:
    """Wraps `ServiceLoader.require_service` (once)."""
    from localstack.aws.handlers.service_plugin import ServiceLoader

    original = ServiceLoader.require_service
    if getattr(original, "_lsk_waits_for_routes", False):
        return
    routed_lock = threading.Lock()

    def require_service(self, chain, context, response):
        service = getattr(context, "service", None)
        if service is None:
            return original(self, chain, context, response)
        name = service.service_name
        routed = self.__dict__.get("_lsk_routed")
        if routed is None:
            with routed_lock:
                routed = self.__dict__.setdefault("_lsk_routed", set())
        if name in routed:
            return original(self, chain, context, response)
        with self.service_locks[name]:
            result = original(self, chain, context, response)
            routed.add(name)
        return result

    require_service._lsk_waits_for_routes = True
    ServiceLoader.require_service = require_service
