"""The executor's connection to lsk-init and the inline result format, against a fake init.

Run by `cargo test` (tests/tests/plugin.rs) with the project's venv python, on the sources:
    .lsk/venv/bin/python -m unittest discover -s localstack/plugin/tests -t localstack/plugin
"""

import json
import socket
import threading
import unittest

from localstack.services.lambda_.invocation.executor_endpoint import InvokeSendError

from lsk_localstack.executor import (
    HTTP_READER_ENV,
    InitConnection,
    InitProtocolError,
    ProcessExecutorEndpoint,
    http_reader,
)


class FakeInit:
    """Accepts one connection and answers each request with the next scripted raw answer
    (bytes; None to close the connection instead of answering; (bytes, "close") to answer and
    then close the idle connection). Records the requests it read."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []
        self.closed_idle = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _read_request(self, conn, buf):
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return None, b""
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += conn.recv(65536)
        return (head.decode(), rest[:length]), rest[length:]

    def _serve(self):
        while self.answers:
            conn, _ = self.listener.accept()
            buf = b""
            with conn:
                while self.answers:
                    request, buf = self._read_request(conn, buf)
                    if request is None:
                        break
                    self.requests.append(request)
                    answer = self.answers.pop(0)
                    if answer is None:
                        break
                    if isinstance(answer, tuple):
                        conn.sendall(answer[0])
                        conn.shutdown(socket.SHUT_RDWR)
                        self.closed_idle.set()
                        break
                    conn.sendall(answer)

    def close(self):
        self.listener.close()


def answer(status=200, headers=(), body=b""):
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers]
    lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def inline(outcome, payload, logs):
    return answer(
        headers=[("x-lsk-outcome", outcome), ("x-lsk-payload-length", len(payload))],
        body=payload + logs.encode(),
    )


class InitConnectionTest(unittest.TestCase):
    """With the executor's own reader (the default)."""

    reader = "own"

    def test_keeps_one_connection_and_sends_headers_and_json(self):
        fake = FakeInit([answer(body=b"one"), answer(202, [("X-Thing", "a b")], b"")])
        conn = InitConnection("127.0.0.1", fake.port, self.reader)
        status, headers, body = conn.post_json("/invoke", {"n": 1}, {"x-lsk-result": "inline"})
        self.assertEqual((status, body), (200, b"one"))
        status, headers, body = conn.post_json("/invoke", {"n": 2})
        self.assertEqual((status, headers["x-thing"], body), (202, "a b", b""))
        head, sent = fake.requests[0]
        self.assertTrue(head.startswith("POST /invoke HTTP/1.1\r\n"), head)
        self.assertIn("\r\nx-lsk-result: inline", head)
        self.assertEqual(json.loads(sent), {"n": 1})
        self.assertNotIn("x-lsk-result", fake.requests[1][0])
        conn.close()
        fake.close()

    def test_large_bodies_arrive_whole(self):
        big = b"x" * 7_000_000
        fake = FakeInit([answer(body=big)])
        conn = InitConnection("127.0.0.1", fake.port, self.reader)
        self.assertEqual(conn.post_json("/invoke", {})[2], big)
        conn.close()
        fake.close()

    def test_a_kept_alive_connection_the_init_closed_while_idle_is_replaced_before_sending(self):
        fake = FakeInit([(answer(body=b"first"), "close"), answer(body=b"again")])
        conn = InitConnection("127.0.0.1", fake.port, self.reader)
        self.assertEqual(conn.post_json("/invoke", {"n": 1})[2], b"first")
        self.assertTrue(fake.closed_idle.wait(5))
        self.assertEqual(conn.post_json("/invoke", {"n": 2})[2], b"again")
        self.assertEqual([json.loads(body) for _, body in fake.requests], [{"n": 1}, {"n": 2}])
        conn.close()
        fake.close()

    def test_a_request_the_init_received_is_never_sent_twice(self):
        # The init read the second request and dropped the connection without answering: the
        # invocation may have run, so it is an error, not a resend.
        fake = FakeInit([answer(body=b"first"), None, answer(body=b"third")])
        conn = InitConnection("127.0.0.1", fake.port, self.reader)
        self.assertEqual(conn.post_json("/invoke", {"n": 1})[2], b"first")
        with self.assertRaises(OSError):
            conn.post_json("/invoke", {"n": 2})
        self.assertEqual([json.loads(body) for _, body in fake.requests], [{"n": 1}, {"n": 2}])
        # The next invocation gets a fresh connection.
        self.assertEqual(conn.post_json("/invoke", {"n": 3})[2], b"third")
        self.assertEqual(len(fake.requests), 3)
        conn.close()
        fake.close()

    def test_an_init_that_is_gone_is_an_os_error(self):
        fake = FakeInit([])
        port = fake.port
        fake.close()
        conn = InitConnection("127.0.0.1", port, self.reader)
        with self.assertRaises(OSError):
            conn.post_json("/invoke", {})

    def test_garbage_is_a_protocol_error(self):
        fake = FakeInit([b"SSH-2.0-OpenSSH\r\n\r\n"])
        conn = InitConnection("127.0.0.1", fake.port, self.reader)
        with self.assertRaises(InitProtocolError):
            conn.post_json("/invoke", {})
        conn.close()
        fake.close()


