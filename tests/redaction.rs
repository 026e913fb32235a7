//! No secret (API token, `Authorization` value, minted token) in any `Debug`
//! or `Display`, for every error the client can return and every public type.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::{
    assert_no_secret, assert_printable, expected_authorization, fake_and_client, hostile,
    API_TOKEN, PROJECT,
};
use signalwire_pubsub::fake::{FakeResponse, FakeServer};
use signalwire_pubsub::{Client, Error, TokenRequest};

fn check(err: &Error, minted: &[String]) {
    assert_no_secret(&err.to_string(), minted);
    assert_no_secret(&format!("{err:?}"), minted);
    assert_no_secret(&format!("{err:#?}"), minted);
}

#[test]
fn no_secret_in_any_error() {
    let (fake, client) = common::fake_and_client_without_retries();
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
    let port = common::refused_port();
    let refused = Client::new(
        &format!("http://127.0.0.1:{}", port.port),
        PROJECT,
        API_TOKEN,
    )
    .unwrap();
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
    assert_eq!(
        quoted, "echo: [redacted] / Basic [redacted] / [redacted]",
        "the minted token, cut short or not, is redacted too"
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

#[test]
fn every_string_from_the_server_is_made_printable() {
    let (fake, client) = common::fake_and_client_without_retries();
    let request = TokenRequest::new(15).read("lobby");
    let evil = hostile();
    let json = |s: &str| miniserde::json::to_string(&s.to_owned());
    let item = format!(
        r#"{{"type":{e},"code":{e},"message":{e},"attribute":{e},"url":{e}}}"#,
        e = json(&evil)
    );
    // tiny_http sends ASCII header values only (the Unicode ones are below).
    let header: String = evil
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .collect();
    for name in ["x-request-id", "x-signalwire-request-id"] {
        let responses = [
            FakeResponse::json(422, format!(r#"{{"errors":[{item},{item}]}}"#)),
            FakeResponse::json(401, format!(r#"{{"error":{}}}"#, json(&evil))),
            FakeResponse::new(502).body(evil.clone()),
            FakeResponse::json(200, "{}"),
        ];
        for response in responses {
            fake.respond_next(response.header(name, header.clone()));
            let err = client.create_token(&request).unwrap_err();
            check(&err, &[]);
            assert_printable(&err.to_string());
            assert_printable(&format!("{err:?}"));
            let id = err.request_id().expect("a request id");
            assert_printable(id);
            assert!(id.contains("[redacted]"), "{name}: {id}");
            let Some(api) = err.api() else { continue };
            let mut texts = vec![api.message.clone(), api.body_prefix.clone()];
            for item in &api.errors {
                for field in [
                    &item.kind,
                    &item.code,
                    &item.message,
                    &item.attribute,
                    &item.url,
                ] {
                    texts.push(field.clone());
                    assert!(field.as_deref().unwrap().contains("[redacted]"));
                }
            }
            for text in texts.iter().flatten() {
                assert_printable(text);
                assert!(text.chars().count() <= 201, "capped: {text}");
                assert!(
                    text.contains("evil") && text.contains(" end"),
                    "kept: {text}"
                );
            }
        }
    }
    // Request ids with a tab and Unicode format characters, from both headers.
    use signalwire_pubsub::fake::{Fault, FaultServer};
    for name in ["x-request-id", "x-signalwire-request-id"] {
        let header: String = evil
            .chars()
            .map(|c| if c.is_ascii_control() { '\t' } else { c })
            .collect();
        let raw =
            format!("HTTP/1.1 400 Bad Request\r\n{name}: {header}\r\nContent-Length: 0\r\n\r\n");
        let server = FaultServer::start(Fault::Raw(raw.into_bytes())).unwrap();
        let client = Client::builder(&server.url(), PROJECT, API_TOKEN)
            .build()
            .unwrap();
        let err = client.create_token(&request).unwrap_err();
        let id = err.request_id().expect("a request id");
        assert_printable(id);
        assert!(
            id.contains("[redacted]") && id.contains("evil"),
            "{name}: {id}"
        );
        assert_printable(&err.to_string());
    }

    // A long echo is cut to 200 characters (and an ellipsis).
    fake.respond_next(FakeResponse::json(
        400,
        format!(r#"{{"error":"{}"}}"#, "e".repeat(500)),
    ));
    let err = client.create_token(&request).unwrap_err();
    assert_eq!(
        err.api()
            .unwrap()
            .message
            .as_deref()
            .map(|m| m.chars().count()),
        Some(201)
    );
}

#[test]
fn a_hostile_proxy_reason_phrase_is_never_printed() {
    use std::io::{Read, Write};
    // A CONNECT proxy that refuses with a hostile reason phrase.
    // httparse refuses other control characters in a reason phrase.
    let evil: String = hostile()
        .chars()
        .map(|c| if c.is_ascii_control() { '\t' } else { c })
        .collect();
    let proxy = signalwire_pubsub::fake::FaultServer::serve(move |mut stream| {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let answer = format!("HTTP/1.1 407 {evil}\r\nContent-Length: 0\r\n\r\n");
        let _ = stream.write_all(answer.as_bytes());
    })
    .unwrap();
    let client = Client::builder("example", PROJECT, API_TOKEN)
        .proxy(&format!("http://{}", proxy.addr()))
        .retries(0)
        .build()
        .unwrap();
    let result = client.create_token(&TokenRequest::new(5).read("a"));
    let (_, _, sent, err) = common::transport_error(result);
    assert!(!sent, "{err:?}");
    let mut source = std::error::Error::source(&err);
    let mut chain = String::new();
    while let Some(cause) = source {
        chain.push_str(&format!("{cause} {cause:?} "));
        source = cause.source();
    }
    // ureq 3.5 keeps only the status; whatever it keeps is printable.
    assert!(chain.contains("407"), "{chain}");
    assert_printable(&chain);
}
