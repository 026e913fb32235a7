//! Seeded random inputs, std only: the crate's own JSON code checked against
//! miniserde, 100,000 cases each.
//!
//! - `token_bodies_match_miniserde`: `Token::from_body` (a fast path that
//!   slices `{"token":"…"}` out, else miniserde) against what
//!   `json::from_str::<Value>` makes of the same bytes.
//! - `requests_match_miniserde`: `TokenRequest::to_json` (a hand-written
//!   writer) parsed back with miniserde and compared field by field with the
//!   request, and the field `to_json` and `validate` blame for an invalid
//!   request against the API's limits.
//!
//! The seed is fixed; set `RANDOM_INPUTS_SEED` (decimal or `0x` hex) to try
//! another. A failure prints the seed, the case number and the input,
//! escaped.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::UNIX_EPOCH;

use miniserde::de::{Deserialize, Map, Visitor};
use miniserde::json::{self, Number, Object, Value};
use signalwire_pubsub::{
    Access, Field, Token, TokenRequest, MAX_CHANNELS, MAX_CHANNEL_NAME_CHARS, MAX_EXTRA_CHARS,
    MAX_MEMBER_ID_CHARS, MAX_STATE_CHARS, MAX_TTL_MINUTES,
};

const DEFAULT_SEED: u64 = 0x5167_7A1E_2026_0007;
const CASES: u64 = 100_000;

// The reasons `InvalidBody::reason` gives.
const NOT_UTF8: &str = "body is not UTF-8";
const NOT_SHAPE: &str = "body is not the JSON object {\"token\": string}";
const EMPTY: &str = "token is empty";
const NOT_VISIBLE: &str = "token holds a character that is not visible ASCII";
// The outcomes of accepted bodies: `{"token":"…"}` (the fast path's shape
// when the token needs no escape) with whitespace around, or another.
const EXACT: &str = "token, exact shape";
const OTHER: &str = "token, other shape";

// --- PRNG and the case loop ---

/// splitmix64, one generator per case so that a case replays alone.
struct Rng(u64);

