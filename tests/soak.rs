//! Load and soak: twenty-five threads share one client for 5,000 calls against a
//! fake that injects faults at a fixed rate. Every call ends in a token or a
//! typed error within its deadline, and the fake's request count equals the
//! client's attempt count.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{API_TOKEN, PROJECT};
use signalwire_pubsub::fake::{FakeResponse, FakeServer};
use signalwire_pubsub::{Client, Error, TokenRequest};

const THREADS: usize = 25;
const CALLS: usize = 5_000;

#[test]
fn twenty_five_threads_five_thousand_calls_with_faults() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    fake.inject_faults(
        80,
        0x5eed,
        vec![
            FakeResponse::json(503, r#"{"error":"Service Unavailable"}"#)
                .header("retry-after", "0"),
            FakeResponse::json(429, r#"{"error":"Too Many Requests"}"#).header("retry-after", "0"),
            FakeResponse::new(502).body("<html>Bad Gateway</html>"),
            FakeResponse::json(500, r#"{"error":"Internal Server Error"}"#),
            FakeResponse::json(200, r#"{"nottoken":true}"#),
        ],
    );
    let limit = Duration::from_secs(5);
    let client = Client::builder(&fake.url(), PROJECT, API_TOKEN)
        .timeout(limit)
        .build()
        .unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (client, attempts) = (client.clone(), Arc::clone(&attempts));
            let (ok, failed) = (Arc::clone(&ok), Arc::clone(&failed));
            std::thread::spawn(move || {
                for i in 0..CALLS / THREADS {
                    let request = TokenRequest::new(5).read(format!("t{t}-{i}"));
                    let started = Instant::now();
                    let made = match client.create_token(&request) {
                        Ok(token) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            token.attempts()
                        }
                        Err(err) => {
                            assert!(
                                matches!(
                                    err,
                                    Error::Server(_)
                                        | Error::RateLimited(_)
                                        | Error::InvalidResponse { .. }
                                ),
                                "untyped or unexpected: {err:?}"
                            );
                            failed.fetch_add(1, Ordering::Relaxed);
                            err.attempts()
                        }
                    };
                    assert!(started.elapsed() <= limit, "a call outlived its deadline");
                    attempts.fetch_add(made as usize, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no panic in any caller");
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(ok + failed, CALLS);
    assert!(
        failed > 0 && ok > failed,
        "faults were injected: {ok} ok, {failed} failed"
    );
    assert_eq!(fake.request_count(), attempts.load(Ordering::Relaxed));
    assert!(fake.request_count() > CALLS, "some calls were retried");
}
