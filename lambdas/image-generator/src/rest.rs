//! The API Gateway REST API face (Lambda proxy integration, payload v1): the same routes and
//! answers as the function URL ([`crate::url`]), read from a v1 event and answered in the v1
//! response shape. The seed's `POST .../Prod/generate-image` arrives with `path`
//! `/generate-image`: v1 `path` has no stage prefix, whatever the `resource` (`/generate-image`
//! or `/{proxy+}`).

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};

use crate::model::ModelClient;
use crate::notify::Notifier;
use crate::service::ImageService;
use crate::store::ImageStore;
use crate::url::{HttpRequest, HttpResponse, route};

/// Answers one REST API proxy request. Never fails: every problem becomes an HTTP status.
pub async fn respond<M: ModelClient, S: ImageStore, N: Notifier>(
    service: &ImageService<M, S, N>,
    request: &ApiGatewayProxyRequest,
) -> ApiGatewayProxyResponse {
    let path = route_path(request);
    // `requestContext.path` is the path the caller used (`/prod/generate-image`); what it has
    // before the route is where the caller's `/images/...` live too.
    let base = request
        .request_context
        .path
        .as_deref()
        .and_then(|full| full.strip_suffix(path))
        .unwrap_or("");
    let http = HttpRequest {
        method: request.http_method.as_str(),
        path,
        base,
        body: request.body.as_deref(),
        is_base64_encoded: request.is_base64_encoded,
    };
    into_rest(route(service, http).await)
}

/// The route's path: the event's `path`, without a leading `/<stage>` (API Gateway keeps the
/// stage in `path` on a custom domain mapped without a base path).
pub fn route_path(request: &ApiGatewayProxyRequest) -> &str {
    let path = request
        .path
        .as_deref()
        .or(request.resource.as_deref())
        .unwrap_or("/");
    request
        .request_context
        .stage
        .as_deref()
        .filter(|stage| !stage.is_empty())
        .and_then(|stage| path.strip_prefix('/')?.strip_prefix(stage))
        .filter(|rest| rest.starts_with('/'))
        .unwrap_or(path)
}

/// In the v1 proxy response shape. A binary body stays base64 text with `isBase64Encoded`;
/// API Gateway turns it back into bytes for media types listed in the API's `binaryMediaTypes`.
pub fn into_rest(response: HttpResponse) -> ApiGatewayProxyResponse {
    let mut rest = ApiGatewayProxyResponse::default();
    rest.status_code = response.status.as_u16().into();
    rest.headers = response.headers;
    rest.body = Some(Body::Text(response.body));
    rest.is_base64_encoded = response.is_base64_encoded;
    rest
}
