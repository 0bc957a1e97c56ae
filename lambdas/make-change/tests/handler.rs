//! The handler driven with real events: an API Gateway REST proxy request and a function URL
//! request (fixtures in the shape AWS and LocalStack send them) and direct-invoke payloads,
//! covering the answers and every bad-input class.

use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use make_change::{Response, handle, handle_payload};
use serde_json::value::RawValue;
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The payload as the runtime reads it off the wire: `serde_path_to_error` over serde_json,
/// into the raw JSON the handler takes.
fn payload(text: &str) -> Box<RawValue> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).expect("valid JSON")
}

fn invoke(text: &str) -> Result<Response, make_change::InvalidAmount> {
    handle_payload(&payload(text))
}

/// Status, headers and decoded JSON body of an HTTP answer of either shape.
#[derive(Debug)]
struct Http {
    status: i64,
    content_type: Option<String>,
    allow: Option<String>,
    body: Value,
}

fn via_http(event: &Value) -> Http {
    let response = invoke(&event.to_string()).expect("HTTP events never fail the invoke");
    // The wire form, as API Gateway and the function URL read it.
    assert!(
        !matches!(response, Response::Direct(_)),
        "HTTP event answered like a direct invoke"
    );
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(wire["isBase64Encoded"], false, "{wire}");
    let header = |name: &str| wire["headers"][name].as_str().map(str::to_owned);
    Http {
        status: wire["statusCode"].as_i64().expect("statusCode"),
        content_type: header("content-type"),
        allow: header("allow"),
        body: serde_json::from_str(wire["body"].as_str().expect("a string body")).unwrap(),
    }
}

fn rest_post(body: Value) -> Value {
    let mut event = fixture("apigw_post_change.json");
    event["body"] = body;
    event
}

#[test]
fn rest_api_post_change_answers_the_coins() {
    let event = fixture("apigw_post_change.json");
    let response = invoke(&event.to_string()).unwrap();
    assert!(
        matches!(response, Response::RestApi(_)),
        "a v1 proxy event is answered in the v1 shape: {response:?}"
    );
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(wire["statusCode"], 200);
    assert_eq!(wire["headers"]["content-type"], "application/json");
    assert_eq!(
        wire["body"],
        r#"{"quarters":2,"dimes":1,"nickels":0,"pennies":3}"#
    );
}

