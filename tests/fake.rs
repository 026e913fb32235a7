//! The fake on its own: it checks auth and the spec's rules independently of
//! the client, answering as the real endpoint does.

mod common;

use common::{expected_authorization, raw_post, API_TOKEN, PROJECT};
use signalwire_pubsub::fake::{FakeResponse, FakeServer};
use signalwire_pubsub::MAX_REQUEST_BYTES;

fn codes(body: &str) -> Vec<String> {
    let mut codes: Vec<String> = body
        .split("\"code\":\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect();
    codes.sort();
    codes
}

#[test]
fn checks_basic_auth() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let body = r#"{"ttl":5,"channels":{"a":{"read":true}}}"#;
    assert_eq!(
        raw_post(fake.addr(), &expected_authorization(), body).0,
        200
    );
    assert_eq!(raw_post(fake.addr(), "Basic eDp5", body).0, 401);
    assert_eq!(raw_post(fake.addr(), "Bearer x", body).0, 401);
}

#[test]
fn rejects_non_json_with_400() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let (status, body) = raw_post(fake.addr(), &expected_authorization(), "{nope");
    assert_eq!(status, 400);
    assert!(body.contains("Bad Request"));
}

#[test]
fn refuses_a_body_over_the_clients_bound_with_413() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let auth = expected_authorization();
    let at_the_bound = format!("{{\"x\":\"{}\"}}", "a".repeat(MAX_REQUEST_BYTES - 8));
    assert_eq!(at_the_bound.len(), MAX_REQUEST_BYTES);
    assert_eq!(
        raw_post(fake.addr(), &auth, &at_the_bound).0,
        422,
        "read, then judged"
    );
    let over = format!("{at_the_bound} ");
    assert_eq!(raw_post(fake.addr(), &auth, &over).0, 413);
}

#[test]
fn answers_422_with_one_item_per_broken_rule() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let auth = expected_authorization();
    let long = "n".repeat(251);
    let body = format!(
        r#"{{"ttl":0,"channels":{{"{long}":{{"read":true}},"b":{{}},"c":{{"read":"yes"}},"d":5}},"member_id":"","state":[1]}}"#
    );
    let (status, answer) = raw_post(fake.addr(), &auth, &body);
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        codes(&answer),
        [
            "channel_has_missing_properties",
            "channel_name_size_limit_exceeded",
            "invalid_parameter",
            "invalid_parameter",
            "not_a_boolean",
            "not_a_hash",
            "not_a_hash",
        ]
    );
    assert!(answer.contains(r#""type":"validation_error""#));
    assert!(answer.contains(r#""attribute":"ttl""#));

    let (status, answer) = raw_post(fake.addr(), &auth, "{}");
    assert_eq!(status, 422);
    assert_eq!(
        codes(&answer),
        ["missing_required_parameter", "missing_required_parameter"]
    );

    let many: Vec<String> = (0..501)
        .map(|i| format!(r#""c{i}":{{"write":true}}"#))
        .collect();
    let big_state = format!(r#"{{"k":"{}"}}"#, "s".repeat(2000));
    let body = format!(
        r#"{{"ttl":5,"channels":{{{}}},"state":{big_state}}}"#,
        many.join(",")
    );
    let (status, answer) = raw_post(fake.addr(), &auth, &body);
    assert_eq!(status, 422);
    assert_eq!(
        codes(&answer),
        ["channel_size_limit_exceeded", "state_size_limit_exceeded"]
    );
}

#[test]
fn records_requests_and_plays_scripted_answers() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    fake.respond_next(FakeResponse::json(503, r#"{"error":"busy"}"#).header("retry-after", "1"));
    let (status, body) = raw_post(fake.addr(), "none", "anything");
    assert_eq!((status, body.as_str()), (503, r#"{"error":"busy"}"#));
    let (status, _) = raw_post(fake.addr(), "none", "anything");
    assert_eq!(status, 401, "a scripted answer is used once");
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, "anything");
    assert_eq!(requests[0].header("AUTHORIZATION"), Some("none"));
    assert!(!format!("{:?}", requests[0]).contains("none\""));
}

#[test]
fn drop_shuts_down() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let addr = fake.addr();
    drop(fake);
    assert!(std::net::TcpStream::connect(addr).is_err());
}
