//! Every response path: each status maps to its variant with the status, the
//! request id and what the server said.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use signalwire_pubsub::fake::{FakeResponse, FakeServer};
use signalwire_pubsub::{Client, Error, TokenRequest, TransportKind};

fn request() -> TokenRequest {
    TokenRequest::new(15).read("lobby")
}

/// The error the client returns when the fake answers with `response`, with
/// retries off.
fn error_for(response: FakeResponse) -> Error {
    let fake = FakeServer::start(common::PROJECT, common::API_TOKEN).unwrap();
    let client = Client::builder(&fake.url(), common::PROJECT, common::API_TOKEN)
        .retries(0)
        .build()
        .unwrap();
    fake.respond_next(response);
    let err = client.create_token(&request()).expect_err("must fail");
    assert_eq!(fake.request_count(), 1);
    err
}

#[test]
fn ok_from_the_fake() {
    let (fake, client) = common::fake_and_client();
    let token = client.create_token(&request()).unwrap();
    assert_eq!(fake.tokens_issued(), vec![token.token().to_owned()]);
}

#[test]
fn any_2xx_with_a_token_is_success() {
    let (fake, client) = common::fake_and_client();
    fake.respond_next(FakeResponse::json(
        201,
        r#"{"token":"a.b.c","extra":[1,{"x":2}]}"#,
    ));
    assert_eq!(client.create_token(&request()).unwrap().token(), "a.b.c");
}

#[test]
fn wrong_credentials_are_unauthorized() {
    let fake = FakeServer::start(common::PROJECT, common::API_TOKEN).unwrap();
    let client = Client::new(&fake.url(), common::PROJECT, "wrong-token").unwrap();
    let err = client.create_token(&request()).unwrap_err();
    let Error::Unauthorized(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.status, 401);
    assert_eq!(api.message.as_deref(), Some("Unauthorized"));
    assert!(api.request_id.as_deref().is_some_and(|id| !id.is_empty()));
    assert_eq!(err.status(), Some(401));
}

#[test]
fn wrong_path_prefix_is_not_found() {
    let fake = FakeServer::start(common::PROJECT, common::API_TOKEN).unwrap();
    let space = format!("{}/prefix", fake.url());
    let client = Client::new(&space, common::PROJECT, common::API_TOKEN).unwrap();
    assert_eq!(
        client.url(),
        format!("{}/prefix/api/pubsub/tokens", fake.url())
    );
    let err = client.create_token(&request()).unwrap_err();
    assert!(
        matches!(err, Error::NotFound(ref api) if api.status == 404),
        "{err:?}"
    );
    assert_eq!(fake.requests()[0].path, "/prefix/api/pubsub/tokens");
}

