"""Function URL bodies reach the function as the client sent them (lsk_localstack.urls).

Drives LocalStack's own URL-event builder with requests shaped like curl's, after the form has
been parsed the way LocalStack's gateway parses it while routing."""

import base64
import unittest

from rolo.gateway import RequestContext
from rolo.request import Request

from lsk_localstack import urls

HOST = "abc123.lambda-url.us-east-1.localhost:4566"
FORM = "application/x-www-form-urlencoded"


def request(method: str, body: bytes | None, content_type: str | None, host: str = HOST):
    headers = {"Host": host}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return Request(method=method, path="/", headers=headers, body=body)


def through_gateway(req: Request) -> Request:
    """Our handler first, then what LocalStack's routing does to a form body."""
    urls.keep_function_url_body(None, RequestContext(req), None)
    _ = req.form
    return req


def event_body(req: Request) -> tuple[bytes | None, bool]:
    from localstack.services.lambda_.urlrouter import event_for_lambda_url

    urls.install_router_patch()
    event = event_for_lambda_url("abc123", req)
    if "body" not in event:
        return None, event["isBase64Encoded"]
    body = event["body"]
    if event["isBase64Encoded"]:
        return base64.b64decode(body), True
    return body.encode(), False


class FunctionUrlBodyTest(unittest.TestCase):
    def test_curl_dash_d_without_a_content_type_arrives_as_sent_base64_encoded(self):
        sent = b'{"number": 7}'
        body, b64 = event_body(through_gateway(request("POST", sent, FORM)))
        self.assertEqual(body, sent, "curl -d sends a form type; the JSON must survive")
        self.assertTrue(b64, "AWS base64-encodes non-text types")

    def test_a_real_form_is_not_re_encoded(self):
        sent = b"a=1&b=two+words&a=3"
        body, _ = event_body(through_gateway(request("POST", sent, FORM)))
        self.assertEqual(body, sent)

    def test_put_with_a_form_type_keeps_its_body(self):
        sent = b'{"number": 8}'
        body, _ = event_body(through_gateway(request("PUT", sent, FORM)))
        self.assertEqual(body, sent, "methods other than POST used to arrive empty")

    def test_json_text_binary_and_no_type(self):
        cases = [
            ("application/json", b'{"number": 6}', False),
            ("text/plain; charset=utf-8", b"hello", False),
            ("application/octet-stream", bytes(range(256)), True),
            (None, b"raw bytes", True),
        ]
        for content_type, sent, b64 in cases:
            with self.subTest(content_type=content_type):
                req = through_gateway(request("POST", sent, content_type))
                self.assertEqual(event_body(req), (sent, b64))

    def test_no_body_means_no_body_key(self):
        body, b64 = event_body(through_gateway(request("GET", None, None)))
        self.assertIsNone(body)
        self.assertFalse(b64)

    def test_other_hosts_are_left_alone(self):
        req = request("POST", b"Action=ListQueues", FORM, host="localhost:4566")
        urls.keep_function_url_body(None, RequestContext(req), None)
        self.assertNotIn(urls.RAW_BODY_KEY, req.environ)
        self.assertEqual(req.form["Action"], "ListQueues", "the form still parses for AWS APIs")

    def test_the_form_still_parses_after_the_body_was_kept(self):
        req = through_gateway(request("POST", b"a=1", FORM))
        self.assertEqual(req.form["a"], "1")

    def test_installing_twice_adds_one_handler_and_one_patch(self):
        class Gateway:
            request_handlers = [print]

        gateway = Gateway()
        urls.install_gateway_handler(gateway)
        urls.install_gateway_handler(gateway)
        self.assertEqual(gateway.request_handlers, [urls.keep_function_url_body, print])

        from localstack.services.lambda_ import urlrouter

        urls.install_router_patch()
        patched = urlrouter.restore_payload
        urls.install_router_patch()
        self.assertIs(urlrouter.restore_payload, patched)


class RestApiBodyTest(unittest.TestCase):
    """The same for a REST API's Lambda proxy: AWS passes text bodies through unchanged."""

    def test_every_form_of_a_rest_api_request_keeps_its_body(self):
        for host, path in [
            ("a1b2c3.execute-api.localhost:4566", "/Prod/change"),
            ("localhost:4566", "/_aws/execute-api/a1b2c3/Prod/change"),
            ("localhost:4566", "/restapis/a1b2c3/Prod/_user_request_/change"),
        ]:
            with self.subTest(host=host, path=path):
                sent = b'{"amount": 0.29}'
                req = Request(
                    method="POST",
                    path=path,
                    headers={"Host": host, "Content-Type": FORM},
                    body=sent,
                )
                urls.keep_function_url_body(None, RequestContext(req), None)
                _ = req.form
                from localstack.services.apigateway.next_gen.execute_api.handlers import parse

                urls.install_rest_api_patch()
                self.assertEqual(parse.restore_payload(req), sent)

    def test_other_api_gateway_calls_are_left_alone(self):
        self.assertFalse(urls.keeps_raw_body("localhost:4566", "/restapis/a1b2c3/resources"))


if __name__ == "__main__":
    unittest.main()
