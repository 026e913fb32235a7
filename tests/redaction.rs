//! No secret (API token, `Authorization` value, minted token) in any `Debug`
//! or `Display`, for every error the client can return and every public type.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::{assert_no_secret, expected_authorization, fake_and_client, API_TOKEN, PROJECT};
use signalwire_pubsub::fake::{FakeResponse, FakeServer};
use signalwire_pubsub::{Client, Error, TokenRequest};

fn check(err: &Error, minted: &[String]) {
    assert_no_secret(&err.to_string(), minted);
    assert_no_secret(&format!("{err:?}"), minted);
    assert_no_secret(&format!("{err:#?}"), minted);
}

#[test]
fn no_secret_in_any_error() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let client = Client::builder(&fake.url(), PROJECT, API_TOKEN)
        .retries(0)
        .build()
        .unwrap();
    let good = TokenRequest::new(15).read("lobby");
    let minted = vec![client.create_token(&good).unwrap().into_token()];
    let auth = expected_authorization();
    let echo = format!("echo: {API_TOKEN} / {auth} / {}", minted[0]);

    let mut errors = vec![
        // Local errors.
        TokenRequest::new(0).read("a").validate().unwrap_err(),
        Client::new("evil.com/", PROJECT, API_TOKEN).unwrap_err(),
        Client::new("example", "bad:project", API_TOKEN).unwrap_err(),
        Client::new("example", PROJECT, "bad\ntoken-PT-sekrit-api-token-0042").unwrap_err(),
    ];
    // Every status, with bodies that echo the secrets back.
    for status in [400, 401, 403, 404, 422, 429, 500, 502, 302, 418] {
        fake.respond_next(FakeResponse::new(status).body(echo.clone()));
        errors.push(client.create_token(&good).unwrap_err());
    }
    // JSON error bodies that echo them, in the message and in 422 items.
    let b64 = auth.trim_start_matches("Basic ");
    let echo_json = format!(r#"{{"error":"bad {API_TOKEN} {b64}"}}"#);
    fake.respond_next(FakeResponse::json(401, echo_json));
    errors.push(client.create_token(&good).unwrap_err());
    let item = format!(
        r#"{{"errors":[{{"type":"t","code":"c","message":"{API_TOKEN}","attribute":"{b64}","url":"u"}}]}}"#
    );
    fake.respond_next(FakeResponse::json(422, item));
    errors.push(client.create_token(&good).unwrap_err());
    // User info in a space is never quoted.
    let userinfo = format!("https://p:{API_TOKEN}@host");
    errors.push(Client::new(&userinfo, PROJECT, API_TOKEN).unwrap_err());
    // 2xx bodies that carry a token but are not valid.
    for body in [
        format!(r#"{{"token":"{}""#, minted[0]),
        format!(r#"{{"token":"{}", "#, minted[0]),
        format!(r#"{{"tokens":"{}"}}"#, minted[0]),
    ] {
        fake.respond_next(FakeResponse::json(200, body));
        errors.push(client.create_token(&good).unwrap_err());
    }
    // Transport failures and a timeout.
    let port = common::closed_port();
    let refused = Client::new(&format!("http://127.0.0.1:{port}"), PROJECT, API_TOKEN).unwrap();
    errors.push(refused.create_token(&good).unwrap_err());
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let slow = Client::builder(
        &format!("http://{}", silent.local_addr().unwrap()),
        PROJECT,
        API_TOKEN,
    )
    .timeout(Duration::from_millis(200))
    .build()
    .unwrap();
    errors.push(slow.create_token(&good).unwrap_err());

    assert!(errors.iter().any(|e| matches!(e, Error::Timeout { .. })));
    assert!(errors.iter().any(|e| matches!(e, Error::Transport { .. })));
    assert!(errors
        .iter()
        .any(|e| matches!(e, Error::InvalidResponse { .. })));
    for err in &errors {
        check(err, &minted);
    }
    // The echoed body is still quoted, with the secrets blotted out.
    let quoted = errors[4].api().unwrap().body_prefix.clone().unwrap();
    assert!(
        quoted.starts_with("echo: [redacted] / Basic [redacted] / "),
        "{quoted}"
    );
}

#[test]
fn no_secret_in_debug_of_public_types() {
    let (fake, client) = fake_and_client();
    let token = client
        .create_token(&TokenRequest::new(15).read("lobby"))
        .unwrap();
    let minted = vec![token.token().to_owned()];
    let builder = Client::builder(&fake.url(), PROJECT, API_TOKEN).proxy("http://u:p@proxy:1");
    for text in [
        format!("{client:?}"),
        format!("{client:#?}"),
        format!("{builder:?}"),
        format!("{token:?}"),
        format!("{fake:?}"),
        format!("{:?}", fake.requests()),
    ] {
        assert_no_secret(&text, &minted);
        assert!(!text.contains("u:p@"), "{text}");
    }
    assert!(format!("{token:?}").contains("[redacted]"));
    assert!(
        format!("{client:?}").contains(PROJECT),
        "the project id is not secret"
    );
}

#[test]
fn fake_debug_is_safe_even_with_other_credentials() {
    let fake = FakeServer::start("other", "other-secret-token").unwrap();
    assert!(!format!("{fake:?}").contains("other-secret-token"));
}

#[test]
fn no_secret_in_any_fault() {
    use signalwire_pubsub::fake::{Fault, FaultServer};
    let token_echo = format!(
        "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 40\r\n\r\n{:<40}",
        API_TOKEN
    );
    let faults = [
        Fault::CloseBeforeAnswer,
        Fault::CloseMidBody,
        Fault::Stall(Duration::from_secs(2)),
        Fault::Trickle(Duration::from_millis(400)),
        Fault::HugeBody(1_000_000),
        Fault::Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{\"token\"".to_vec()),
        Fault::Raw(b"garbage\r\n\r\n".to_vec()),
        Fault::Raw(token_echo.into_bytes()),
    ];
    for fault in faults {
        let server = FaultServer::start(fault.clone()).unwrap();
        let client = Client::builder(&server.url(), PROJECT, API_TOKEN)
            .timeout(Duration::from_millis(600))
            .retries(1)
            .build()
            .unwrap();
        let err = client
            .create_token(&TokenRequest::new(5).read("a"))
            .unwrap_err();
        check(&err, &[]);
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            assert_no_secret(&cause.to_string(), &[]);
            assert_no_secret(&format!("{cause:?}"), &[]);
            source = cause.source();
        }
    }
}
