"""Function URL and REST API requests reach the function with the body the client sent,
whatever its type.

AWS hands a function URL's body to the function as sent (base64-encoded unless the content
type is text). LocalStack's gateway parses form-typed bodies while it routes the request, and its
URL router then rebuilds the payload from the parsed form (`restore_payload`), so `curl -d
'{"number": 7}'` (form-typed, because curl says so) arrives as `%7B%22number%22%3A+7%7D=`, and
on methods other than POST the body arrives empty.

API Gateway's REST API (v1) proxy passes text bodies through unchanged too, and LocalStack's
REST API request parser rebuilds them with the same `restore_payload`.

Two parts fix that without touching any function:
- a gateway request handler, first in the chain, that keeps the raw bytes of requests to a
  function URL or a REST API (`<id>.execute-api.<domain>`, `/_aws/execute-api/...`,
  `/restapis/.../_user_request_/...`) before anything parses them;
- the URL router's and the REST API parser's `restore_payload`, replaced by one that returns
  those bytes.

Both patch a pinned LocalStack (localstack/requirements.lock); localstack/plugin/tests checks
the shapes they rely on.
"""

from __future__ import annotations

import logging

LOG = logging.getLogger(__name__)

# Where the raw body is kept on the WSGI environ of the request.
RAW_BODY_KEY = "lsk.function_url.raw_body"
# Function URL hosts look like `<url-id>.lambda-url.<region>.<domain>`.
URL_HOST_MARKER = ".lambda-url."
# REST API hosts look like `<api-id>.execute-api.<domain>`.
API_HOST_MARKER = ".execute-api."
# LocalStack's path forms of a REST API invocation.
API_PATH_PREFIX = "/_aws/execute-api/"
API_LEGACY_PATH_MARKER = "/_user_request_"


def is_function_url_host(host: str) -> bool:
    return URL_HOST_MARKER in host.lower()


def keeps_raw_body(host: str, path: str) -> bool:
    """Whether the request goes to a function URL or a REST API invocation."""
    host = host.lower()
    return (
        URL_HOST_MARKER in host
        or API_HOST_MARKER in host
        or path.startswith(API_PATH_PREFIX)
        or (path.startswith("/restapis/") and API_LEGACY_PATH_MARKER in path)
    )


def keep_function_url_body(chain, context, response) -> None:
    """Gateway request handler: keeps the unparsed body of a function URL request.

    Runs before LocalStack's handlers parse the request; `cache=True` lets the form parser
    (should a later handler ask for it) read from the cached bytes instead of the consumed
    stream."""
    request = context.request
    if request is None or not keeps_raw_body(request.host or "", request.path or ""):
        return
    request.environ[RAW_BODY_KEY] = request.get_data(cache=True, parse_form_data=False)


def original_payload(request, fallback) -> bytes:
    """The body as the client sent it: the kept raw bytes, else LocalStack's reconstruction."""
    raw = request.environ.get(RAW_BODY_KEY)
    if raw is not None:
        return raw
    return fallback(request)


def install_gateway_handler(gateway) -> None:
    """Puts the raw-body handler first in the gateway's request chain (once)."""
    handlers = gateway.request_handlers
    if keep_function_url_body not in handlers:
        handlers.insert(0, keep_function_url_body)


def install_router_patch() -> None:
    """Makes the URL router read the kept raw body (once)."""
    from localstack.services.lambda_ import urlrouter

    current = urlrouter.restore_payload
    if getattr(current, "_lsk_original_payload", False):
        return

    def restore_payload(request) -> bytes:
        return original_payload(request, current)

    restore_payload._lsk_original_payload = True
    urlrouter.restore_payload = restore_payload
    LOG.debug("function URL bodies are passed through as sent")


def install_rest_api_patch() -> None:
    """Makes the REST API request parser read the kept raw body (once). Imports API Gateway's
    modules, so it is installed only where the service is started."""
    from localstack.services.apigateway.next_gen.execute_api.handlers import parse

    current = parse.restore_payload
    if getattr(current, "_lsk_original_payload", False):
        return

    def restore_payload(request) -> bytes:
        return original_payload(request, current)

    restore_payload._lsk_original_payload = True
    parse.restore_payload = restore_payload
    LOG.debug("REST API bodies are passed through as sent")