impl Rng {
    fn for_case(seed: u64, target: u64, case: u64) -> Rng {
        let mut rng = Rng(seed ^ target.wrapping_mul(0xA076_1D64_78BD_642F));
        Rng(rng.next_u64() ^ case.wrapping_mul(0xE703_7ED1_A0B4_28DB))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True once in `n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={text:?} is not a number")))
}

/// Runs `check` on `CASES` generated inputs; the first failure or panic
/// stops the test with the seed, the case and the input. `check` names the
/// outcome; each of `outcomes` must come up in 1 case in 200 at least, so
/// that the generator cannot drift into testing nothing.
fn run<I: Borrow<T>, T: ?Sized>(
    target: u64,
    name: &str,
    outcomes: &[&str],
    generate: fn(&mut Rng) -> I,
    show: fn(&T) -> String,
    check: fn(&T) -> Result<&'static str, String>,
) {
    let seed = env_u64("RANDOM_INPUTS_SEED").unwrap_or(DEFAULT_SEED);
    println!("{name}: seed {seed:#x}");
    let mut seen = BTreeMap::<&str, u64>::new();
    for case in 0..CASES {
        let input = generate(&mut Rng::for_case(seed, target, case));
        let outcome = catch_unwind(AssertUnwindSafe(|| check(input.borrow())))
            .unwrap_or_else(|_| Err("panicked (message above)".into()));
        match outcome {
            Ok(outcome) => *seen.entry(outcome).or_default() += 1,
            Err(why) => panic!(
                "{name}: case {case} of seed {seed:#x} (RANDOM_INPUTS_SEED={seed:#x}) failed: \
                 {why}\ninput: {}",
                show(input.borrow())
            ),
        }
    }
    println!("{name}: outcomes {seen:?}");
    for outcome in outcomes {
        let count = seen.get(outcome).copied().unwrap_or(0);
        assert!(
            count >= CASES / 200,
            "{name}: only {count} cases of {outcome:?}"
        );
    }
}

// --- The oracle: miniserde's own parse of a top-level object ---

miniserde::make_place!(Place);

/// A top-level object's entries in order, duplicates kept, each value parsed
/// as miniserde's `Value`. (`Value::Object` keeps only the last duplicate.)
struct Entries(Vec<(String, Value)>);

impl Deserialize for Entries {
    fn begin(out: &mut Option<Self>) -> &mut dyn Visitor {
        Place::new(out)
    }
}

impl Visitor for Place<Entries> {
    fn map(&mut self) -> miniserde::Result<Box<dyn Map + '_>> {
        Ok(Box::new(EntriesBuilder(&mut self.out, Vec::new())))
    }
}

struct EntriesBuilder<'a>(&'a mut Option<Entries>, Vec<(String, Option<Value>)>);

impl Map for EntriesBuilder<'_> {
    fn key(&mut self, k: &str) -> miniserde::Result<&mut dyn Visitor> {
        self.1.push((k.to_owned(), None));
        let (_, value) = self.1.last_mut().expect("just pushed");
        Ok(Deserialize::begin(value))
    }

    fn finish(&mut self) -> miniserde::Result<()> {
        let entries: Option<Vec<_>> = self.1.drain(..).map(|(k, v)| Some((k, v?))).collect();
        *self.0 = Some(Entries(entries.ok_or(miniserde::Error)?));
        Ok(())
    }
}

/// What the body holds by miniserde: the `token` string of a top-level
/// object, last duplicate winning, or the reason the crate should give.
///
/// One difference from a `Value` object, made explicit: the crate reads the
/// body as a struct with a `String` field, as a miniserde derive would, and
/// such a field refuses a value that is not a string under any `token` key,
/// even one that a later duplicate replaces; `Value` keeps only the last.
fn oracle(body: &[u8]) -> Result<String, &'static str> {
    let text = std::str::from_utf8(body).map_err(|_| NOT_UTF8)?;
    let (value, entries) = (json::from_str(text), json::from_str(text));
    let (Ok(Value::Object(object)), Ok(Entries(entries))) = (value, entries) else {
        return Err(NOT_SHAPE);
    };
    let tokens: Vec<&Value> = entries
        .iter()
        .filter(|e| e.0 == "token")
        .map(|e| &e.1)
        .collect();
    // Verify the premise: a `Value` object keeps the last duplicate.
    assert_eq!(
        object.get("token").map(json::to_string),
        tokens.last().map(|v| json::to_string(*v)),
        "miniserde's Value object did not keep the last `token`"
    );
    if tokens.iter().any(|v| !matches!(v, Value::String(_))) {
        return Err(NOT_SHAPE);
    }
    match tokens.last() {
        Some(Value::String(s)) if s.is_empty() => Err(EMPTY),
        // A token is printed, put in headers and URLs: visible ASCII only.
        Some(Value::String(s)) if !s.bytes().all(|b| b.is_ascii_graphic()) => Err(NOT_VISIBLE),
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(NOT_SHAPE),
    }
}

// --- Token bodies ---

const JWT: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";

fn jwt(rng: &mut Rng, out: &mut Vec<u8>) {
    let max = if rng.one_in(20) { 800 } else { 40 };
    out.extend((0..rng.range(1, max)).map(|_| rng.pick(JWT)));
}

/// One of the `|`-separated pieces of `table`.
fn piece(rng: &mut Rng, table: &'static [u8]) -> &'static [u8] {
    let count = table.split(|&b| b == b'|').count();
    let k = rng.below(count);
    table.split(|&b| b == b'|').nth(k).expect("k < count")
}

/// JSON whitespace, and bytes that are not (form feed, vertical tab, NBSP,
/// BOM, NUL) though some trimmers take them for it.
const WS: &[u8] = b" |\n|\r\n|\t| \n\t\r ";
const BAD_WS: &[u8] = b"\x0c|\x0b|\xc2\xa0|\xef\xbb\xbf|\x00";
const SHORT_ESCAPES: &[u8] = b"\\\"|\\\\|\\/|\\b|\\f|\\n|\\r|\\t";
const BAD_ESCAPES: &[u8] =
    b"\\uD800|\\udc00|\\uD83Dx|\\uD83D\\u0041|\\uD83D\\n|\\x|\\u12|\\U0041|\\ |\\'";
const RAW_UNICODE: &[u8] = "é|中|😀|\u{2028}|\u{feff}|\u{10ffff}".as_bytes();
const BAD_UTF8: &[u8] = b"\xff|\xc3|\xed\xa0\x80|\xc0\xaf|\xf4\x90\x80\x80|\x80";
const SCALARS: &[u8] = b"null|true|false|0|-0|42|-7|1.5e3|2E-3|1e400|-1e999|\
    18446744073709551616|-9223372036854775809";
const BAD_SCALARS: &[u8] = b"nul|01|1.|-|+1|.5|0x1|NaN";
const NEAR_MISSES: &[u8] = b"{\"token\":\"a\"}x|{\"token\":\"a\"|{\"token\":\"a}|\
    {\"token\":a}|{token:\"a\"}|{\"token\":\"a\\\"}|{\"token\":\"a\\\\\"}|\
    {\"token\":\"a\\\"}\"}|{\"token\":\"a\\|{\"token\":\"a\"}}|{\"token\":\"a\",}|\
    {\"token\":\"a\"}{\"token\":\"b\"}|{\"token\":\"\"}|{\"token\":\"\"}\"}|\
    {\"token\":\"\"\"}|{\"token\":null}|{\"token\":[\"a\"]}|{\"token\":\"a\t\"}|\
    {\"token\":\"a\x00\"}|{\"token\":\"a\xff\"}|\xef\xbb\xbf{\"token\":\"a\"}|\
    \x0c{\"token\":\"a\"}|{\"token\":\"a\"}\x0c|{\"token\":\"a\"}\x00|\
    {\"token\" :\"a\"}|{}||\"a\"|[\"a\"]";

fn ws(rng: &mut Rng, out: &mut Vec<u8>) {
    match rng.below(40) {
        0 => out.extend_from_slice(piece(rng, BAD_WS)),
        1..=12 => out.extend_from_slice(piece(rng, WS)),
        _ => {}
    }
}

/// The inside of a string literal: mostly valid, with every kind of escape
/// and some that are not.
fn string_body(rng: &mut Rng, out: &mut Vec<u8>) {
    for _ in 0..rng.range(1, 6) {
        match rng.below(40) {
            6 => out.extend_from_slice(piece(rng, SHORT_ESCAPES)),
            7 | 8 => out.extend(format!("\\u00{:02x}", rng.below(256)).bytes()),
            9 => out.extend(format!("\\u{:04x}", rng.below(0x10000)).bytes()),
            10 => {
                let (hi, lo) = (rng.range(0xD800, 0xDBFF), rng.range(0xDC00, 0xDFFF));
                out.extend(format!("\\u{hi:04X}\\u{lo:04x}").bytes());
            }
            11 => out.extend_from_slice(piece(rng, BAD_ESCAPES)),
            12 => out.push(rng.below(0x20) as u8),
            13 => out.push(0x7f),
            14 | 15 => out.extend_from_slice(piece(rng, RAW_UNICODE)),
            16 => out.extend_from_slice(piece(rng, BAD_UTF8)),
            17 => out.push(b'"'),
            18 => out.push(b'\\'),
            _ => jwt(rng, out),
        }
    }
}

fn string(rng: &mut Rng, out: &mut Vec<u8>) {
    out.push(b'"');
    string_body(rng, out);
    out.push(b'"');
}

/// Any JSON value, sometimes malformed, sometimes holding a nested `token`.
fn value(rng: &mut Rng, depth: usize, out: &mut Vec<u8>) {
    match rng.below(if depth > 2 { 6 } else { 8 }) {
        0 if rng.one_in(4) => out.extend_from_slice(piece(rng, BAD_SCALARS)),
        0 => out.extend_from_slice(piece(rng, SCALARS)),
        1 => out.extend(rng.next_u64().to_string().bytes()),
        2..=4 => string(rng, out),
        5 => out.extend_from_slice(piece(rng, b"\"token\"|\"\"|\"a\"")),
        6 => {
            out.push(b'[');
            for i in 0..rng.below(4) {
                out.extend_from_slice(if i > 0 { b"," } else { b"" });
                value(rng, depth + 1, out);
            }
            out.push(b']');
        }
        _ => object(rng, depth + 1, out),
    }
}

/// An object whose keys are often `token`, sometimes spelt with an escape,
/// or nearly `token`; their values are mostly strings.
fn object(rng: &mut Rng, depth: usize, out: &mut Vec<u8>) {
    const KEYS: &[u8] = b"\"token\"|\"token\"|\"tok\\u0065n\"|\"Token\"|\"token \"|\"id\"|\"\"";
    punct(rng, out, b'{');
    for i in 0..rng.below(5) {
        if i > 0 {
            punct(rng, out, b',');
        }
        let key = piece(rng, KEYS);
        out.extend_from_slice(key);
        punct(rng, out, b':');
        match rng.below(6) {
            _ if !key.starts_with(b"\"tok") => value(rng, depth, out),
            0 => value(rng, depth, out),
            1 => out.extend_from_slice(b"\"\""),
            2 => string(rng, out),
            _ => plain_string(rng, out),
        }
    }
    punct(rng, out, b'}');
}

/// Writes `byte` with optional whitespace around it.
fn punct(rng: &mut Rng, out: &mut Vec<u8>, byte: u8) {
    ws(rng, out);
    out.push(byte);
    ws(rng, out);
}

fn plain_string(rng: &mut Rng, out: &mut Vec<u8>) {
    out.push(b'"');
    jwt(rng, out);
    out.push(b'"');
}

/// A body: the exact shape the fast path takes, or an object with spaces,
/// other keys and duplicates, or a near miss, or a mutation of one of these.
fn body(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    match rng.below(10) {
        0..=2 => {
            ws(rng, &mut out);
            out.extend_from_slice(b"{\"token\":");
            match rng.one_in(2) {
                true => plain_string(rng, &mut out),
                false => string(rng, &mut out),
            }
            out.push(b'}');
            ws(rng, &mut out);
        }
        3..=5 => object(rng, 0, &mut out),
        6 => value(rng, 0, &mut out),
        7 => out.extend_from_slice(piece(rng, NEAR_MISSES)),
        _ => {
            out = match rng.one_in(2) {
                true => b"{\"token\":\"eyJhbGciOiJIUzI1NiJ9.e30.c2ln\"}".to_vec(),
                false => body(rng),
            };
            for _ in 0..rng.range(1, 3) {
                let at = rng.below(out.len() + 1);
                let byte = b"\"\\{}:, \x00\x1f\x0c\x7f\x80\xc3\xffau"[rng.below(16)];
                match rng.below(3) {
                    0 => out.insert(at, byte),
                    1 if at < out.len() => out[at] = byte,
                    _ if at < out.len() => drop(out.remove(at)),
                    _ => out.push(byte),
                }
            }
        }
    }
    out
}

fn check_body(body: &[u8]) -> Result<&'static str, String> {
    let request = TokenRequest::new(15).read("lobby");
    let expected = oracle(body);
    let got = Token::from_body(body, &request, UNIX_EPOCH);
    match (&got, &expected) {
        (Ok(token), Ok(text)) if token.token() == text => {
            let exact = format!("{{\"token\":\"{text}\"}}");
            Ok(if body.trim_ascii() == exact.as_bytes() {
                EXACT
            } else {
                OTHER
            })
        }
        (Err(e), Err(reason)) if e.reason() == *reason => Ok(reason),
        _ => Err(format!(
            "the crate gives {:?}, miniserde {expected:?}",
            got.map(Token::into_token).map_err(|e| e.reason())
        )),
    }
}

fn show_body(body: &[u8]) -> String {
    format!("{} bytes: b\"{}\"", body.len(), body.escape_ascii())
}

#[test]
fn token_bodies_match_miniserde() {
    let outcomes = [EXACT, OTHER, NOT_UTF8, NOT_SHAPE, EMPTY, NOT_VISIBLE];
    run(1, "token bodies", &outcomes, body, show_body, check_body);
}

// --- Requests ---

/// A character of any kind JSON writers get wrong: quotes, backslashes, all
/// control characters, DEL and C1, non-ASCII, astral.
fn any_char(rng: &mut Rng) -> char {
    let code = match rng.below(10) {
        0..=3 => u32::from(rng.pick(b"abcXYZ019-_.:/@ ,{}")),
        4 => u32::from(rng.pick(b"\"\\")),
        5 => rng.below(0x20) as u32,
        6 => rng.range(0x7f, 0x9f) as u32,
        7 => rng.range(0xa0, 0xd7ff) as u32,
        8 => rng.range(0x1_0000, 0x10_ffff) as u32,
        _ => rng.pick(&[0xe9, 0x2028, 0x2029, 0xfeff, 0xfffd, 0xffff]),
    };
    char::from_u32(code).expect("no surrogate is picked")
}

fn text(rng: &mut Rng, lo: usize, hi: usize) -> String {
    let chars = rng.range(lo, hi);
    (0..chars).map(|_| any_char(rng)).collect()
}

/// Text of 1 to `max` characters: mostly short, sometimes `max` exactly.
fn name(rng: &mut Rng, max: usize) -> String {
    match rng.below(100) {
        0 => text(rng, max, max),
        1 => text(rng, 1, max),
        _ => text(rng, 1, max.min(12)),
    }
}

fn json_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 2 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.one_in(2)),
        2 => Value::Number(Number::U64(rng.next_u64() >> rng.below(64))),
        3 => Value::Number(Number::I64(-(rng.below(1 << 62) as i64) - 1)),
        4 => Value::Number(Number::F64(rng.next_u64() as f64 / 3.0)),
        5 => Value::String(text(rng, 0, 11)),
        6 => Value::Array(
            (0..rng.below(4))
                .map(|_| json_value(rng, depth + 1))
                .collect(),
        ),
        _ => Value::Object(json_object(rng, depth + 1)),
    }
}

fn json_object(rng: &mut Rng, depth: usize) -> Object {
    let entries = rng.below(5);
    (0..entries)
        .map(|_| (text(rng, 0, 5), json_value(rng, depth)))
        .collect()
}

/// A request and the compact state text it must carry (`Err` when the
/// state given is not a JSON object).
struct Case {
    request: TokenRequest,
    state: Option<Result<String, ()>>,
}

fn access(rng: &mut Rng) -> Access {
    rng.pick(&[Access::READ, Access::WRITE, Access::READ_WRITE])
}

/// `chars` characters, mostly `x` (cheap to make) with a random tail.
fn filler(rng: &mut Rng, chars: usize) -> String {
    let tail = text(rng, 0, chars.min(40));
    "x".repeat(chars - tail.chars().count()) + &tail
}

/// Empty, or just over `max` characters, or further over.
fn too_long(rng: &mut Rng, max: usize) -> String {
    let long = rng.range(max + 1, max + 50);
    let chars = rng.pick(&[0, max + 1, long]);
    filler(rng, chars)
}

fn case(rng: &mut Rng) -> Case {
    let ttl = rng.range(1, MAX_TTL_MINUTES as usize) as u32;
    let mut request = TokenRequest::new(rng.pick(&[1, MAX_TTL_MINUTES, ttl]));
    // Mostly a few channels, any name length; rarely many, short names.
    let (count, max) = match rng.below(2000) {
        0 => (MAX_CHANNELS, 12),
        1 => (rng.range(41, MAX_CHANNELS), 12),
        2..=40 => (rng.range(4, 40), 40),
        _ => (rng.range(1, 3), MAX_CHANNEL_NAME_CHARS),
    };
    while request.channels.len() < count {
        let name = name(rng, max);
        request = match rng.below(4) {
            0 => request.read(name),
            1 => request.write(name),
            2 => request.read_write(name),
            _ => request.channel(name, access(rng)),
        };
    }
    if rng.one_in(2) {
        request = request.member_id(name(rng, MAX_MEMBER_ID_CHARS));
    }
    let mut state = None;
    if rng.below(5) < 2 {
        let mut object = json_object(rng, 0);
        if rng.one_in(20) {
            // Near the limit, either side (the tail's escapes decide).
            let chars = rng.range(MAX_STATE_CHARS - 100, MAX_STATE_CHARS);
            object.insert("big".into(), Value::String(filler(rng, chars)));
        }
        let compact = json::to_string(&object);
        if rng.one_in(3) {
            // As text: spaced out, a duplicate key, or not an object at all.
            let source = match rng.below(4) {
                0 => compact,
                1 => compact.replace(',', " ,\n").replace(':', ": "),
                2 => format!("{{\"dup\":1,\"dup\":[2]{}", &compact[1..]),
                _ => String::from_utf8_lossy(piece(rng, b"[]|1|\"{}\"|nope|{|{\"a\":}|")).into(),
            };
            state = Some(match json::from_str::<Value>(&source) {
                Ok(Value::Object(o)) => Ok(json::to_string(&o)),
                _ => Err(()),
            });
            request = request.state_json(&source);
        } else {
            state = Some(Ok(compact));
            request = request.state(object);
        }
    }
    // Extra fields: any key (quotes, control characters, non-ASCII), any
    // JSON value with whitespace around, near the size limit now and then,
    // and now and then a key the request writes itself or text that is not
    // one JSON value.
    if rng.one_in(5) {
        for _ in 0..rng.range(1, 3) {
            let key = match rng.below(25) {
                0 => rng
                    .pick(&["ttl", "channels", "member_id", "state", ""])
                    .to_owned(),
                _ => name(rng, 30),
            };
            let value = match rng.below(25) {
                0 => String::from_utf8_lossy(piece(rng, b"|1 2|{|nope|'x'|[1,]|\"a")).into(),
                1 => {
                    let chars = rng.range(MAX_EXTRA_CHARS - 40, MAX_EXTRA_CHARS);
                    json::to_string(&filler(rng, chars))
                }
                _ => json::to_string(&json_value(rng, 0)),
            };
            let value = match rng.below(3) {
                0 => format!(" \n{value}\t"),
                _ => value,
            };
            request = request.extra(key, &value);
        }
    }
    // A third of the requests break a rule of the first three fields, or
    // more (the state breaks its own above, when it is not an object or
    // too long).
    let mut invalid = rng.one_in(3);
    while invalid {
        match rng.below(5) {
            0 => request.ttl = rng.pick(&[0, MAX_TTL_MINUTES + 1, u32::MAX]),
            1 if rng.one_in(100) => {
                while request.channels.len() <= MAX_CHANNELS {
                    let name = format!("extra-{}", rng.below(1000));
                    request.channels.insert(name, access(rng));
                }
            }
            1 => request.channels.clear(),
            2 => request = request.read(too_long(rng, MAX_CHANNEL_NAME_CHARS)),
            3 => request = request.channel(name(rng, 20), Access::default()),
            _ => request.member_id = Some(too_long(rng, MAX_MEMBER_ID_CHARS)),
        }
        invalid = rng.one_in(2);
    }
    Case { request, state }
}

/// The field the API's rules blame first: ttl, channels (their number, then
/// each name's length and rights), member_id, state.
fn expected_field(case: &Case) -> Option<Field> {
    let request = &case.request;
    let within = |chars: usize, max: usize| (1..=max).contains(&chars);
    if !within(request.ttl as usize, MAX_TTL_MINUTES as usize) {
        return Some(Field::Ttl);
    }
    let bad_channel = |(name, access): (&String, &Access)| {
        !within(name.chars().count(), MAX_CHANNEL_NAME_CHARS) || !(access.read || access.write)
    };
    if !within(request.channels.len(), MAX_CHANNELS) || request.channels.iter().any(bad_channel) {
        return Some(Field::Channels);
    }
    let member_chars = request.member_id.as_ref().map(|m| m.chars().count());
    if member_chars.is_some_and(|chars| !within(chars, MAX_MEMBER_ID_CHARS)) {
        return Some(Field::MemberId);
    }
    match &case.state {
        Some(Err(())) => return Some(Field::State),
        Some(Ok(text)) if text.chars().count() > MAX_STATE_CHARS => return Some(Field::State),
        _ => {}
    }
    let bad_extra = |(key, value): (&String, &String)| {
        let value = value.trim();
        ["", "ttl", "channels", "member_id", "state"].contains(&key.as_str())
            || value.chars().count() > MAX_EXTRA_CHARS
            || json::from_str::<Value>(value).is_err()
    };
    request
        .extras
        .iter()
        .any(bad_extra)
        .then_some(Field::Extras)
}

fn check_case(case: &Case) -> Result<&'static str, String> {
    let request = &case.request;
    let state_text = request.state.as_ref().and_then(|s| s.as_json());
    if state_text != case.state.as_ref().and_then(|s| s.as_deref().ok()) {
        return Err(format!("as_json() {state_text:?}, not {:?}", case.state));
    }
    let written = request.to_json();
    let validated = request.validate();
    let expected = expected_field(case);
    let fields = (
        written.as_ref().err().map(|e| e.field()),
        validated.as_ref().err().map(|e| e.field()),
    );
    if fields != (expected.map(Some), expected.map(Some)) {
        return Err(format!("blamed: {fields:?}, not {expected:?}"));
    }
    let Ok(out) = written else {
        return Ok(expected.map_or("?", Field::as_str));
    };
    // The body as miniserde reads it, key by key, against the request.
    let Ok(Entries(entries)) = json::from_str::<Entries>(&out) else {
        return Err(format!("miniserde refuses {out:?}"));
    };
    let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    let mut want = vec!["ttl", "channels"];
    want.extend(request.member_id.as_ref().map(|_| "member_id"));
    want.extend(state_text.map(|_| "state"));
    want.extend(request.extras.keys().map(String::as_str));
    if keys != want {
        return Err(format!("{out:?} has the keys {keys:?}, not {want:?}"));
    }
    let rights = |value: Option<&Value>, access: &Access| {
        let Some(Value::Object(rights)) = value else {
            return false;
        };
        let has = |right| matches!(rights.get(right), Some(Value::Bool(true)));
        let count = usize::from(access.read) + usize::from(access.write);
        rights.len() == count && has("read") == access.read && has("write") == access.write
    };
    // The state: its own text re-parsed, both written back by miniserde.
    let state = state_text.and_then(|text| json::from_str::<Value>(text).ok());
    let same = |key: &str, value: &Value| match (key, value) {
        ("ttl", Value::Number(Number::U64(n))) => *n == u64::from(request.ttl),
        ("channels", Value::Object(got)) => {
            let mut want = request.channels.iter();
            got.len() == request.channels.len()
                && want.all(|(name, access)| rights(got.get(name), access))
        }
        ("member_id", Value::String(m)) => request.member_id.as_ref() == Some(m),
        ("state", value) => state.as_ref().map(json::to_string) == Some(json::to_string(value)),
        // An extra: its own text re-parsed, both written back by miniserde.
        (key, value) => request.extras.get(key).is_some_and(|text| {
            let given = json::from_str::<Value>(text.trim()).map(|v| json::to_string(&v));
            given.ok() == Some(json::to_string(value))
        }),
    };
    match entries.iter().find(|(k, v)| !same(k, v)) {
        Some((key, _)) => Err(format!("`{key}` differs from the request in {out:?}")),
        None => Ok("valid"),
    }
}

fn show_case(case: &Case) -> String {
    format!("{:?}", case.request)
}

#[test]
fn requests_match_miniserde() {
    let outcomes = ["valid", "ttl", "channels", "member_id", "state", "extras"];
    run(2, "requests", &outcomes, case, show_case, check_case);
}
