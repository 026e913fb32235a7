//! The `log` feature's records, captured: one per attempt, one per retry
//! saying why, one per outcome; none holds a secret, a token or any text a
//! server sent. The logger is process-wide, so this file holds one test.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::{assert_no_secret, hostile, API_TOKEN, PROJECT};
use log::{Level, LevelFilter, Log, Metadata, Record};
use signalwire_pubsub::fake::{FakeResponse, FakeServer};
use signalwire_pubsub::{Client, TokenRequest};

/// Every record of every target: (target, level, message).
struct Capture(Mutex<Vec<(String, Level, String)>>);

impl Log for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &Record<'_>) {
        let entry = (
            record.target().to_owned(),
            record.level(),
            record.args().to_string(),
        );
        self.0.lock().unwrap().push(entry);
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

/// The crate's records made by `f`.
fn records_of(f: impl FnOnce()) -> Vec<(Level, String)> {
    CAPTURE.0.lock().unwrap().clear();
    f();
    let records = CAPTURE.0.lock().unwrap();
    (records.iter())
        .filter(|(target, ..)| target == "signalwire_pubsub")
        .map(|(_, level, message)| (*level, message.clone()))
        .collect()
}

#[test]
fn records_say_what_happened_and_nothing_secret() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(LevelFilter::Trace);
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
    let expected = [
        (Level::Debug, format!("PubSub attempt 1: POST {url}")),
        (
            Level::Info,
            "PubSub attempt 1 failed (HTTP 503); retrying in 0ns".to_owned(),
        ),
        (Level::Debug, format!("PubSub attempt 2: POST {url}")),
    ];
    assert_eq!(records[..3], expected, "{records:#?}");
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
            .contains("failed (transport error (Connect), nothing sent); retrying in "),
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
