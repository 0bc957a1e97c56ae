"""The batched CloudWatch log shipping of `lsk_localstack.logs`."""

import unittest
from dataclasses import dataclass

from lsk_localstack import logs


@dataclass(frozen=True)
class Item:
    log_group: str
    log_stream: str
    logs: str


class GroupByStreamTest(unittest.TestCase):
    def test_invocations_of_one_stream_become_one_call_in_order(self):
        items = [
            (Item("/aws/lambda/a", "s1", "START 1\nEND 1\n"), 1000),
            (Item("/aws/lambda/b", "s9", "START x\n"), 1001),
            (Item("/aws/lambda/a", "s1", "START 2\n\nEND 2"), 1002),
        ]
        streams = logs.group_by_stream(items)
        self.assertEqual(list(streams), [("/aws/lambda/a", "s1"), ("/aws/lambda/b", "s9")])
        self.assertEqual(
            streams[("/aws/lambda/a", "s1")],
            [
                {"timestamp": 1000, "message": "START 1\n"},
                {"timestamp": 1000, "message": "END 1\n"},
                {"timestamp": 1002, "message": "START 2\n"},
                {"timestamp": 1002, "message": "END 2\n"},
            ],
            "empty lines are dropped (CloudWatch refuses them), order and times kept",
        )


class ChunksTest(unittest.TestCase):
    def test_respects_the_event_count_limit(self):
        events = [{"timestamp": 1, "message": "x\n"} for _ in range(logs.MAX_EVENTS + 5)]
        parts = logs.chunks(events)
        self.assertEqual([len(p) for p in parts], [logs.MAX_EVENTS, 5])
        self.assertEqual(sum(parts, []), events)

    def test_respects_the_byte_limit(self):
        line = "y" * 300_000 + "\n"
        events = [{"timestamp": 1, "message": line} for _ in range(7)]
        parts = logs.chunks(events)
        self.assertTrue(all(len(p) >= 1 for p in parts))
        for part in parts:
            size = sum(len(e["message"]) + logs.EVENT_OVERHEAD for e in part)
            self.assertLessEqual(size, logs.MAX_BYTES)
        self.assertEqual([len(p) for p in parts], [3, 3, 1])

    def test_nothing_gives_no_call(self):
        self.assertEqual(logs.chunks([]), [])


class WindowTest(unittest.TestCase):
    def test_window_from_the_environment(self):
        import os

        old = os.environ.get("LSK_LOG_BATCH_MS")
        try:
            os.environ["LSK_LOG_BATCH_MS"] = "250"
            self.assertEqual(logs.batch_window_s(), 0.25)
            os.environ["LSK_LOG_BATCH_MS"] = "soon"
            self.assertEqual(logs.batch_window_s(), 0.1)
            os.environ["LSK_LOG_BATCH_MS"] = "-5"
            self.assertEqual(logs.batch_window_s(), 0.0)
        finally:
            if old is None:
                os.environ.pop("LSK_LOG_BATCH_MS", None)
            else:
                os.environ["LSK_LOG_BATCH_MS"] = old


if __name__ == "__main__":
    unittest.main()
