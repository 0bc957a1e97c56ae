"""What LocalStack keeps per invocation stays bounded (lsk_localstack.retention), and the LocalStack
and moto internals it patches still have the shape it relies on."""

import inspect
import os
import threading
import unittest
from unittest import mock

from lsk_localstack import retention


def new_stream(stream_class):
    from moto.logs.models import LogGroup

    group = LogGroup("000000000000", "us-east-1", "/aws/lambda/probe")
    return stream_class(group, "2024/01/01/[$LATEST]abc")


def events(first: int, n: int) -> list[dict]:
    return [{"timestamp": 1000 + i, "message": f"line {i}\n"} for i in range(first, first + n)]


class LogStreamBoundTest(unittest.TestCase):
    def setUp(self):
        # LocalStack's replacement of moto's put_log_events is the one that runs in LocalStack.
        import localstack.services.logs.provider  # noqa: F401
        from moto.logs.models import LogStream

        class Stream(LogStream):
            pass

        self.stream_class = Stream

    def test_a_stream_keeps_only_its_newest_events(self):
        retention.bound_log_streams(self.stream_class, 10)
        stream = new_stream(self.stream_class)
        stream.put_log_events(events(0, 4))
        stream.put_log_events(events(4, 15))
        stream.put_log_events(events(19, 6))
        self.assertEqual([e.message for e in stream.events], [f"line {i}\n" for i in range(15, 25)])
        self.assertEqual(stream.to_describe_dict()["firstEventTimestamp"], 1015)

    def test_below_the_limit_nothing_is_dropped_and_the_token_is_kept(self):
        retention.bound_log_streams(self.stream_class, 10)
        stream = new_stream(self.stream_class)
        token = stream.put_log_events(events(0, 3))
        self.assertEqual(len(stream.events), 3)
        self.assertEqual(token, f"{1:056d}")

    def test_zero_means_unlimited_and_wrapping_twice_wraps_once(self):
        put = self.stream_class.put_log_events
        retention.bound_log_streams(self.stream_class, 0)
        self.assertIs(self.stream_class.put_log_events, put)
        retention.bound_log_streams(self.stream_class, 5)
        wrapped = self.stream_class.put_log_events
        retention.bound_log_streams(self.stream_class, 5)
        self.assertIs(self.stream_class.put_log_events, wrapped)

    def test_limit_from_the_environment(self):
        for raw, want in [("", 10_000), ("500", 500), ("0", 0), ("-3", 0), ("lots", 10_000)]:
            with mock.patch.dict(os.environ, {"LSK_LOG_EVENTS_PER_STREAM": raw}):
                self.assertEqual(retention.events_per_stream(), want, raw)


class MetricThreadTest(unittest.TestCase):
    def test_metric_calls_run_on_one_worker_and_leave_no_thread_behind(self):
        from localstack.utils import threads

        worker = retention.MetricWorker()
        start_thread = retention.metrics_on_worker(threads.start_thread, worker)
        kept = len(threads.TMP_THREADS)
        ran: list[str] = []
        for _ in range(200):
            returned = start_thread(
                lambda *args, **kwargs: ran.append(threading.current_thread().name),
                name="record-cloudwatch-metric-square:$LATEST",
            )
            self.assertIsNone(returned)
        worker.join()
        self.assertEqual(len(ran), 200)
        self.assertEqual(set(ran), {"lsk-lambda-metrics"})
        self.assertEqual(len(threads.TMP_THREADS), kept, "a metric thread was kept")

    def test_other_threads_are_started_as_before(self):
        from localstack.utils import threads

        worker = retention.MetricWorker()
        start_thread = retention.metrics_on_worker(threads.start_thread, worker)
        done = threading.Event()
        t = start_thread(lambda *_: done.set(), name="scale-environments")
        try:
            self.assertIsInstance(t, threads.FuncThread)
            self.assertTrue(done.wait(5))
            self.assertIn(t, threads.TMP_THREADS)
        finally:
            t.join(5)
            threads.TMP_THREADS.remove(t)

    def test_a_full_backlog_drops_instead_of_growing(self):
        worker = retention.MetricWorker(backlog=2)
        gate = threading.Event()
        worker.submit(lambda _: gate.wait(5))
        # The worker may or may not have taken the first call yet: fill past any free slot.
        for _ in range(5):
            worker.submit(lambda _: None)
        self.assertGreaterEqual(worker.dropped, 2)
        gate.set()
        worker.join()

    def test_a_failing_metric_call_does_not_stop_the_worker(self):
        worker = retention.MetricWorker()
        ran = []
        worker.submit(lambda _: 1 / 0)
        worker.submit(lambda p: ran.append(p), "after")
        worker.join()
        self.assertEqual(ran, ["after"])


class InstallTest(unittest.TestCase):
    def test_install_bounds_moto_streams_and_routes_lambda_metrics(self):
        from localstack.services.lambda_.invocation import version_manager
        from moto.logs.models import LogStream

        retention.install()
        retention.install()
        self.assertTrue(getattr(LogStream.put_log_events, "_lsk_bounded", False))
        patched = version_manager.start_thread
        self.assertIsNotNone(getattr(patched, "_lsk_metrics_worker", None))
        self.assertIsNot(
            getattr(patched, "__wrapped__", None), patched, "start_thread wrapped twice"
        )
        self.assertIsNone(getattr(patched.__wrapped__, "_lsk_metrics_worker", None))


class RetentionShapeTest(unittest.TestCase):
    """The LocalStack and moto code `lsk_localstack.retention` patches."""

    def test_the_version_manager_starts_named_metric_threads_through_its_start_thread(self):
        from localstack.services.lambda_.invocation import version_manager

        source = inspect.getsource(version_manager.LambdaVersionManager.invoke)
        self.assertIn("start_thread(", source)
        self.assertIn(f'name=f"{retention.METRIC_THREAD_PREFIX}-', source)
        self.assertIn(f'name=f"{retention.METRIC_THREAD_PREFIX}-error-', source)
        self.assertTrue(hasattr(version_manager, "start_thread"))

    def test_start_thread_signature_and_what_func_thread_calls(self):
        from localstack.utils import threads

        fn = inspect.unwrap(threads.start_thread)
        self.assertEqual(
            list(inspect.signature(fn).parameters),
            ["method", "params", "quiet", "on_stop", "_shutdown_hook", "name"],
        )
        self.assertIn("TMP_THREADS.append(thread)", inspect.getsource(fn))
        self.assertIn("self.func(self.params", inspect.getsource(threads.FuncThread.run))

    def test_moto_streams_append_events_to_a_list(self):
        import localstack.services.logs.provider as provider
        from moto.logs.models import LogStream

        self.assertIn("self.events +=", inspect.getsource(provider.moto_put_log_events))
        self.assertEqual(
            list(inspect.signature(LogStream.__init__).parameters), ["self", "log_group", "name"]
        )
        self.assertIsInstance(new_stream(LogStream).events, list)


if __name__ == "__main__":
    unittest.main()
