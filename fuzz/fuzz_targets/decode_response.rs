//! Any bytes as a 2xx response body through `Token::from_body`.
//!
//! Checks: no panic; an accepted body gives a non-empty token, the one a
//! plain JSON decode of the same body finds under the top-level `"token"`
//! key, with the expiry and member id taken from the request.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use miniserde::json::{self, Value};
use signalwire_pubsub::{Token, TokenRequest};

fuzz_target!(|body: &[u8]| {
    let request = TokenRequest::new(43_200).read("lobby").member_id("fuzz");
    let sent_at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let Ok(token) = Token::from_body(body, &request, sent_at) else {
        return;
    };
    assert!(!token.token().is_empty(), "an accepted token is not empty");
    assert_eq!(token.member_id(), Some("fuzz"));
    assert_eq!(
        token.expires_at(),
        sent_at + Duration::from_secs(43_200 * 60)
    );

    let text = std::str::from_utf8(body).expect("an accepted body is UTF-8");
    let value: Value = json::from_str(text).expect("an accepted body is JSON");
    let Value::Object(object) = value else {
        panic!("an accepted body is an object");
    };
    match object.get("token") {
        Some(Value::String(s)) => assert_eq!(s, token.token()),
        other => panic!("accepted, but the body's token is {other:?}"),
    }
});
