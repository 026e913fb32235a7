//! The `log` feature's records, captured: one per attempt, one per retry
//! saying why, one per outcome of every call (those refused before sending
//! too); none holds a secret, a token or any text a server sent. The logger
//! is process-wide; it keeps each thread's records apart, so the tests run
//! side by side.

mod common;

use std::cell::RefCell;
use std::sync::Once;
use std::time::Duration;

use common::{assert_no_secret, hostile, API_TOKEN, PROJECT};
use log::{Level, LevelFilter, Log, Metadata, Record};
use signalwire_pubsub::fake::{FakeResponse, FakeServer};
use signalwire_pubsub::{Cancel, Client, TokenRequest};

thread_local! {
    /// The crate's records made on this thread: (level, message).
    static RECORDS: RefCell<Vec<(Level, String)>> = const { RefCell::new(Vec::new()) };
}

struct Capture;

impl Log for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &Record<'_>) {
        if record.target() == "signalwire_pubsub" {
            let entry = (record.level(), record.args().to_string());
            RECORDS.with(|r| r.borrow_mut().push(entry));
        }
    }
    fn flush(&self) {}
}

/// The crate's records made by `f` on this thread.
fn records_of(f: impl FnOnce()) -> Vec<(Level, String)> {
    static LOGGER: Once = Once::new();
    LOGGER.call_once(|| {
        log::set_logger(&Capture).unwrap();
        log::set_max_level(LevelFilter::Trace);
    });
    RECORDS.with(|r| r.borrow_mut().clear());
    f();
    RECORDS.with(|r| r.take())
}

#[test]
fn every_call_refused_before_sending_has_its_outcome_record() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let client = Client::new(&fake.url(), PROJECT, API_TOKEN).unwrap();
    let cancelled = Cancel::new();
    cancelled.cancel();
    let lobby = || TokenRequest::new(15).read("lobby");
    let refused: [(&str, Box<dyn Fn() -> _>); 4] = [
        (
            "invalid request (ttl)",
            Box::new(|| client.create_token(&TokenRequest::new(0).read("lobby"))),
        ),
        (
            "invalid request (extras)",
            Box::new(|| client.create_token(&lobby().extra("ttl", "60"))),
        ),
        (
            "invalid configuration",
            Box::new(|| {
                client
                    .call()
                    .timeout(Duration::from_millis(1))
                    .create_token(&lobby())
            }),
        ),
        (
            "cancelled",
            Box::new(|| {
                client
                    .call()
                    .cancel_on(&cancelled)
                    .create_chat_token(&lobby())
            }),
        ),
    ];
    for (what, call) in refused {
        let records = records_of(|| drop(call().unwrap_err()));
        assert_eq!(records.len(), 1, "{what}: {records:#?}");
        let (level, message) = &records[0];
        assert_eq!(*level, Level::Debug);
        assert!(
            message.contains(" call failed after 0 attempt(s) in "),
            "{message}"
        );
        assert!(message.ends_with(&format!(": {what}")), "{message}");
    }
    assert_eq!(fake.request_count(), 0);
}

#[test]
fn records_say_what_happened_and_nothing_secret() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let client = Client::builder(&fake.url(), PROJECT, API_TOKEN)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let request = TokenRequest::new(15).read("lobby");
    let evil = hostile();
    let json = miniserde::json::to_string(&evil);
    let ascii: String = evil.chars().filter(|c| c.is_ascii_graphic()).collect();

    // A 503 that echoes the secrets everywhere, retried, then a token.
    fake.respond_next(
        FakeResponse::json(503, format!(r#"{{"error":{json}}}"#))
            .header("retry-after", "0")
            .header("x-request-id", ascii.clone()),
    );
    let mut minted = Vec::new();
    let records = records_of(|| minted.push(client.create_token(&request).unwrap()));
    let mut seen = records.clone();
    let url = format!("{}/api/pubsub/tokens", fake.url());
    assert_eq!(
        records[0],
        (Level::Debug, format!("PubSub attempt 1: POST {url}"))
    );
    // `Retry-After: 0` is a floor under the backoff, which has the last word.
    assert_eq!(records[1].0, Level::Info);
    assert!(
        records[1]
            .1
            .starts_with("PubSub attempt 1 failed (HTTP 503); retrying in "),
        "{records:#?}"
    );
    assert_eq!(
        records[2],
        (Level::Debug, format!("PubSub attempt 2: POST {url}"))
    );
    assert_eq!(records.len(), 4, "{records:#?}");
    assert!(records[3]
        .1
        .starts_with("PubSub token minted after 2 attempt(s) in "));

    // A 422 that echoes them in its items: one attempt, the outcome.
    let item = format!(r#"{{"code":{json},"message":{json},"attribute":{json}}}"#);
    fake.respond_next(
        FakeResponse::json(422, format!(r#"{{"errors":[{item}]}}"#)).header("x-request-id", ascii),
    );
    let records = records_of(|| drop(client.create_chat_token(&request).unwrap_err()));
    seen.extend(records.clone());
    assert_eq!(records.len(), 2, "{records:#?}");
    assert!(records[1]
        .1
        .starts_with("Chat call failed after 1 attempt(s) in "));
    assert!(records[1].1.ends_with(": HTTP 422"), "{records:#?}");

    // A refused connection, retried with backoff, nothing sent.
    let refused = common::refused_port();
    let gone = Client::builder(
        &format!("http://127.0.0.1:{}", refused.port),
        PROJECT,
        API_TOKEN,
    )
    .retries(1)
    .build()
    .unwrap();
    let records = records_of(|| drop(gone.create_token(&request).unwrap_err()));
    seen.extend(records.clone());
    assert_eq!(records[1].0, Level::Info);
    assert!(
        records[1]
            .1
            .contains("failed (transport error: could not connect, nothing sent); retrying in "),
        "{records:#?}"
    );

    // Nothing secret, minted or sent by a server in any record of the crate.
    seen.extend(records_of(|| {
        fake.respond_next(FakeResponse::new(401).body(evil.clone()));
        drop(client.create_token(&request).unwrap_err());
    }));
    let tokens: Vec<String> = minted.iter().map(|t| t.token().to_owned()).collect();
    assert_eq!(seen.len(), 4 + 2 + 4 + 2, "{seen:#?}");
    for (_, message) in &seen {
        assert_no_secret(message, &tokens);
        assert!(
            !message.contains("evil") && !message.contains("eyJ"),
            "{message}"
        );
    }
}
