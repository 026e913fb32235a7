//! The fault matrix: each misbehaviour of the network or the server ends in
//! the right typed error within its deadline, with no panic and no hang, and
//! retries show up in the fake's own request count.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::{API_TOKEN, PROJECT};
use signalwire_pubsub::fake::{FakeResponse, FakeServer, Fault, FaultServer};
use signalwire_pubsub::{Client, Error, TokenRequest, TransportKind};

fn request() -> TokenRequest {
    TokenRequest::new(15).read("lobby")
}

fn client(url: &str, timeout: Duration, retries: u32) -> Client {
    Client::builder(url, PROJECT, API_TOKEN)
        .timeout(timeout)
        .retries(retries)
        .build()
        .unwrap()
}

/// Plays `fault` to a client with `timeout` and default retries; returns the
/// outcome, how long it took and how many requests the server read.
fn against(fault: Fault, timeout: Duration) -> (Result<String, Error>, Duration, usize) {
    let server = FaultServer::start(fault).unwrap();
    let client = client(&server.url(), timeout, 2);
    let started = Instant::now();
    let result = client.create_token(&request()).map(|t| t.into_token());
    let took = started.elapsed();
    assert!(
        took <= timeout + Duration::from_millis(500),
        "{took:?} past {timeout:?}"
    );
    (result, took, server.request_count())
}

#[test]
fn close_before_answer_is_transport_and_not_retried() {
    let (result, _, requests) = against(Fault::CloseBeforeAnswer, Duration::from_secs(5));
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::Transport { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(requests, 1, "the request was sent, so it is not sent again");
}

#[test]
fn close_mid_body_is_transport_io() {
    let (result, _, requests) = against(Fault::CloseMidBody, Duration::from_secs(5));
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: TransportKind::Io | TransportKind::Protocol,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(requests, 1);
}

#[test]
fn stall_past_the_timeout_times_out() {
    let limit = Duration::from_millis(500);
    let (result, took, requests) = against(Fault::Stall(Duration::from_secs(3)), limit);
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                connecting: false,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(took >= limit);
    assert_eq!(requests, 1);
}

#[test]
fn one_byte_a_second_times_out_at_the_overall_limit() {
    let limit = Duration::from_millis(2500);
    let (result, took, requests) = against(Fault::Trickle(Duration::from_secs(1)), limit);
    assert!(
        matches!(result, Err(Error::Timeout { attempts: 1, .. })),
        "{result:?}"
    );
    assert!(took >= limit);
    assert_eq!(requests, 1);
}

#[test]
fn a_fast_trickle_still_succeeds() {
    let (result, _, _) = against(
        Fault::Trickle(Duration::from_millis(1)),
        Duration::from_secs(5),
    );
    assert_eq!(result.unwrap(), "a.b.c");
}

#[test]
fn a_100_mb_body_is_read_no_further_than_the_cap() {
    let (result, took, _) = against(Fault::HugeBody(100_000_000), Duration::from_secs(10));
    let err = result.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidResponse { reason, .. } if reason.contains("64 KiB")),
        "{err:?}"
    );
    // Reading 100 MB would take far longer than reading 64 KiB.
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn raw_responses() {
    let raw = |bytes: &[u8]| against(Fault::Raw(bytes.to_vec()), Duration::from_secs(5)).0;

    let non_utf8 = raw(b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{\"token\":\"\xff\xfe\"}");
    assert!(
        matches!(&non_utf8, Err(Error::InvalidResponse { reason, .. }) if reason.contains("UTF-8"))
    );

    let chunked = raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{\"token\":\r\n8\r\n\"x.y.z\"}\r\n0\r\n\r\n");
    assert_eq!(chunked.unwrap(), "x.y.z");

    let big_header = format!(
        "HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 17\r\n\r\n{{\"token\":\"a.b.c\"}}",
        "h".repeat(200 * 1024)
    );
    let err = raw(big_header.as_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: TransportKind::Protocol,
                ..
            }
        ),
        "{err:?}"
    );

    let garbage = raw(b"SMTP ready\r\n\r\n").unwrap_err();
    assert!(matches!(garbage, Error::Transport { .. }), "{garbage:?}");
}