class H11InitConnectionTest(InitConnectionTest):
    """The same behaviour with h11 framing both directions (LSK_EXECUTOR_HTTP=h11)."""

    reader = "h11"


class HttpReaderSettingTest(unittest.TestCase):
    def test_the_default_is_our_own_reader_and_a_typo_is_refused_with_the_choices(self):
        from unittest import mock

        from localstack.services.lambda_.invocation.runtime_executor import (
            LambdaRuntimeException,
        )

        with mock.patch.dict("os.environ", {HTTP_READER_ENV: ""}):
            self.assertEqual(http_reader(), "own")
        with mock.patch.dict("os.environ", {HTTP_READER_ENV: "h11"}):
            self.assertEqual(http_reader(), "h11")
        with mock.patch.dict("os.environ", {HTTP_READER_ENV: "h2"}):
            with self.assertRaises(LambdaRuntimeException) as caught:
                http_reader()
        self.assertIn("own, h11", str(caught.exception))


class InlineResultTest(unittest.TestCase):
    def endpoint(self, *answers):
        fake = FakeInit(answers)
        endpoint = ProcessExecutorEndpoint("exec-1", "inline")
        endpoint.connect_to("127.0.0.1", fake.port)
        self.addCleanup(fake.close)
        self.addCleanup(endpoint._init_conn.close)
        return endpoint

    def test_response_payload_and_logs_are_split(self):
        endpoint = self.endpoint(inline("response", b'{"result":36}', "START\nEND\n"))
        result = endpoint.invoke({"invoke-id": "req-1", "payload": "{}"})
        self.assertEqual(result.request_id, "req-1")
        self.assertEqual(result.payload, b'{"result":36}')
        self.assertFalse(result.is_error)
        self.assertEqual(result.logs, "START\nEND\n")

    def test_error_outcome_is_an_error_result(self):
        error = b'{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out"}'
        endpoint = self.endpoint(inline("error", error, ""))
        result = endpoint.invoke({"invoke-id": "req-2"})
        self.assertTrue(result.is_error)
        self.assertEqual(result.payload, error)
        self.assertEqual(result.logs, "")

    def test_a_refusal_is_an_invoke_send_error_with_the_reason(self):
        endpoint = self.endpoint(
            answer(409, body=b'{"errorType":"ResourceConflictException","errorMessage":"busy"}')
        )
        with self.assertRaises(InvokeSendError) as caught:
            endpoint.invoke({"invoke-id": "req-3"})
        self.assertIn("409", str(caught.exception))
        self.assertIn("busy", str(caught.exception))

    def test_an_answer_without_inline_headers_names_the_likely_cause(self):
        endpoint = self.endpoint(answer(200))
        with self.assertRaises(InvokeSendError) as caught:
            endpoint.invoke({"invoke-id": "req-4"})
        self.assertIn("LSK_INIT_BIN", str(caught.exception))

    def test_a_payload_length_beyond_the_body_is_rejected(self):
        endpoint = self.endpoint(
            answer(headers=[("x-lsk-outcome", "response"), ("x-lsk-payload-length", 99)])
        )
        with self.assertRaises(InvokeSendError):
            endpoint.invoke({"invoke-id": "req-5"})


if __name__ == "__main__":
    unittest.main()
