//! The handler driven with real events (function URL and API Gateway REST proxy requests and an
//! SQS batch, in the shape LocalStack and AWS send them) against the stub model, an in-memory
//! store and a recording notifier.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use image_generator::config::Config;
use image_generator::key::image_key;
use image_generator::request::ImageSpec;
use image_generator::store::ImageStore;
use image_generator::{
    GenerateRequest, ImageReady, ImageService, MemoryNotifier, MemoryStore, ModelClient, Notifier,
    Output, StubModel, handle, handle_payload,
};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{Value, json};

type Service = ImageService<StubModel, MemoryStore>;

fn service() -> Service {
    ImageService::new(StubModel, MemoryStore::new("images-bucket"))
}

fn failing_service() -> Service {
    ImageService::new(
        StubModel,
        MemoryStore::failing("images-bucket", "dispatch failure: connection refused"),
    )
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An HTTP answer from the function URL, with the body decoded.
#[derive(Debug)]
struct Http {
    status: i64,
    headers: http::HeaderMap,
    body: Vec<u8>,
    base64: bool,
}

impl Http {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn error(&self) -> String {
        assert_eq!(self.header("content-type"), Some("application/json"));
        self.json()["error"]
            .as_str()
            .expect("error message")
            .to_owned()
    }
}

async fn call<M: ModelClient, S: ImageStore, N: Notifier>(
    service: &ImageService<M, S, N>,
    event: Value,
) -> Http {
    match handle_payload(service, event).await {
        Ok(Output::FunctionUrl(response)) => {
            let raw = response.body.unwrap_or_default();
            let body = if response.is_base64_encoded {
                BASE64.decode(raw).expect("valid base64 body")
            } else {
                raw.into_bytes()
            };
            Http {
                status: response.status_code,
                headers: response.headers,
                body,
                base64: response.is_base64_encoded,
            }
        }
        other => panic!("expected a function URL response, got {other:?}"),
    }
}

fn request(method: &str, path: &str, body: Option<&str>) -> Value {
    let mut event = fixture("url_post_generate.json");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(method);
    event["body"] = body.map_or(Value::Null, |b| json!(b));
    event
}

fn post(body: &str) -> Value {
    request("POST", "/generate-image", Some(body))
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    let reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .expect("a valid PNG");
    (reader.info().width, reader.info().height)
}

#[tokio::test]
async fn post_generate_image_stores_a_png_and_answers_201() {
    let service = service();
    let answer = call(&service, fixture("url_post_generate.json")).await;
    assert_eq!(
        answer.status,
        201,
        "{:?}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.header("content-type"), Some("application/json"));

    let spec = ImageSpec {
        prompt: "Skriv in prompt her😊".into(),
        width: 128,
        height: 96,
        seed: 0,
    };
    let key = image_key(&spec, "stub-v1");
    let stored = service
        .store()
        .object(&key)
        .expect("image stored under its key");
    assert_eq!(stored.content_type, "image/png");
    assert_eq!(png_size(&stored.bytes), (128, 96));
    assert_eq!(stored.metadata["prompt"], "Skriv in prompt her%F0%9F%98%8A");

    assert_eq!(
        answer.json(),
        json!({
            "bucket": "images-bucket",
            "key": key,
            "uri": format!("s3://images-bucket/{key}"),
            "path": format!("/{key}"),
            "width": 128,
            "height": 96,
            "bytes": stored.bytes.len(),
            "content_type": "image/png",
            "model": "stub-v1",
        })
    );
    assert_eq!(answer.header("location"), Some(format!("/{key}").as_str()));
}

#[tokio::test]
async fn base64_bodies_are_decoded() {
    let service = service();
    let answer = call(&service, fixture("url_post_generate_base64.json")).await;
    assert_eq!(
        answer.status,
        201,
        "{:?}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["width"], 512);
    let spec = GenerateRequest {
        seed: Some(42),
        ..GenerateRequest::new("a lighthouse at dusk")
    }
    .validate()
    .unwrap();
    assert_eq!(answer.json()["key"], image_key(&spec, "stub-v1"));
}

#[tokio::test]
async fn get_image_returns_the_png_as_base64() {
    let service = service();
    let created = call(&service, post(r#"{"prompt": "a red fox", "width": 64}"#)).await;
    let path = created.json()["path"].as_str().unwrap().to_owned();

    let mut event = fixture("url_get_image.json");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    let answer = call(&service, event).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.base64,
        "binary bodies must be base64-encoded for the function URL"
    );
    assert_eq!(answer.header("content-type"), Some("image/png"));
    assert_eq!(png_size(&answer.body), (64, 512));
    let key = created.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(answer.body, service.store().object(&key).unwrap().bytes);
}

#[tokio::test]
async fn missing_image_is_404_json() {
    let answer = call(&service(), fixture("url_get_image.json")).await;
    assert_eq!(answer.status, 404);
    assert!(!answer.base64);
    let error = answer.error();
    assert!(
        error.contains("no image at images/0000000000000000000000000000000000000000000000000000000000000000.png"),
        "{error}"
    );
}

#[tokio::test]
async fn unknown_paths_and_bad_image_names_are_404() {
    let service = service();
    for path in [
        "/",
        "/generate",
        "/generate-image/",
        "/images/",
        "/images/a/b.png",
        "/images/..%2Fsecret",
        "/images/.hidden",
    ] {
        let method = if path.starts_with("/images/") {
            "GET"
        } else {
            "POST"
        };
        let answer = call(&service, request(method, path, Some(r#"{"prompt": "x"}"#))).await;
        assert_eq!(answer.status, 404, "{path}");
        assert!(!answer.error().is_empty());
    }
    assert!(service.store().keys().is_empty());
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow() {
    let service = service();
    for (method, path, allow) in [
        ("GET", "/generate-image", "POST"),
        ("PUT", "/generate-image", "POST"),
        ("DELETE", "/images/abc.png", "GET"),
        ("POST", "/images/abc.png", "GET"),
    ] {
        let answer = call(&service, request(method, path, Some(r#"{"prompt": "x"}"#))).await;
        assert_eq!(answer.status, 405, "{method} {path}");
        assert_eq!(answer.header("allow"), Some(allow), "{method} {path}");
        assert!(answer.error().contains(method));
    }
}

#[tokio::test]
async fn bad_requests_are_400_with_a_reason_and_store_nothing() {
    let service = service();
    let long_prompt = format!(r#"{{"prompt": "{}"}}"#, "x".repeat(1001));
    let cases = [
        ("", "request body is empty"),
        ("  ", "request body is empty"),
        ("{\"prompt\": ", "not valid JSON"),
        ("prompt=a fox", "not valid JSON"),
        (r#"{"prompt": ""}"#, "\"prompt\" is empty"),
        (r#"{"prompt": " \n\t "}"#, "\"prompt\" is empty"),
        (
            long_prompt.as_str(),
            "1001 characters long; the limit is 1000",
        ),
        (
            r#"{"prompt": "x", "width": 63}"#,
            "\"width\" must be between 64 and 1024",
        ),
        (
            r#"{"prompt": "x", "height": 4096}"#,
            "\"height\" must be between 64 and 1024",
        ),
        (
            r#"{"prompt": "x", "style": "oil"}"#,
            "unknown field `style`",
        ),
        (r#"{"prompt": "x", "seed": -3}"#, "invalid value"),
        (r#"{"width": 64}"#, "missing field `prompt`"),
        (r#"["a fox"]"#, "expected a JSON object"),
    ];
    for (body, expected) in cases {
        let answer = call(&service, post(body)).await;
        assert_eq!(answer.status, 400, "{body:?}");
        let error = answer.error();
        assert!(error.contains(expected), "{body:?}: {error}");
    }
    let answer = call(&service, request("POST", "/generate-image", None)).await;
    assert_eq!(answer.status, 400);

    let mut event = fixture("url_post_generate_base64.json");
    event["body"] = json!("%%% not base64 %%%");
    let answer = call(&service, event).await;
    assert_eq!(answer.status, 400);
    assert!(answer.error().contains("not valid base64"));

    assert!(service.store().keys().is_empty());
}

#[tokio::test]
async fn s3_failures_are_502_json() {
    let service = failing_service();
    let answer = call(&service, fixture("url_post_generate.json")).await;
    assert_eq!(answer.status, 502);
    assert!(
        answer
            .error()
            .contains("PutObject s3://images-bucket/images/")
    );

    let answer = call(&service, fixture("url_get_image.json")).await;
    assert_eq!(answer.status, 502);
    assert!(answer.error().contains("GetObject"));
}

fn failed_ids(output: &Output) -> Vec<String> {
    let json = serde_json::to_value(output).unwrap();
    json["batchItemFailures"]
        .as_array()
        .expect("an SQS batch response")
        .iter()
        .map(|failure| failure["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn sqs_batch_reports_only_the_bad_records() {
    let service = service();
    let output = handle_payload(&service, fixture("sqs_batch.json"))
        .await
        .unwrap();
    assert_eq!(
        failed_ids(&output),
        [
            "b8d2f0a3-4c5e-4f6a-9b7c-8d9e0f1a2b3c", // width 5000
            "c9e3a1b4-5d6f-4a7b-8c8d-9e0f1a2b3c4d", // not JSON
            "e1a5c3d6-7f8b-4c9d-8e0f-2a3b4c5d6e7f", // blank prompt
        ]
    );
    let expected_keys = {
        let mut keys: Vec<String> = [
            r#"{"prompt": "Me getting an A in this course"}"#,
            r#"{"prompt": "snow on mount fuji", "width": 64, "height": 64, "seed": 7}"#,
        ]
        .iter()
        .map(|body| {
            let spec = GenerateRequest::from_json(body)
                .unwrap()
                .validate()
                .unwrap();
            image_key(&spec, "stub-v1")
        })
        .collect();
        keys.sort();
        keys
    };
    assert_eq!(service.store().keys(), expected_keys);
}

#[tokio::test]
async fn sqs_redelivery_is_harmless() {
    let service = service();
    handle_payload(&service, fixture("sqs_batch.json"))
        .await
        .unwrap();
    let before: Vec<_> = service
        .store()
        .keys()
        .into_iter()
        .map(|key| service.store().object(&key).unwrap())
        .collect();
    handle_payload(&service, fixture("sqs_batch.json"))
        .await
        .unwrap();
    let after: Vec<_> = service
        .store()
        .keys()
        .into_iter()
        .map(|key| service.store().object(&key).unwrap())
        .collect();
    assert_eq!(before, after);
}

#[tokio::test]
async fn sqs_batch_with_s3_down_fails_every_record() {
    let output = handle_payload(&failing_service(), fixture("sqs_batch.json"))
        .await
        .unwrap();
    assert_eq!(failed_ids(&output).len(), 5);
}

#[tokio::test]
async fn sqs_batch_response_has_the_wire_shape() {
    let mut event = fixture("sqs_batch.json");
    event["Records"] = json!([event["Records"][2].clone()]);
    let output = handle_payload(&service(), event).await.unwrap();
    assert_eq!(
        serde_json::to_string(&output).unwrap(),
        r#"{"batchItemFailures":[{"itemIdentifier":"c9e3a1b4-5d6f-4a7b-8c8d-9e0f1a2b3c4d"}]}"#
    );
}

#[tokio::test]
async fn direct_invoke_creates_or_fails_with_a_typed_error() {
    let service = service();
    let invoke = |payload: Value| handle(&service, LambdaEvent::new(payload, Context::default()));

    let output = invoke(json!({"prompt": "a red fox", "width": 64, "height": 64}))
        .await
        .unwrap();
    let created = serde_json::to_value(&output).unwrap();
    assert_eq!(created["width"], 64);
    assert_eq!(created["model"], "stub-v1");
    assert!(
        created["uri"]
            .as_str()
            .unwrap()
            .starts_with("s3://images-bucket/images/")
    );

    for (payload, error_type, expected) in [
        (json!({"prompt": ""}), "InvalidInput", "\"prompt\" is empty"),
        (
            json!({"prompt": "x", "width": 2}),
            "InvalidInput",
            "between 64 and 1024",
        ),
        (json!("a red fox"), "InvalidInput", "expected a JSON object"),
        (
            json!({"Records": [{"eventSource": "aws:s3"}]}),
            "UnsupportedEvent",
            "records from \"aws:s3\" are not supported",
        ),
        (
            json!({"rawPath": 5}),
            "UnsupportedEvent",
            "malformed function URL event",
        ),
    ] {
        let diagnostic = Diagnostic::from(invoke(payload.clone()).await.unwrap_err());
        assert_eq!(diagnostic.error_type, error_type, "{payload}");
        assert!(
            diagnostic.error_message.contains(expected),
            "{payload}: {}",
            diagnostic.error_message
        );
    }

    let failing = failing_service();
    let error = handle(
        &failing,
        LambdaEvent::new(json!({"prompt": "a red fox"}), Context::default()),
    )
    .await
    .unwrap_err();
    assert_eq!(Diagnostic::from(error).error_type, "StorageError");
}

/// An HTTP answer in the REST API (v1 proxy) shape, with the body decoded.
async fn call_rest<M: ModelClient, S: ImageStore, N: Notifier>(
    service: &ImageService<M, S, N>,
    event: Value,
) -> Http {
    let output = handle_payload(service, event).await;
    let Ok(Output::RestApi(response)) = output else {
        panic!("expected a REST API response, got {output:?}");
    };
    let raw = response
        .body
        .as_ref()
        .map(|body| String::from_utf8_lossy(body).into_owned())
        .unwrap_or_default();
    let body = if response.is_base64_encoded {
        BASE64.decode(raw).expect("valid base64 body")
    } else {
        raw.into_bytes()
    };
    Http {
        status: response.status_code,
        headers: response.headers,
        body,
        base64: response.is_base64_encoded,
    }
}

fn rest_request(method: &str, path: &str, body: Option<&str>) -> Value {
    let mut event = fixture("apigw_post_generate.json");
    event["resource"] = json!("/{proxy+}");
    event["path"] = json!(path);
    event["pathParameters"] = json!({"proxy": path.trim_start_matches('/')});
    event["httpMethod"] = json!(method);
    event["requestContext"]["httpMethod"] = json!(method);
    event["requestContext"]["resourcePath"] = json!("/{proxy+}");
    event["requestContext"]["path"] = json!(format!("/Prod{path}"));
    event["body"] = body.map_or(Value::Null, |b| json!(b));
    event
}

#[tokio::test]
async fn rest_api_post_generate_image_answers_like_the_function_url() {
    let service = service();
    let answer = call_rest(&service, fixture("apigw_post_generate.json")).await;
    assert_eq!(
        answer.status,
        201,
        "{:?}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert!(!answer.base64);
    let spec = GenerateRequest {
        width: Some(96),
        height: Some(64),
        ..GenerateRequest::new("a lighthouse at dusk")
    }
    .validate()
    .unwrap();
    let key = image_key(&spec, "stub-v1");
    let stored = service.store().object(&key).expect("image stored");
    assert_eq!(png_size(&stored.bytes), (96, 64));

    // The same body as the function URL's answer to the same request.
    let mut url_event = fixture("url_post_generate.json");
    url_event["body"] = json!(r#"{"prompt": "a lighthouse at dusk", "width": 96, "height": 64}"#);
    let url_answer = call(&service, url_event).await;
    assert_eq!(url_answer.status, 201);
    assert_eq!(answer.json(), url_answer.json());
    assert_eq!(answer.json()["key"], key);
    // The caller reached the API under its stage, so that is where the image is too.
    assert_eq!(
        answer.header("location"),
        Some(format!("/Prod/{key}").as_str())
    );
    assert_eq!(
        url_answer.header("location"),
        Some(format!("/{key}").as_str())
    );
}

#[tokio::test]
async fn a_rest_proxy_event_is_not_taken_for_a_direct_invoke() {
    let output = handle_payload(&service(), fixture("apigw_post_generate.json"))
        .await
        .unwrap();
    let wire = serde_json::to_value(&output).unwrap();
    assert_eq!(wire["statusCode"], 201, "{wire}");
    assert!(wire["body"].is_string(), "v1 bodies are strings: {wire}");
    assert_eq!(wire["headers"]["content-type"], "application/json");
    assert_eq!(wire["isBase64Encoded"], false);
}

#[tokio::test]
async fn rest_api_proxy_resource_serves_both_routes() {
    let service = service();
    let created = call_rest(
        &service,
        rest_request(
            "POST",
            "/generate-image",
            Some(r#"{"prompt": "a red fox", "width": 64}"#),
        ),
    )
    .await;
    assert_eq!(created.status, 201);
    let path = created.json()["path"].as_str().unwrap().to_owned();
    let key = created.json()["key"].as_str().unwrap().to_owned();

    let mut get = rest_request("GET", &path, None);
    get["headers"]["Accept"] = json!("image/png");
    let answer = call_rest(&service, get).await;
    assert_eq!(answer.status, 200);
    assert!(answer.base64, "binary bodies go back base64-encoded");
    assert_eq!(answer.header("content-type"), Some("image/png"));
    assert_eq!(answer.body, service.store().object(&key).unwrap().bytes);
    assert_eq!(png_size(&answer.body), (64, 512));
}

#[tokio::test]
async fn rest_api_routes_on_the_path_under_the_stage() {
    // A custom domain mapped without a base path keeps the stage in `path`.
    let mut event = fixture("apigw_post_generate.json");
    event["path"] = json!("/Prod/generate-image");
    assert_eq!(call_rest(&service(), event).await.status, 201);
}

#[tokio::test]
async fn rest_api_errors_match_the_function_url() {
    let service = service();
    let answer = call_rest(&service, rest_request("GET", "/generate-image", None)).await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("POST"));
    assert!(answer.error().contains("GET"));

    let answer = call_rest(&service, rest_request("POST", "/generate", Some("{}"))).await;
    assert_eq!(answer.status, 404);
    assert!(answer.error().contains("POST /generate-image"));

    let answer = call_rest(&service, rest_request("GET", "/images/.hidden", None)).await;
    assert_eq!(answer.status, 404);

    let answer = call_rest(
        &service,
        rest_request("POST", "/generate-image", Some(r#"{"prompt": ""}"#)),
    )
    .await;
    assert_eq!(answer.status, 400);
    assert!(answer.error().contains("\"prompt\" is empty"));
    assert!(service.store().keys().is_empty());

    let failing = failing_service();
    let answer = call_rest(&failing, fixture("apigw_post_generate.json")).await;
    assert_eq!(answer.status, 502);
    assert!(answer.error().contains("PutObject"));

    let error = handle_payload(
        &service,
        json!({"httpMethod": "POST", "resource": "/generate-image"}),
    )
    .await
    .unwrap_err();
    let diagnostic = Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "UnsupportedEvent");
    assert!(
        diagnostic
            .error_message
            .contains("malformed API Gateway REST proxy event"),
        "{}",
        diagnostic.error_message
    );
}

#[tokio::test]
async fn rest_api_base64_bodies_are_decoded() {
    let service = service();
    let mut event = fixture("apigw_post_generate.json");
    event["body"] = json!(BASE64.encode(r#"{"prompt": "a lighthouse at dusk", "seed": 42}"#));
    event["isBase64Encoded"] = json!(true);
    let answer = call_rest(&service, event.clone()).await;
    assert_eq!(
        answer.status,
        201,
        "{:?}",
        String::from_utf8_lossy(&answer.body)
    );
    let spec = GenerateRequest {
        seed: Some(42),
        ..GenerateRequest::new("a lighthouse at dusk")
    }
    .validate()
    .unwrap();
    assert_eq!(answer.json()["key"], image_key(&spec, "stub-v1"));

    event["body"] = json!("%%% not base64 %%%");
    let answer = call_rest(&service, event).await;
    assert_eq!(answer.status, 400);
    assert!(answer.error().contains("not valid base64"));
}

fn notifying(notifier: &MemoryNotifier) -> ImageService<StubModel, MemoryStore, MemoryNotifier> {
    service().with_notifier(notifier.clone())
}

fn assert_one_notice(notifier: &MemoryNotifier, key: &str, prompt: &str) -> ImageReady {
    let published = notifier.published();
    assert_eq!(published.len(), 1, "{published:?}");
    let notice = published[0].clone();
    assert_eq!(notice.bucket, "images-bucket");
    assert_eq!(notice.key, key);
    assert_eq!(notice.prompt, prompt);
    assert_eq!(notice.uri, format!("s3://images-bucket/{key}"));
    notice
}

#[tokio::test]
async fn every_way_in_publishes_one_image_ready_per_image() {
    // Function URL.
    let notifier = MemoryNotifier::new();
    let service = notifying(&notifier);
    let answer = call(&service, fixture("url_post_generate.json")).await;
    let key = answer.json()["key"].as_str().unwrap().to_owned();
    let notice = assert_one_notice(&notifier, &key, "Skriv in prompt her😊");
    assert_eq!((notice.width, notice.height, notice.seed), (128, 96, 0));
    assert_eq!(
        notice.bytes,
        service.store().object(&key).unwrap().bytes.len() as u64
    );
    assert_eq!(notice.model, "stub-v1");
    assert_eq!(notice.content_type, "image/png");
    // The message is what SNS subscribers get: these fields, as JSON.
    let message = serde_json::to_value(&notice).unwrap();
    assert_eq!(message["bucket"], "images-bucket");
    assert_eq!(message["key"], key.as_str());
    assert_eq!(message["prompt"], "Skriv in prompt her😊");

    // REST API.
    let notifier = MemoryNotifier::new();
    let service = notifying(&notifier);
    let answer = call_rest(&service, fixture("apigw_post_generate.json")).await;
    let key = answer.json()["key"].as_str().unwrap().to_owned();
    assert_one_notice(&notifier, &key, "a lighthouse at dusk");

    // Direct invoke.
    let notifier = MemoryNotifier::new();
    let service = notifying(&notifier);
    let output = handle(
        &service,
        LambdaEvent::new(json!({"prompt": " a red fox "}), Context::default()),
    )
    .await
    .unwrap();
    let created = serde_json::to_value(&output).unwrap();
    assert_one_notice(&notifier, created["key"].as_str().unwrap(), "a red fox");

    // SQS: one per stored image, none for the refused records.
    let notifier = MemoryNotifier::new();
    let service = notifying(&notifier);
    handle_payload(&service, fixture("sqs_batch.json"))
        .await
        .unwrap();
    let mut announced: Vec<String> = notifier.published().into_iter().map(|n| n.key).collect();
    announced.sort();
    assert_eq!(announced, service.store().keys());
    assert_eq!(announced.len(), 2);
}

#[tokio::test]
async fn nothing_is_published_without_a_topic_or_for_refused_requests() {
    // What main does: a notifier only when IMAGE_READY_TOPIC_ARN is set.
    let recorder = MemoryNotifier::new();
    let config =
        Config::from_lookup(|name| (name == "IMAGES_BUCKET").then(|| "images-bucket".into()))
            .unwrap();
    let notifier = config.image_ready_topic.as_ref().map(|_| recorder.clone());
    assert!(notifier.is_none());
    let service = service().with_notifier(notifier);
    let answer = call(&service, fixture("url_post_generate.json")).await;
    assert_eq!(answer.status, 201);
    assert!(recorder.published().is_empty());

    let notifier = MemoryNotifier::new();
    let service = notifying(&notifier);
    let answer = call(&service, post(r#"{"prompt": ""}"#)).await;
    assert_eq!(answer.status, 400);
    let failing = failing_service().with_notifier(notifier.clone());
    assert_eq!(
        call(&failing, fixture("url_post_generate.json"))
            .await
            .status,
        502
    );
    assert!(notifier.published().is_empty());
}

#[tokio::test]
async fn a_failed_publish_does_not_fail_or_retry_the_request() {
    let service = service().with_notifier(MemoryNotifier::failing("SNS endpoint unreachable"));

    let answer = call(&service, fixture("url_post_generate.json")).await;
    assert_eq!(
        answer.status, 201,
        "the image is stored, so the caller is told so"
    );
    let key = answer.json()["key"].as_str().unwrap().to_owned();
    assert!(service.store().object(&key).is_some());

    assert_eq!(
        call_rest(&service, fixture("apigw_post_generate.json"))
            .await
            .status,
        201
    );

    let output = handle_payload(&service, fixture("sqs_batch.json"))
        .await
        .unwrap();
    assert_eq!(
        failed_ids(&output),
        [
            "b8d2f0a3-4c5e-4f6a-9b7c-8d9e0f1a2b3c",
            "c9e3a1b4-5d6f-4a7b-8c8d-9e0f1a2b3c4d",
            "e1a5c3d6-7f8b-4c9d-8e0f-2a3b4c5d6e7f",
        ],
        "stored records are not redelivered (only the invalid ones are reported)"
    );

    let output = handle(
        &service,
        LambdaEvent::new(json!({"prompt": "a red fox"}), Context::default()),
    )
    .await
    .expect("a direct invoke still returns ImageCreated");
    let created = serde_json::to_value(&output).unwrap();
    assert!(created["key"].as_str().unwrap().starts_with("images/"));
    assert_eq!(created["bucket"], "images-bucket");
}
