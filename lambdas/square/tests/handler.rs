//! The handler driven with real events: direct-invoke payloads and function URL events (fixtures
//! captured in the shape LocalStack and AWS send them), covering results and every bad-input class.

use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use square::{InvalidInput, Response, handle, handle_payload};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The exact JSON text the runtime would send back.
fn wire(response: &Response) -> String {
    serde_json::to_string(response).expect("responses serialise")
}

fn direct(payload: Value) -> Result<String, InvalidInput> {
    match handle_payload(payload)? {
        response @ Response::Direct(_) => Ok(wire(&response)),
        Response::Url(other) => panic!("direct invoke answered like a function URL: {other:?}"),
    }
}

/// Status, content type, decoded JSON body and `Allow` header of a function URL answer.
struct Http {
    status: i64,
    content_type: String,
    body: Value,
    allow: Option<String>,
}

fn via_url(event: Value) -> Http {
    let response = handle_payload(event).expect("function URL events never fail the invoke");
    let Response::Url(response) = response else {
        panic!("function URL event answered like a direct invoke");
    };
    let header = |name: &str| {
        response
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert!(!response.is_base64_encoded);
    Http {
        status: response.status_code,
        content_type: header("content-type").unwrap_or_default(),
        body: serde_json::from_str(response.body.as_deref().unwrap_or("")).expect("JSON body"),
        allow: header("allow"),
    }
}

fn post_with_body(body: &str) -> Value {
    let mut event = fixture("url_post.json");
    event["body"] = json!(body);
    event
}

fn get_with_query(params: Value) -> Value {
    let mut event = fixture("url_get.json");
    event["queryStringParameters"] = params;
    event
}

#[test]
fn direct_invoke_squares_integers_exactly() {
    assert_eq!(direct(json!({"number": 6})).unwrap(), r#"{"result":36}"#);
    assert_eq!(direct(json!({"number": -6})).unwrap(), r#"{"result":36}"#);
    assert_eq!(
        direct(json!({"number": i64::MAX})).unwrap(),
        r#"{"result":85070591730234615847396907784232501249}"#
    );
    assert_eq!(
        direct(json!({"number": i64::MIN})).unwrap(),
        r#"{"result":85070591730234615865843651857942052864}"#
    );
    assert_eq!(
        direct(json!({"number": u64::MAX})).unwrap(),
        r#"{"result":340282366920938463426481119284349108225}"#
    );
}

#[test]
fn direct_invoke_squares_floats_as_floats() {
    assert_eq!(
        direct(json!({"number": 1.5})).unwrap(),
        r#"{"result":2.25}"#
    );
    assert_eq!(
        direct(json!({"number": 6.0})).unwrap(),
        r#"{"result":36.0}"#
    );
}

#[test]
fn a_payload_parsed_from_text_keeps_big_integers_exact() {
    // What the runtime does with the bytes of the invoke: parse them into a Value.
    let payload: Value = serde_json::from_str(r#"{"number": 18446744073709551615}"#).unwrap();
    assert_eq!(
        direct(payload).unwrap(),
        r#"{"result":340282366920938463426481119284349108225}"#
    );
}

#[tokio::test]
async fn bad_direct_invokes_are_invalid_input_errors() {
    let cases = [
        (json!({}), "missing \"number\""),
        (json!({"number": "six"}), "must be a JSON number"),
        (json!({"number": "NaN"}), "must be a JSON number"),
        (json!({"number": null}), "must be a JSON number"),
        (json!({"number": 1e200}), "overflows a 64-bit float"),
        (json!({"numbr": 6}), "unknown field \"numbr\""),
        (json!("6"), "must be a JSON object"),
        (json!({"rawPath": "/"}), "not a valid one"),
    ];
    for (payload, expected) in cases {
        let event = LambdaEvent::new(payload.clone(), Context::default());
        let error = handle(event).await.expect_err("bad input must fail");
        let diagnostic = Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "InvalidInput", "{payload}");
        assert!(
            diagnostic.error_message.contains(expected),
            "{payload}: {}",
            diagnostic.error_message
        );
    }
}

#[test]
fn function_url_post_squares_the_body() {
    let answer = via_url(fixture("url_post.json"));
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, "application/json");
    assert_eq!(answer.body, json!({"result": 36}));
}

#[test]
fn function_url_get_reads_the_query_string() {
    let answer = via_url(fixture("url_get.json"));
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, "application/json");
    assert_eq!(answer.body, json!({"result": 36}));
    let answer = via_url(get_with_query(json!({"number": "1.5"})));
    assert_eq!(answer.body, json!({"result": 2.25}));
}

#[test]
fn function_url_big_integers_are_exact_on_the_wire() {
    let raw_body = |event: Value| match handle_payload(event).unwrap() {
        Response::Url(response) => response.body.unwrap_or_default(),
        Response::Direct(_) => panic!("expected a function URL response"),
    };
    assert_eq!(
        raw_body(get_with_query(json!({"number": "18446744073709551615"}))),
        r#"{"result":340282366920938463426481119284349108225}"#
    );
    assert_eq!(
        raw_body(post_with_body(r#"{"number": -9223372036854775808}"#)),
        r#"{"result":85070591730234615865843651857942052864}"#
    );
}

#[test]
fn function_url_base64_body_is_decoded() {
    let answer = via_url(fixture("url_post_base64.json"));
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, json!({"result": 2.25}));
}

#[test]
fn function_url_bad_bodies_are_400_with_a_reason() {
    let cases = [
        ("", "request body is empty"),
        ("   ", "request body is empty"),
        ("{\"number\": ", "not valid JSON"),
        ("number=6", "not valid JSON"),
        ("{}", "missing \"number\""),
        ("{\"number\": \"6\"}", "must be a JSON number"),
        ("{\"number\": \"Infinity\"}", "must be a JSON number"),
        ("{\"number\": 1e200}", "overflows"),
        ("{\"number\": 1e999}", "not valid JSON"),
        ("[6]", "must be a JSON object"),
    ];
    for (body, expected) in cases {
        let answer = via_url(post_with_body(body));
        assert_eq!(answer.status, 400, "{body:?}");
        assert_eq!(answer.content_type, "application/json");
        let message = answer.body["error"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{body:?}: {message}");
    }
}

#[test]
fn function_url_missing_body_and_bad_base64_are_400() {
    let mut event = fixture("url_post.json");
    event.as_object_mut().unwrap().remove("body");
    let answer = via_url(event);
    assert_eq!(answer.status, 400);
    assert!(answer.body["error"].as_str().unwrap().contains("empty"));

    let mut event = fixture("url_post_base64.json");
    event["body"] = json!("not base64!!");
    let answer = via_url(event);
    assert_eq!(answer.status, 400);
    assert!(answer.body["error"].as_str().unwrap().contains("base64"));

    let mut event = fixture("url_post_base64.json");
    event["body"] = json!("/w==");
    let answer = via_url(event);
    assert_eq!(answer.status, 400);
    assert!(answer.body["error"].as_str().unwrap().contains("UTF-8"));
}

#[test]
fn function_url_bad_query_strings_are_400() {
    let cases = [
        (json!({}), "missing query parameter \"number\""),
        (json!(null), "missing query parameter \"number\""),
        (json!({"number": "six"}), "must be a number"),
        (json!({"number": "NaN"}), "must be finite"),
        (json!({"number": "inf"}), "must be finite"),
        (json!({"number": "1e200"}), "overflows"),
        (
            json!({"number": "6", "debug": "1"}),
            "unknown field \"debug\"",
        ),
        (json!({"number": "1,2"}), "must be a number"),
    ];
    for (params, expected) in cases {
        let answer = via_url(get_with_query(params.clone()));
        assert_eq!(answer.status, 400, "{params}");
        let message = answer.body["error"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{params}: {message}");
    }
}

#[test]
fn function_url_wrong_method_is_405_with_allow() {
    for method in ["PUT", "DELETE", "PATCH", "HEAD"] {
        let mut event = fixture("url_post.json");
        event["requestContext"]["http"]["method"] = json!(method);
        let answer = via_url(event);
        assert_eq!(answer.status, 405, "{method}");
        assert_eq!(answer.allow.as_deref(), Some("GET, POST"));
        assert!(answer.body["error"].as_str().unwrap().contains(method));
    }
}

#[test]
fn function_url_unknown_path_is_404() {
    let mut event = fixture("url_post.json");
    event["rawPath"] = json!("/square");
    event["requestContext"]["http"]["path"] = json!("/square");
    let answer = via_url(event);
    assert_eq!(answer.status, 404);
    assert!(answer.body["error"].as_str().unwrap().contains("/square"));
}