#[test]
fn each_status_has_its_variant() {
    type IsVariant = fn(&Error) -> bool;
    let cases: [(u16, IsVariant); 9] = [
        (400, |e| matches!(e, Error::BadRequest(_))),
        (401, |e| matches!(e, Error::Unauthorized(_))),
        (403, |e| matches!(e, Error::Forbidden(_))),
        (404, |e| matches!(e, Error::NotFound(_))),
        (429, |e| matches!(e, Error::RateLimited(_))),
        (500, |e| matches!(e, Error::Server(_))),
        (503, |e| matches!(e, Error::Server(_))),
        (418, |e| matches!(e, Error::UnexpectedStatus(_))),
        (409, |e| matches!(e, Error::UnexpectedStatus(_))),
    ];
    for (status, is_variant) in cases {
        let err = error_for(
            FakeResponse::json(status, r#"{"error":"Some Reason"}"#)
                .header("x-request-id", format!("req-{status}")),
        );
        assert!(is_variant(&err), "{status}: {err:?}");
        let api = err.api().unwrap();
        assert_eq!(api.status, status);
        assert_eq!(
            api.request_id.as_deref(),
            Some(format!("req-{status}").as_str())
        );
        assert_eq!(api.message.as_deref(), Some("Some Reason"));
        let text = err.to_string();
        assert!(text.contains(&format!("HTTP {status}")), "{text}");
        assert!(text.contains(&format!("req-{status}")), "{text}");
    }
    let forbidden = error_for(FakeResponse::json(403, r#"{"error":"Forbidden"}"#));
    assert!(forbidden.to_string().contains("scope of this endpoint"));
}

#[test]
fn unprocessable_carries_the_error_items() {
    let body = r#"{"errors":[
        {"type":"validation_error","code":"invalid_parameter","message":"Ttl is invalid","attribute":"ttl","url":"https://x/ttl"},
        {"type":"validation_error","code":"channel_size_limit_exceeded","message":"Too many","attribute":null,"url":"https://x/ch"},
        {"type":"validation_error","code":"not_a_hash","message":"State","url":"https://x/st","extra":1}
    ]}"#;
    let err = error_for(FakeResponse::json(422, body).header("x-signalwire-request-id", "sw-9"));
    let Error::Unprocessable(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.request_id.as_deref(), Some("sw-9"));
    assert_eq!(api.errors.len(), 3);
    assert_eq!(api.errors[0].kind.as_deref(), Some("validation_error"));
    assert_eq!(api.errors[0].code.as_deref(), Some("invalid_parameter"));
    assert_eq!(api.errors[0].message.as_deref(), Some("Ttl is invalid"));
    assert_eq!(api.errors[0].attribute.as_deref(), Some("ttl"));
    assert_eq!(api.errors[0].url.as_deref(), Some("https://x/ttl"));
    assert_eq!(api.errors[1].attribute, None);
    assert_eq!(api.errors[2].attribute, None);
    assert_eq!(api.body_prefix, None);
    let text = err.to_string();
    assert!(
        text.contains("invalid_parameter (ttl): Ttl is invalid"),
        "{text}"
    );
    assert!(
        text.contains("channel_size_limit_exceeded: Too many"),
        "{text}"
    );
}

#[test]
fn a_body_that_is_not_json_is_quoted_briefly() {
    let html = format!(
        "<html><body>Bad Gateway\n{}</body></html>",
        "x".repeat(5000)
    );
    let err = error_for(
        FakeResponse::new(502)
            .header("content-type", "text/html")
            .body(html),
    );
    let api = err.api().unwrap();
    assert!(matches!(err, Error::Server(_)));
    let prefix = api.body_prefix.as_deref().unwrap();
    assert!(prefix.starts_with("<html><body>Bad Gateway "), "{prefix}");
    assert_eq!(
        prefix.chars().count(),
        201,
        "200 characters and an ellipsis"
    );
    assert!(prefix.ends_with('…'));
    assert!(api.errors.is_empty() && api.message.is_none());

    // A 422 whose body is not spec-shaped keeps its status and quotes it.
    let err = error_for(FakeResponse::json(422, r#"{"errors":"nope"}"#));
    let api = err.api().unwrap();
    assert!(matches!(err, Error::Unprocessable(_)));
    assert_eq!(api.body_prefix.as_deref(), Some(r#"{"errors":"nope"}"#));
}

#[test]
fn error_body_over_the_cap_still_reports_the_status() {
    let err = error_for(FakeResponse::new(500).body("y".repeat(70 * 1024)));
    assert!(matches!(err, Error::Server(_)), "{err:?}");
    assert!(err
        .api()
        .unwrap()
        .body_prefix
        .as_deref()
        .unwrap()
        .contains("64 KiB"));
}

#[test]
fn bad_2xx_bodies_are_invalid_responses() {
    let cases = [
        r#"{"token":"a.b.c""#.to_owned(),
        r#"{"nottoken":"x"}"#.to_owned(),
        r#"{"token":42}"#.to_owned(),
        r#"{"token":null}"#.to_owned(),
        r#"{"token":""}"#.to_owned(),
        r#"["token"]"#.to_owned(),
        String::new(),
        format!(r#"{{"token":"{}"}}"#, "t".repeat(70 * 1024)),
    ];
    for body in cases {
        let err = error_for(FakeResponse::json(200, body.clone()).header("x-request-id", "r1"));
        let Error::InvalidResponse {
            status,
            request_id,
            reason,
            ..
        } = &err
        else {
            panic!("{body:?}: {err:?}")
        };
        assert_eq!((*status, request_id.as_deref()), (200, Some("r1")));
        assert!(!reason.is_empty());
        assert_eq!(err.status(), Some(200));
    }
}

#[test]
fn a_non_utf8_2xx_body_is_an_invalid_response() {
    // FakeResponse bodies are strings, so serve these bytes by hand.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf).unwrap();
        let body = b"{\"token\":\"\xff\xfe\"}";
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
    });
    let client = Client::new(&format!("http://{addr}"), "p", "t").unwrap();
    let err = client.create_token(&request()).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidResponse { reason, .. } if reason.contains("UTF-8")),
        "{err:?}"
    );
    server.join().unwrap();
}

#[test]
fn redirects_are_not_followed() {
    let (fake, client) = common::fake_and_client();
    let elsewhere = FakeServer::start(common::PROJECT, common::API_TOKEN).unwrap();
    for status in [301, 302, 307, 308] {
        fake.respond_next(
            FakeResponse::new(status)
                .header("location", format!("{}/api/pubsub/tokens", elsewhere.url())),
        );
        let err = client.create_token(&request()).unwrap_err();
        assert!(
            matches!(&err, Error::UnexpectedStatus(api) if api.status == status),
            "{err:?}"
        );
    }
    assert_eq!(
        elsewhere.request_count(),
        0,
        "the redirect target got nothing"
    );
}

#[test]
fn refused_connection_is_a_transport_error() {
    let port = common::closed_port();
    let client = Client::new(&format!("http://127.0.0.1:{port}"), "p", "t").unwrap();
    let err = client.create_token(&request()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(std::error::Error::source(&err).is_some());
    assert!(
        err.to_string().starts_with("transport error (Connect)"),
        "{err}"
    );
}

#[test]
fn server_closing_without_answer_is_a_transport_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        use std::io::Read;
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf);
        // Dropped: closed without a response.
    });
    let client = Client::new(&format!("http://{addr}"), "p", "t").unwrap();
    let err = client.create_token(&request()).unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    server.join().unwrap();
}

#[test]
fn a_silent_server_times_out_within_the_limit() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (_stream, _) = listener.accept().unwrap();
        // Hold the connection open, silent, until the test is done (bounded).
        let _ = done_rx.recv_timeout(Duration::from_secs(10));
    });
    let limit = Duration::from_millis(300);
    let client = Client::builder(&format!("http://{addr}"), "p", "t")
        .timeout(limit)
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client.create_token(&request()).unwrap_err();
    let took = started.elapsed();
    done_tx.send(()).unwrap();
    server.join().unwrap();
    assert!(
        matches!(err, Error::Timeout { connecting: false, limit: l, attempts: 1, .. } if l == limit),
        "{err:?}"
    );
    assert!(took >= limit && took < Duration::from_secs(5), "{took:?}");
    assert!(err.to_string().contains("300ms"), "{err}");
}
