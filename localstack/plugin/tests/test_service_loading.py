"""Concurrent first requests to a service all find its routes (lsk_localstack.service_loading).

Drives LocalStack's own ServiceLoader with a router whose route registration is slow, which
widens the window in which an unpatched loader lets a second request through too early."""

import threading
import time
import unittest
from types import SimpleNamespace

from localstack.aws.handlers.service_plugin import ServiceLoader
from localstack.services.plugins import Service

from lsk_localstack import service_loading


class FakeService(Service):
    def __init__(self):  # no plugin machinery needed
        pass

    @property
    def skeleton(self):
        return "lambda-skeleton"


class SlowRouter:
    def __init__(self):
        self.registering = threading.Event()
        self.routes = []

    def add_skeleton(self, skeleton):
        self.registering.set()
        time.sleep(0.3)
        self.routes.append(skeleton)


class Manager:
    def exists(self, name):
        return True

    def require(self, name):
        return FakeService()


def context(name="lambda"):
    return SimpleNamespace(service=SimpleNamespace(service_name=name))


class ServiceLoadingTest(unittest.TestCase):
    def test_a_second_first_request_waits_until_the_routes_exist(self):
        service_loading.install()
        router = SlowRouter()
        loader = ServiceLoader(Manager(), router)
        first = threading.Thread(target=loader.require_service, args=(None, context(), None))
        first.start()
        self.assertTrue(router.registering.wait(5))
        # The second request arrives while the first is still adding the routes.
        loader.require_service(None, context(), None)
        self.assertEqual(router.routes, ["lambda-skeleton"], "it must not return before that")
        first.join(5)
        # Later requests take the fast path and do not load again.
        loader.require_service(None, context(), None)
        self.assertEqual(router.routes, ["lambda-skeleton"])

    def test_installing_twice_wraps_once(self):
        service_loading.install()
        wrapped = ServiceLoader.require_service
        service_loading.install()
        self.assertIs(ServiceLoader.require_service, wrapped)

    def test_the_loader_keeps_a_reentrant_lock_per_service_and_its_loaded_set(self):
        loader = ServiceLoader(Manager(), SlowRouter())
        lock = loader.service_locks["lambda"]
        with lock, lock:  # re-entrant: the wrapper holds it around LocalStack's own `with`
            pass
        self.assertIsInstance(loader.loaded_services, set)


if __name__ == "__main__":
    unittest.main()
