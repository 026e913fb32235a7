//! Every rule of the API at its boundary: the limit passes, one past it fails
//! with an error naming the field, the limit and the size, and nothing is sent.

mod common;

use std::time::{Duration, Instant};

use signalwire_pubsub::{
    Access, Error, Field, TokenRequest, MAX_CHANNELS, MAX_CHANNEL_NAME_CHARS, MAX_EXTRA_CHARS,
    MAX_EXTRA_KEY_CHARS, MAX_MEMBER_ID_CHARS, MAX_REQUEST_BYTES, MAX_STATE_CHARS,
};

/// Sends `ok` (must mint) and `bad` (must fail locally on `field`, with
/// `needles` in the message) and checks that only `ok` reached the fake.
fn boundary(ok: TokenRequest, bad: TokenRequest, field: Field, needles: &[&str]) {
    let (fake, client) = common::fake_and_client();
    client
        .create_token(&ok)
        .expect("the limit itself is accepted");
    assert_eq!(fake.request_count(), 1);

    let err = client
        .create_token(&bad)
        .expect_err("one past the limit fails");
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
    assert_eq!(err.field(), Some(field), "{err}");
    let text = err.to_string();
    for needle in needles {
        assert!(text.contains(needle), "{text:?} should mention {needle:?}");
    }
    assert_eq!(fake.request_count(), 1, "nothing is sent for a bad request");
}

fn channels(count: usize) -> TokenRequest {
    (0..count).fold(TokenRequest::new(15), |r, i| r.read(format!("ch-{i}")))
}

fn state_of_chars(total: usize) -> String {
    // {"k":"..."} is 8 characters plus the value; use a 2-byte character to
    // prove characters, not bytes, are counted.
    format!("{{\"k\":\"{}\"}}", "é".repeat(total - 8))
}

#[test]
fn ttl_bounds() {
    let req = |ttl| TokenRequest::new(ttl).read("lobby");
    boundary(
        req(43_200),
        req(43_201),
        Field::Ttl,
        &["ttl", "43200", "43201"],
    );
    boundary(req(1), req(0), Field::Ttl, &["ttl", "1 to 43200", "got 0"]);
}

#[test]
fn channel_count_bounds() {
    boundary(
        channels(500),
        channels(501),
        Field::Channels,
        &["500", "501"],
    );
    boundary(
        channels(1),
        channels(0),
        Field::Channels,
        &["1 to 500", "got 0"],
    );
}

#[test]
fn channel_name_length_in_characters() {
    let req = |n| TokenRequest::new(15).read("ü".repeat(n));
    boundary(req(250), req(251), Field::Channels, &["250", "251"]);
    boundary(req(1), req(0), Field::Channels, &["got 0"]);
}

#[test]
fn channel_must_grant_something() {
    let ok = TokenRequest::new(15).channel("w-only", Access::WRITE);
    let bad = TokenRequest::new(15).channel("nothing", Access::default());
    boundary(
        ok,
        bad,
        Field::Channels,
        &["nothing", "read, write or both"],
    );
}

#[test]
fn member_id_bounds() {
    let req = |n| TokenRequest::new(15).read("lobby").member_id("ß".repeat(n));
    boundary(
        req(250),
        req(251),
        Field::MemberId,
        &["member_id", "250", "251"],
    );
    boundary(req(1), req(0), Field::MemberId, &["got 0"]);
}

#[test]
fn state_size_bound_counts_serialized_characters() {
    let req = |n| {
        TokenRequest::new(15)
            .read("lobby")
            .state_json(&state_of_chars(n))
    };
    assert_eq!(
        req(2000).state.unwrap().as_json().unwrap().chars().count(),
        2000
    );
    boundary(
        req(2000),
        req(2001),
        Field::State,
        &["state", "2000", "2001"],
    );
}