#[test]
fn bad_token_bodies_are_invalid_responses_and_not_retried() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let client = client(&fake.url(), Duration::from_secs(5), 2);
    for body in [
        r#"{"token":"a.b"#,
        "{}",
        r#"{"token":7}"#,
        r#"{"token":""}"#,
    ] {
        fake.respond_next(FakeResponse::json(200, body));
        let err = client.create_token(&request()).unwrap_err();
        assert!(
            matches!(err, Error::InvalidResponse { attempts: 1, .. }),
            "{err:?}"
        );
    }
    assert_eq!(fake.request_count(), 4);
}

#[test]
fn html_502_from_a_proxy_is_retried_then_reported() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let client = client(&fake.url(), Duration::from_secs(10), 2);
    for _ in 0..3 {
        fake.respond_next(
            FakeResponse::new(502)
                .header("content-type", "text/html")
                .header("retry-after", "0")
                .body("<html><h1>502 Bad Gateway</h1></html>"),
        );
    }
    let err = client.create_token(&request()).unwrap_err();
    let Error::Server(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((api.status, api.attempts), (502, 3));
    assert!(api
        .body_prefix
        .as_deref()
        .unwrap()
        .contains("502 Bad Gateway"));
    assert!(err.to_string().contains("after 3 attempts"), "{err}");
    assert_eq!(fake.request_count(), 3);
}

