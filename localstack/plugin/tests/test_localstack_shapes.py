"""The LocalStack internals our plugin subclasses or patches still have the shape it relies on.

An upgrade of the pinned LocalStack that renames or reshapes any of these fails here, by name,
instead of failing at run time inside a Lambda invocation.
"""

import inspect
import unittest


def params(fn) -> list[str]:
    return [p for p in inspect.signature(fn).parameters if p != "self"]


class RuntimeExecutorShapeTest(unittest.TestCase):
    def test_our_executor_implements_every_abstract_method(self):
        from localstack.services.lambda_.invocation.runtime_executor import RuntimeExecutor

        from lsk_localstack.executor import ProcessRuntimeExecutor

        self.assertEqual(
            getattr(ProcessRuntimeExecutor, "__abstractmethods__", frozenset()),
            frozenset(),
            "LocalStack's RuntimeExecutor gained abstract methods our executor lacks",
        )
        for name in (
            "start",
            "stop",
            "get_address",
            "get_endpoint_from_executor",
            "get_runtime_endpoint",
            "invoke",
            "get_logs",
            "prepare_version",
            "cleanup_version",
            "validate_environment",
        ):
            self.assertTrue(hasattr(RuntimeExecutor, name), f"RuntimeExecutor.{name} is gone")
        self.assertEqual(params(RuntimeExecutor.__init__), ["id", "function_version"])
        self.assertEqual(params(RuntimeExecutor.start), ["env_vars"])
        self.assertEqual(params(RuntimeExecutor.invoke), ["payload"])

    def test_executor_endpoint_has_what_we_override_and_call(self):
        from localstack.services.lambda_.invocation.executor_endpoint import (
            ExecutorEndpoint,
            InvokeSendError,
        )

        for name in ("start", "shutdown", "invoke", "wait_for_startup", "get_endpoint_prefix"):
            self.assertTrue(hasattr(ExecutorEndpoint, name), f"ExecutorEndpoint.{name} is gone")
        self.assertEqual(params(ExecutorEndpoint.invoke), ["payload"])
        self.assertTrue(issubclass(InvokeSendError, Exception))

    def test_the_plugin_namespace_is_the_one_localstack_loads(self):
        from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin

        self.assertEqual(RuntimeExecutorPlugin.namespace, "localstack.lambda.runtime_executor")


class LogHandlerShapeTest(unittest.TestCase):
    """`lsk_localstack.logs` replaces `LogHandler.run_log_loop` and reads its attributes."""

    def test_log_handler_has_the_loop_queue_and_attributes_we_use(self):
        from localstack.services.lambda_.invocation import logs as ls_logs

        self.assertTrue(hasattr(ls_logs, "QUEUE_SHUTDOWN"))
        handler = ls_logs.LogHandler
        self.assertTrue(callable(getattr(handler, "run_log_loop", None)))
        self.assertEqual(params(handler.__init__), ["role_arn", "region"])
        source = inspect.getsource(handler)
        for attr in ("self.log_queue", "self.role_arn", "self.region"):
            self.assertIn(attr, source, f"LogHandler no longer sets {attr}")

    def test_log_items_have_the_fields_we_group_by(self):
        from localstack.services.lambda_.invocation import logs as ls_logs

        fields = set(getattr(ls_logs.LogItem, "__dataclass_fields__", {}))
        self.assertTrue({"log_group", "log_stream", "logs"} <= fields, fields)


class GatewayServerShapeTest(unittest.TestCase):
    """`lsk_localstack.server` subclasses the Twisted runtime server and replaces `register`."""

    def test_twisted_server_register_takes_gateway_listen_and_ssl_creds(self):
        from localstack.runtime.server.core import RuntimeServerPlugin
        from localstack.runtime.server.twisted import TwistedRuntimeServer

        self.assertEqual(
            params(TwistedRuntimeServer.register)[:3], ["gateway", "listen", "ssl_creds"]
        )
        self.assertEqual(RuntimeServerPlugin.namespace, "localstack.runtime.server")

    def test_our_server_plugin_loads(self):
        from lsk_localstack.server import LoopbackTwistedServerPlugin

        server = LoopbackTwistedServerPlugin().load()
        self.assertTrue(callable(server.register))


if __name__ == "__main__":
    unittest.main()


class FunctionUrlShapeTest(unittest.TestCase):
    """What lsk_localstack.urls relies on to pass function URL bodies through as sent."""

    def test_the_url_router_builds_its_event_through_a_module_level_restore_payload(self):
        from localstack.services.lambda_ import urlrouter

        self.assertTrue(callable(urlrouter.restore_payload), "urlrouter.restore_payload is gone")
        self.assertIn(
            "restore_payload",
            urlrouter.event_for_lambda_url.__code__.co_names,
            "event_for_lambda_url no longer reads the body through restore_payload",
        )
        self.assertEqual(params(urlrouter.event_for_lambda_url), ["api_id", "request"])

    def test_the_gateway_runs_a_list_of_request_handlers_with_the_context(self):
        from localstack.aws.app import LocalstackAwsGateway
        from rolo.gateway import Gateway, RequestContext

        self.assertTrue(issubclass(LocalstackAwsGateway, Gateway))
        self.assertIsInstance(Gateway().request_handlers, list)
        self.assertTrue(hasattr(RequestContext(None), "request"))


class HotReloadShapeTest(unittest.TestCase):
    """What `lsk watch` relies on: LocalStack's hot-reload code, read from a host directory."""

    def test_the_marker_bucket_makes_hot_reload_code_from_a_host_path(self):
        from localstack import config
        from localstack.services.lambda_.invocation.lambda_models import HotReloadingCode

        # harness/deploy/src/kinds/function.rs: HOT_RELOAD_BUCKET and HOT_RELOAD_SHA256.
        self.assertEqual(config.BUCKET_MARKER_LOCAL, "hot-reload")
        code = HotReloadingCode(host_path="/ws/.lsk/watch/square")
        self.assertTrue(code.is_hot_reloading())
        self.assertEqual(str(code.get_unzipped_code_location()), "/ws/.lsk/watch/square")
        self.assertEqual(code.code_sha256, "hot-reloading-hash-not-available")
        self.assertEqual(code.generate_presigned_url("http://x"), "file:///ws/.lsk/watch/square")

    def test_zip_code_is_not_hot_reloading(self):
        from localstack.services.lambda_.invocation.lambda_models import ArchiveCode

        self.assertTrue(hasattr(ArchiveCode, "is_hot_reloading"))