#[test]
fn state_must_be_a_json_object() {
    let ok = TokenRequest::new(15)
        .read("lobby")
        .state_json(r#"{"a":[1,2]}"#);
    for bad in ["[1,2]", "\"text\"", "{not json", "", "null"] {
        let req = TokenRequest::new(15).read("lobby").state_json(bad);
        boundary(ok.clone(), req, Field::State, &["JSON object"]);
    }
}

#[test]
fn validation_reports_without_a_client() {
    assert!(TokenRequest::new(15).read("a").validate().is_ok());
    let err = TokenRequest::new(15).validate().unwrap_err();
    assert_eq!(err.field(), Some(Field::Channels));
    assert_eq!(Field::Channels.to_string(), "channels");
    assert!(std::error::Error::source(&err).is_none());
}

#[test]
fn extra_field_value_bounds() {
    let sized = |chars: usize| format!("\"{}\"", "é".repeat(chars - 2));
    boundary(
        TokenRequest::new(15)
            .read("a")
            .extra("region", &sized(2_000)),
        TokenRequest::new(15)
            .read("a")
            .extra("region", &sized(2_001)),
        Field::Extras,
        &["\"region\"", "2000", "2001", "this crate's own limit"],
    );
}

#[test]
fn extras_are_written_after_the_known_fields_as_given() {
    let (fake, client) = common::fake_and_client();
    let request = TokenRequest::new(15)
        .read("a")
        .member_id("m")
        .extra("zone", " [1, {\"b\": null}]\n")
        .extra("a \"quoted\" key", "true")
        .extra("region", "\"eu\"")
        .extra("region", "\"us\"");
    let body = r#"{"ttl":15,"channels":{"a":{"read":true}},"member_id":"m","a \"quoted\" key":true,"region":"us","zone":[1, {"b": null}]}"#;
    assert_eq!(request.to_json().unwrap(), body);
    // The fake takes fields it does not know and records them as sent.
    client.create_token(&request).unwrap();
    assert_eq!(fake.requests()[0].body, body);
    assert_eq!(request.extras.len(), 3);
}

#[test]
fn extras_that_break_a_rule_are_refused_before_sending() {
    let (fake, client) = common::fake_and_client();
    let cases = [
        ("", "1", "non-empty name"),
        ("ttl", "60", "TokenRequest writes itself"),
        ("channels", "{}", "TokenRequest writes itself"),
        ("member_id", "\"x\"", "TokenRequest writes itself"),
        ("state", "{}", "TokenRequest writes itself"),
        ("region", "", "one JSON value"),
        ("region", "eu", "one JSON value"),
        ("region", "1 2", "one JSON value"),
        ("region", "{\"a\":1", "one JSON value"),
        ("region", "'eu'", "one JSON value"),
    ];
    for (key, value, needle) in cases {
        let request = TokenRequest::new(15).read("a").extra(key, value);
        let err = client.create_chat_token(&request).unwrap_err();
        assert_eq!(err.field(), Some(Field::Extras), "{key:?} {value:?}: {err}");
        assert!(err.to_string().contains(needle), "{key:?} {value:?}: {err}");
        assert!(request.to_json().is_err());
    }
    assert_eq!(fake.request_count(), 0);
}

#[test]
fn extra_field_name_bounds() {
    let named = |chars: usize| {
        TokenRequest::new(15)
            .read("a")
            .extra("é".repeat(chars), "1")
    };
    boundary(
        named(MAX_EXTRA_KEY_CHARS),
        named(MAX_EXTRA_KEY_CHARS + 1),
        Field::Extras,
        &["250", "251", "name"],
    );
}

/// The largest request the API's rules allow: every channel name, the
/// member id and the state at their limits, written with escapes (a
/// control character is six bytes on the wire).
fn largest_request() -> TokenRequest {
    let escaped = |i: usize, chars: usize| -> String {
        // A distinct name of `chars` control characters (none that JSON
        // escapes in two bytes).
        let digits = (0..chars).map(|d| match (i >> (d % 10)) & 1 {
            0 => '\u{1}',
            _ => '\u{2}',
        });
        format!("{:03}", i)
            .chars()
            .map(|c| char::from_u32(c as u32 - '0' as u32 + 3).unwrap())
            .chain(digits)
            .take(chars)
            .collect()
    };
    let state = format!("{{\"k\":\"{}\"}}", "\u{10348}".repeat(MAX_STATE_CHARS - 8));
    (0..MAX_CHANNELS)
        .fold(TokenRequest::new(43_200), |r, i| {
            r.read_write(escaped(i, MAX_CHANNEL_NAME_CHARS))
        })
        .member_id(escaped(999, MAX_MEMBER_ID_CHARS))
        .state_json(&state)
}

#[test]
fn the_largest_body_the_rules_allow_fits_and_extras_fill_the_rest_to_the_byte() {
    let mut request = largest_request();
    assert_eq!(request.channels.len(), MAX_CHANNELS);
    let base = request.to_json().unwrap().len();
    assert!(base > 700 * 1024 && base < MAX_REQUEST_BYTES, "{base}");
    // Extra fields up to the byte: `,"xNNN":"aaa…"` each.
    let mut left = MAX_REQUEST_BYTES - base;
    let mut i = 0;
    while left > 0 {
        let fixed = 2 + 6 + 2; // `,` `"xNNN"` `:` and the value's quotes
        let chars = (left - fixed).min(MAX_EXTRA_CHARS - 2);
        request = request.extra(format!("x{i:03}"), &format!("\"{}\"", "a".repeat(chars)));
        left -= fixed + chars;
        i += 1;
    }
    let (fake, client) = common::fake_and_client();
    let body = request.to_json().unwrap();
    assert_eq!(body.len(), MAX_REQUEST_BYTES);
    client
        .create_token(&request)
        .expect("a body at the limit is sent and minted");
    assert_eq!(fake.requests()[0].body.len(), MAX_REQUEST_BYTES);

    // One byte more is refused, naming the extras and the limit.
    let last = format!("x{:03}", i - 1);
    let longer = format!("{}a\"", request.extras[&last].trim_end_matches('"'));
    let request = request.extra(last, &longer);
    let err = client.create_token(&request).unwrap_err();
    assert_eq!(err.field(), Some(Field::Extras), "{err}");
    assert!(err.to_string().contains("1048576 bytes"), "{err}");
    assert_eq!(fake.request_count(), 1, "nothing more was sent");
}

#[test]
fn a_huge_extra_name_and_a_flood_of_extras_are_refused_quickly() {
    let (fake, client) = common::fake_and_client();
    let huge_key = TokenRequest::new(15)
        .read("a")
        .extra("k".repeat(10 << 20), "1");
    let mut flood = TokenRequest::new(15).read("a");
    flood.extras = (0..100_000)
        .map(|i| (format!("extra-{i:06}"), "1".to_owned()))
        .collect();
    for (request, needle) in [(huge_key, "10485760"), (flood, "1048576 bytes")] {
        let started = Instant::now();
        let err = client.create_token(&request).unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.field(), Some(Field::Extras), "{err}");
        assert!(err.to_string().contains(needle), "{err}");
        assert!(took < Duration::from_secs(1), "{took:?}");
    }
    assert_eq!(fake.request_count(), 0);
}