#[test]
fn what_is_retried_and_what_is_not() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let client = client(&fake.url(), Duration::from_secs(10), 2);
    for status in [429, 502, 503, 504] {
        let before = fake.request_count();
        fake.respond_next(FakeResponse::json(status, "{}").header("retry-after", "0"));
        let token = client.create_token(&request()).unwrap();
        assert_eq!(token.attempts(), 2, "{status} is retried");
        assert_eq!(fake.request_count() - before, 2);
    }
    for status in [400, 401, 403, 404, 409, 422, 500] {
        let before = fake.request_count();
        fake.respond_next(FakeResponse::json(status, "{}").header("retry-after", "0"));
        let err = client.create_token(&request()).unwrap_err();
        assert_eq!(
            (err.status(), err.attempts()),
            (Some(status), 1),
            "{status} is not retried"
        );
        assert_eq!(fake.request_count() - before, 1);
    }
    let off = Client::builder(&fake.url(), PROJECT, API_TOKEN)
        .retries(0)
        .build()
        .unwrap();
    fake.respond_next(FakeResponse::json(503, "{}"));
    assert_eq!(off.create_token(&request()).unwrap_err().attempts(), 1);
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` for `time`.
fn http_date(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let days = (secs / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (h, m, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
    format!(
        "{weekday}, {day:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
        months[month as usize - 1]
    )
}

#[test]
fn retry_after_in_both_forms() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let once = client(&fake.url(), Duration::from_secs(10), 0);

    // Parsed and reported, in seconds and as an HTTP date.
    fake.respond_next(FakeResponse::json(429, "{}").header("retry-after", "7"));
    let err = once.create_token(&request()).unwrap_err();
    assert_eq!(err.api().unwrap().retry_after, Some(Duration::from_secs(7)));
    let in_20s = http_date(SystemTime::now() + Duration::from_secs(20));
    fake.respond_next(FakeResponse::json(503, "{}").header("retry-after", in_20s));
    let wait = once
        .create_token(&request())
        .unwrap_err()
        .api()
        .unwrap()
        .retry_after
        .unwrap();
    assert!(
        wait > Duration::from_secs(17) && wait <= Duration::from_secs(20),
        "{wait:?}"
    );
    assert_eq!(
        http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777)),
        "Sun, 06 Nov 1994 08:49:37 GMT"
    );
    fake.respond_next(
        FakeResponse::json(503, "{}").header("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT"),
    );
    let past = once.create_token(&request()).unwrap_err();
    assert_eq!(past.api().unwrap().retry_after, Some(Duration::ZERO));

    // Both forms on both statuses.
    let in_5s = http_date(SystemTime::now() + Duration::from_secs(5));
    for status in [429, 503] {
        for value in ["3", in_5s.as_str()] {
            fake.respond_next(FakeResponse::json(status, "{}").header("retry-after", value));
            let wait = once
                .create_token(&request())
                .unwrap_err()
                .api()
                .unwrap()
                .retry_after;
            let wait = wait.unwrap();
            assert!(
                wait > Duration::from_secs(1) && wait <= Duration::from_secs(5),
                "{status} {value}: {wait:?}"
            );
        }
    }

    // Absurd dates are ignored, never a panic, whatever the status.
    for absurd in [
        "Sun, 06 Nov 300000000000 08:49:37 GMT",
        "Sun, 06 Nov 99999999999999999 08:49:37 GMT",
        "Mon, 01 Jan 10000 00:00:00 GMT",
        "-5",
        "soon",
    ] {
        fake.respond_next(
            FakeResponse::json(200, r#"{"token":"a.b.c"}"#).header("retry-after", absurd),
        );
        assert_eq!(once.create_token(&request()).unwrap().token(), "a.b.c");
        fake.respond_next(FakeResponse::json(503, "{}").header("retry-after", absurd));
        let err = once.create_token(&request()).unwrap_err();
        assert_eq!(err.api().unwrap().retry_after, None, "{absurd}");
    }

    // Honoured: the retry waits as asked.
    let retrying = client(&fake.url(), Duration::from_secs(10), 2);
    fake.respond_next(FakeResponse::json(503, "{}").header("retry-after", "1"));
    let started = Instant::now();
    let token = retrying.create_token(&request()).unwrap();
    assert_eq!(token.attempts(), 2);
    assert!(started.elapsed() >= Duration::from_secs(1));

    // A wait that would cross the deadline is not taken: the error comes back now.
    let short = client(&fake.url(), Duration::from_secs(2), 2);
    fake.respond_next(FakeResponse::json(429, "{}").header("retry-after", "60"));
    let started = Instant::now();
    let err = short.create_token(&request()).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        matches!(err, Error::RateLimited(ref api) if api.attempts == 1),
        "{err:?}"
    );
}

#[test]
fn retries_never_outlive_the_deadline() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    fake.inject_faults(
        1000,
        7,
        vec![FakeResponse::json(503, r#"{"error":"busy"}"#)],
    );
    let limit = Duration::from_millis(1500);
    let client = client(&fake.url(), limit, 50);
    let started = Instant::now();
    let err = client.create_token(&request()).unwrap_err();
    let took = started.elapsed();
    assert!(took <= limit + Duration::from_millis(200), "{took:?}");
    assert!(err.attempts() >= 2, "backoff retries happened: {err}");
    assert_eq!(err.attempts() as usize, fake.request_count());
}

#[test]
fn refused_connections_are_retried() {
    let port = common::closed_port();
    let client = client(
        &format!("http://127.0.0.1:{port}"),
        Duration::from_secs(10),
        3,
    );
    let err = client.create_token(&request()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: TransportKind::Connect,
                attempts: 4,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn redirects_send_nothing_to_the_other_host() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let elsewhere = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let client = client(&fake.url(), Duration::from_secs(5), 2);
    fake.respond_next(FakeResponse::new(307).header("location", elsewhere.url()));
    let err = client.create_token(&request()).unwrap_err();
    assert_eq!((err.status(), err.attempts()), (Some(307), 1));
    assert_eq!(elsewhere.request_count(), 0);
    assert!(fake.requests()[0].header("authorization").is_some());
}