#[test]
fn rest_api_amounts_as_strings_and_numbers() {
    let cases = [
        (r#"{"amount": "0.63"}"#, [2, 1, 0, 3]),
        (r#"{"amount": 0.63}"#, [2, 1, 0, 3]),
        (r#"{"amount": 0.630}"#, [2, 1, 0, 3]),
        (r#"{"amount": 0.29}"#, [1, 0, 0, 4]),
        (r#"{"amount": "0"}"#, [0, 0, 0, 0]),
        (r#"{"amount": 0.01}"#, [0, 0, 0, 1]),
        (r#"{"amount": 1e2}"#, [400, 0, 0, 0]),
        (r#"{"amount": "1000000.00"}"#, [4_000_000, 0, 0, 0]),
    ];
    for (body, [quarters, dimes, nickels, pennies]) in cases {
        let answer = via_http(&rest_post(json!(body)));
        assert_eq!(answer.status, 200, "{body}: {:?}", answer.body);
        assert_eq!(
            answer.body,
            json!({"quarters": quarters, "dimes": dimes, "nickels": nickels, "pennies": pennies}),
            "{body}"
        );
    }
}

#[test]
fn rest_api_bad_input_is_400_saying_what_to_send() {
    let huge = format!(r#"{{"amount": "{}"}}"#, "9".repeat(5_000));
    let cases = [
        (json!(r#"{"amount": "-0.01"}"#), "is negative"),
        (json!(r#"{"amount": -0.01}"#), "is negative"),
        (json!(r#"{"amount": "0.635"}"#), "fraction of a cent"),
        (json!(r#"{"amount": "abc"}"#), "not a decimal number"),
        (json!(r#"{"amount": "1000000.01"}"#), "more than 1000000.00"),
        (json!(r#"{"amount": 1e400}"#), "more than 1000000.00"),
        (json!(huge), "more than 1000000.00"),
        (json!(r#"{"amount": "+0.63"}"#), "\"+\" sign"),
        (json!(r#"{"amount": " 0.63 "}"#), "spaces around"),
        (json!(r#"{"amount": null}"#), "got null"),
        (json!(r#"{}"#), "missing \"amount\""),
        (
            json!(r#"{"amount": "0.63", "tip": 1}"#),
            "unknown field \"tip\"",
        ),
        (json!("amount=0.63"), "not valid JSON"),
        (json!("{\"amount\": "), "not valid JSON"),
        (json!(r#"[0.63]"#), "must be a JSON object"),
        (json!(""), "request body is empty"),
        (Value::Null, "request body is empty"),
    ];
    for (body, expected) in cases {
        let answer = via_http(&rest_post(body.clone()));
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(answer.content_type.as_deref(), Some("application/json"));
        let message = answer.body["error"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{body}: {message}");
        assert!(message.contains("\"0.63\""), "{body}: {message}");
    }
}

#[test]
fn rest_api_base64_bodies_are_decoded() {
    let mut event = fixture("apigw_post_change.json");
    // {"amount": "0.63"}
    event["body"] = json!("eyJhbW91bnQiOiAiMC42MyJ9");
    event["isBase64Encoded"] = json!(true);
    let answer = via_http(&event);
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["quarters"], 2);

    event["body"] = json!("not base64!!");
    let answer = via_http(&event);
    assert_eq!(answer.status, 400);
    assert!(answer.body["error"].as_str().unwrap().contains("base64"));

    // 0xff alone is not UTF-8.
    event["body"] = json!("/w==");
    let answer = via_http(&event);
    assert_eq!(answer.status, 400);
    assert!(answer.body["error"].as_str().unwrap().contains("UTF-8"));
}

#[test]
fn rest_api_other_methods_are_405_and_other_paths_404() {
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let mut event = fixture("apigw_post_change.json");
        event["httpMethod"] = json!(method);
        event["requestContext"]["httpMethod"] = json!(method);
        let answer = via_http(&event);
        assert_eq!(answer.status, 405, "{method}");
        assert_eq!(answer.allow.as_deref(), Some("POST"));
        let message = answer.body["error"].as_str().unwrap();
        assert!(
            message.contains(method) && message.contains("POST /change"),
            "{message}"
        );
    }

    let mut event = fixture("apigw_post_change.json");
    event["resource"] = json!("/{proxy+}");
    event["path"] = json!("/coins");
    event["pathParameters"] = json!({"proxy": "coins"});
    let answer = via_http(&event);
    assert_eq!(answer.status, 404);
    let message = answer.body["error"].as_str().unwrap();
    assert!(
        message.contains("POST /coins") && message.contains("POST /change"),
        "{message}"
    );
}

#[test]
fn rest_api_routes_on_the_path_under_the_stage() {
    // Behind a `/{proxy+}` resource the path is still `/change`.
    let mut event = fixture("apigw_post_change.json");
    event["resource"] = json!("/{proxy+}");
    event["pathParameters"] = json!({"proxy": "change"});
    assert_eq!(via_http(&event).status, 200);

    // A custom domain mapped without a base path leaves the stage in `path`.
    let mut event = fixture("apigw_post_change.json");
    event["path"] = json!("/prod/change");
    assert_eq!(via_http(&event).status, 200);
}

#[test]
fn function_url_post_change_answers_the_same() {
    let event = fixture("url_post_change.json");
    let response = invoke(&event.to_string()).unwrap();
    assert!(matches!(response, Response::FunctionUrl(_)), "{response:?}");
    let answer = via_http(&event);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    // 0.29 read as 29 cents, not 28.999… from a float.
    assert_eq!(
        answer.body,
        json!({"quarters": 1, "dimes": 0, "nickels": 0, "pennies": 4})
    );

    let mut event = fixture("url_post_change.json");
    event["body"] = json!(r#"{"amount": "0.635"}"#);
    let answer = via_http(&event);
    assert_eq!(answer.status, 400);

    let mut event = fixture("url_post_change.json");
    event["requestContext"]["http"]["method"] = json!("GET");
    assert_eq!(via_http(&event).status, 405);

    let mut event = fixture("url_post_change.json");
    event["rawPath"] = json!("/");
    event["requestContext"]["http"]["path"] = json!("/");
    assert_eq!(via_http(&event).status, 404);
}

#[tokio::test]
async fn direct_invoke_returns_the_coins() {
    let event = LambdaEvent::new(payload(r#"{"amount": "0.63"}"#), Context::default());
    let response = handle(event).await.unwrap();
    assert_eq!(
        serde_json::to_string(&response).unwrap(),
        r#"{"quarters":2,"dimes":1,"nickels":0,"pennies":3}"#
    );
    let exact = |text: &str| serde_json::to_value(invoke(text).unwrap()).unwrap();
    assert_eq!(exact(r#"{"amount": 0.29}"#)["pennies"], 4);
    assert_eq!(
        exact(r#"{"amount": 0}"#),
        json!({"quarters": 0, "dimes": 0, "nickels": 0, "pennies": 0})
    );
    assert_eq!(exact(r#"{"amount": 1000000.00}"#)["quarters"], 4_000_000);
    assert_eq!(exact(r#"{"amount": 6.3e-1}"#)["quarters"], 2);
}

#[tokio::test]
async fn bad_direct_invokes_are_invalid_amount_errors() {
    let huge = format!(r#"{{"amount": {}}}"#, "1".repeat(10_000));
    let cases = [
        (r#"{"amount": -0.01}"#.to_owned(), "is negative"),
        (r#"{"amount": 0.635}"#.to_owned(), "fraction of a cent"),
        (
            r#"{"amount": 1000000.01}"#.to_owned(),
            "more than 1000000.00",
        ),
        (r#"{"amount": 1e400}"#.to_owned(), "more than 1000000.00"),
        (huge, "more than 1000000.00"),
        (r#"{"amount": "abc"}"#.to_owned(), "not a decimal number"),
        (r#"{"amount": "+0.63"}"#.to_owned(), "\"+\" sign"),
        (r#"{}"#.to_owned(), "missing \"amount\""),
        (r#"{"amount": true}"#.to_owned(), "got a boolean"),
        (
            r#""0.63""#.to_owned(),
            "must be a JSON object, got a string",
        ),
        (
            r#"{"httpMethod": "POST", "resource": 5}"#.to_owned(),
            "API Gateway REST proxy event",
        ),
        (r#"{"rawPath": 5}"#.to_owned(), "function URL event"),
    ];
    for (text, expected) in cases {
        let event = LambdaEvent::new(payload(&text), Context::default());
        let error = handle(event).await.expect_err("bad input must fail");
        let diagnostic = Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "InvalidAmount", "{text}");
        assert!(
            diagnostic.error_message.contains(expected),
            "{text}: {}",
            diagnostic.error_message
        );
        assert!(
            diagnostic.error_message.contains("\"0.63\""),
            "{}",
            diagnostic.error_message
        );
    }
}
