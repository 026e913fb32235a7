//! Seeded random inputs, std only: at least 100,000 generated response bodies
//! through `PubSubToken::from_body` and 100,000 generated requests through
//! `TokenRequest::validate` / `to_json`, each checked against a small
//! reference written here from the JSON grammar (RFC 8259) and the API's
//! limits, not from the crate's code.
//!
//! The seed is fixed; set `RANDOM_INPUTS_SEED` (decimal or `0x` hex) to try
//! another, and `RANDOM_INPUTS_CASE` to run one case of each target only.
//! A failure prints the seed and the case number.
//!
//! Where JSON leaves a choice, the reference pins what the crate does (on
//! miniserde): a repeated top-level `"token"` key, the last one wins, but any
//! of them that is not a string fails the body; a byte order mark is not
//! whitespace; a `\u` escape of a lone surrogate fails. Numbers of 1e307 and
//! more may be refused even under ignored keys (miniserde refuses those past
//! f64::MAX), so both outcomes are accepted there, and counted.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant, UNIX_EPOCH};

use miniserde::json::{self, Number, Value};
use signalwire_pubsub::{Access, Error, PubSubToken, TokenRequest};

const DEFAULT_SEED: u64 = 0x5167_7A1E_2026_0001;
const BODY_CASES: u64 = 100_000;
const REQUEST_CASES: u64 = 100_000;

// ---------------------------------------------------------------------------
// PRNG, seed and failure report
// ---------------------------------------------------------------------------

/// splitmix64: tiny, fast, good enough to generate test inputs.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The generator of case `case` of target `target`, so that one case can
    /// be replayed alone.
    fn for_case(seed: u64, target: u64, case: u64) -> Rng {
        let mut mix = Rng::new(seed ^ target.wrapping_mul(0xA076_1D64_78BD_642F));
        let base = mix.next_u64();
        Rng::new(base ^ case.wrapping_mul(0xE703_7ED1_A0B4_28DB))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the tiny modulo bias does not matter here).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num / den`.
    fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn choose<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => text.replace('_', "").parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name} must be a decimal or 0x-hex u64, got {text:?}")))
}

fn seed() -> u64 {
    env_u64("RANDOM_INPUTS_SEED").unwrap_or(DEFAULT_SEED)
}

/// The cases to run: all of them, or the one `RANDOM_INPUTS_CASE` names.
fn cases(count: u64) -> std::ops::Range<u64> {
    match env_u64("RANDOM_INPUTS_CASE") {
        Some(case) => case..case + 1,
        None => 0..count,
    }
}

/// Prints the seed and the case when the test fails (it panics).
struct Report {
    target: &'static str,
    seed: u64,
    case: Cell<Option<u64>>,
}

impl Report {
    fn new(target: &'static str, seed: u64) -> Report {
        println!("{target}: seed {seed:#x} (set RANDOM_INPUTS_SEED to change it)");
        Report {
            target,
            seed,
            case: Cell::new(None),
        }
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let case = match self.case.get() {
                Some(case) => format!("case {case} (RANDOM_INPUTS_CASE={case})"),
                None => "a fixed case".to_owned(),
            };
            eprintln!(
                "\n{}: FAILED at {case} with seed {:#x}; rerun with RANDOM_INPUTS_SEED={:#x}\n",
                self.target, self.seed, self.seed
            );
        }
    }
}

/// A printable, bounded rendering of an input for failure messages.
fn show(bytes: &[u8]) -> String {
    const MAX: usize = 400;
    let text = format!(
        "{:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)])
    );
    let hex: String = bytes.iter().take(MAX).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > MAX {
        format!(" … ({} bytes in all)", bytes.len())
    } else {
        String::new()
    };
    format!("{text}{more}\n  hex: {hex}{more}")
}

// ---------------------------------------------------------------------------
// Random text
// ---------------------------------------------------------------------------

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Any char, weighted toward the ones that need care in JSON and in counting
/// characters: quotes, backslashes, controls, multibyte, astral, combining.
fn any_char(rng: &mut Rng) -> char {
    match rng.below(100) {
        0..=54 => ALNUM[rng.below(ALNUM.len())] as char,
        55..=62 => *rng.pick(&['-', '_', '.', '~', ' ', '/', '+', '=', ':', '\'']),
        63..=69 => *rng.pick(&['"', '\\']),
        70..=77 => *rng.pick(&[
            '\0', '\u{1}', '\u{8}', '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1f}', '\u{7f}',
        ]),
        78..=88 => *rng.pick(&[
            'é', 'ß', 'ж', '中', '\u{a0}', '\u{301}', '\u{2028}', '\u{2029}', '\u{feff}',
            '\u{fffd}', '\u{ffff}', '\u{200d}',
        ]),
        89..=95 => *rng.pick(&['😀', '\u{10000}', '\u{10ffff}', '\u{1f468}', '\u{1f1eb}']),
        _ => char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('x'),
    }
}

fn any_string(rng: &mut Rng, chars: usize) -> String {
    (0..chars).map(|_| any_char(rng)).collect()
}

/// A length, weighted toward 0, 1 and the limit `max` give or take one;
/// past `max` about one time in 30.
fn any_len(rng: &mut Rng, max: usize) -> usize {
    match rng.below(200) {
        0..=2 => 0,
        3..=14 => 1,
        15..=149 => rng.range(2, 16),
        150..=169 => rng.range(17, max - 2),
        170..=194 => max - 1 + rng.below(3),
        _ => rng.range(max + 2, max * 3),
    }
}

/// JSON whitespace, often none.
fn ws(rng: &mut Rng) -> &'static str {
    const SPACES: &[&str] = &[" ", "\n", "\t", "\r\n", "  \t\n  "];
    if rng.chance(2, 3) {
        ""
    } else {
        rng.choose(SPACES)
    }
}

/// Writes `s` as a JSON string literal, choosing among the equivalent
/// escapes at random (`\"` or `\u0022`, raw `é` or `\u00e9`, surrogate pairs
/// for astral chars, `\/` for `/`, upper or lower case hex).
fn encode_str(rng: &mut Rng, s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        let escape = rng.chance(1, 8);
        match c {
            '"' if !escape => out.push_str("\\\""),
            '\\' if !escape => out.push_str("\\\\"),
            '/' if escape && rng.chance(1, 2) => out.push_str("\\/"),
            '\u{8}' if !escape => out.push_str("\\b"),
            '\u{c}' if !escape => out.push_str("\\f"),
            '\n' if !escape => out.push_str("\\n"),
            '\r' if !escape => out.push_str("\\r"),
            '\t' if !escape => out.push_str("\\t"),
            c if escape || (c as u32) < 0x20 || c == '"' || c == '\\' => {
                let upper = rng.chance(1, 2);
                let mut units = [0_u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    if upper {
                        out.push_str(&format!("\\u{unit:04X}"));
                    } else {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn encoded(rng: &mut Rng, s: &str) -> String {
    let mut out = String::new();
    encode_str(rng, s, &mut out);
    out
}

/// A number well inside f64's range (magnitude below 1e306).
fn plain_number(rng: &mut Rng) -> String {
    let sign = if rng.chance(1, 3) { "-" } else { "" };
    match rng.below(5) {
        0 => format!("{sign}{}", rng.next_u64()),
        1 => format!("{sign}{}", rng.below(1000)),
        2 => format!("{sign}0.{:03}", rng.below(1000)),
        3 => format!(
            "{sign}{}.{}{}{}",
            rng.range(1, 999_999),
            rng.below(1_000_000),
            rng.pick(&["e", "E", "e+", "E-", "e-"]),
            rng.below(300)
        ),
        _ => format!(
            "{sign}{}{}",
            rng.range(1, 9),
            rng.pick(&["e0", "E00", "e-0"])
        ),
    }
}

/// A number at or past the edges of f64: huge, tiny, many digits, long
/// exponents.
fn edge_number(rng: &mut Rng) -> String {
    const LIST: &[&str] = &[
        "1e308",
        "1e309",
        "1E400",
        "-1e309",
        "1.7976931348623157e308",
        "1.7976931348623158e308",
        "1.7976931348623159e308",
        "-1.7976931348623157e308",
        "9.999999999999999e307",
        "0e99999999999",
        "0.0e400",
        "-0.0e400",
        "1e-99999999999",
        "1e99999999999",
        "1e2147483647",
        "1e2147483648",
        "1e-2147483649",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "123456789012345678901234567890e280",
        "4.9e-324",
        "2.4e-324",
        "1e-400",
        "-0",
        "-0.0",
        "0.000000000000000000000000000001e330",
    ];
    match rng.below(5) {
        0 => (*rng.pick(LIST)).to_owned(),
        1 => format!(
            "{}1{}e{}",
            if rng.chance(1, 2) { "-" } else { "" },
            if rng.chance(1, 2) { ".5" } else { "" },
            rng.range(290, 420)
        ),
        2 => {
            let digits = rng.range(1, 420);
            let mut s = (*rng.pick(&["1", "9", "-1", "-9"])).to_owned();
            for _ in 1..digits {
                s.push((b'0' + rng.below(10) as u8) as char);
            }
            s
        }
        3 => format!("0.{}1e{}", "0".repeat(rng.below(400)), rng.range(0, 700)),
        _ => format!(
            "{}e{}{}",
            rng.range(1, 9),
            rng.pick(&["", "+", "-"]),
            "9".repeat(rng.range(1, 40))
        ),
    }
}

/// Any valid JSON value, as loose text; numbers stay well inside f64.
fn any_value(rng: &mut Rng, depth: usize) -> String {
    let kinds = if depth >= 3 { 6 } else { 9 };
    match rng.below(kinds) {
        0 => "null".to_owned(),
        1 => "true".to_owned(),
        2 => "false".to_owned(),
        3 => plain_number(rng),
        4 | 5 => {
            let len = rng.below(12);
            let s = any_string(rng, len);
            encoded(rng, &s)
        }
        6 => {
            let mut out = String::from("[");
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(ws(rng));
                out.push_str(&any_value(rng, depth + 1));
                out.push_str(ws(rng));
            }
            out.push(']');
            out
        }
        7 => {
            let mut out = String::from("{");
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(ws(rng));
                let key = if rng.chance(1, 4) {
                    "token".to_owned()
                } else {
                    let len = rng.below(6);
                    any_string(rng, len)
                };
                encode_str(rng, &key, &mut out);
                out.push_str(ws(rng));
                out.push(':');
                out.push_str(ws(rng));
                out.push_str(&any_value(rng, depth + 1));
            }
            out.push('}');
            out
        }
        _ => {
            let d = rng.range(1, 64);
            format!("{}{}{}", "[".repeat(d), any_value(rng, 3), "]".repeat(d))
        }
    }
}

// ---------------------------------------------------------------------------
// Reference decoder for response bodies
// ---------------------------------------------------------------------------

/// What a body must decode to, from the JSON grammar alone: the top level is
/// one object (JSON whitespace around it, nothing else), the value of every
/// top-level `"token"` key (after unescaping) is a string, the last one wins
/// and is not empty. Strings must be Unicode: a `\u` escape of a lone
/// surrogate is refused (no Rust string can hold it).
///
/// `unsure` is set when a number's magnitude is near or past f64's largest
/// (1e307 and up): a decoder may refuse such numbers even in ignored keys,
/// so both outcomes are accepted there (the run counts how often each
/// happened).
#[derive(Debug)]
struct Reference {
    token: Result<String, &'static str>,
    unsure: bool,
}

fn reference(body: &[u8]) -> Reference {
    let mut parser = RefParser {
        s: body,
        pos: 0,
        unsure: false,
    };
    let token = match std::str::from_utf8(body) {
        Ok(_) => parser.document(),
        Err(_) => Err("not UTF-8"),
    };
    Reference {
        token,
        unsure: parser.unsure,
    }
}

struct RefParser<'a> {
    s: &'a [u8],
    pos: usize,
    unsure: bool,
}

type RefResult<T> = Result<T, &'static str>;

impl RefParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek();
        self.pos += usize::from(b.is_some());
        b
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += usize::from(hit);
        hit
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn document(&mut self) -> RefResult<String> {
        self.ws();
        if !self.eat(b'{') {
            return Err("the top level is not an object");
        }
        let mut token = None;
        let mut token_not_string = false;
        self.ws();
        if !self.eat(b'}') {
            loop {
                self.ws();
                if !self.eat(b'"') {
                    return Err("expected a key");
                }
                let key = self.string()?;
                self.ws();
                if !self.eat(b':') {
                    return Err("expected ':'");
                }
                let value = self.value()?;
                if key == "token" {
                    match value {
                        Some(s) => token = Some(s),
                        None => token_not_string = true,
                    }
                }
                self.ws();
                if self.eat(b',') {
                    continue;
                }
                if self.eat(b'}') {
                    break;
                }
                return Err("expected ',' or '}'");
            }
        }
        self.ws();
        if self.pos != self.s.len() {
            return Err("text after the object");
        }
        if token_not_string {
            return Err("a token is not a string");
        }
        match token {
            None => Err("no token"),
            Some(t) if t.is_empty() => Err("empty token"),
            Some(t) => Ok(t),
        }
    }

    /// One value; a string comes back decoded, anything else as `None`.
    fn value(&mut self) -> RefResult<Option<String>> {
        self.ws();
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                self.string().map(Some)
            }
            Some(b'[' | b'{') => self.container().map(|()| None),
            _ => self.scalar().map(|()| None),
        }
    }

    /// An array or object, iteratively (any depth).
    fn container(&mut self) -> RefResult<()> {
        let mut closers: Vec<u8> = Vec::new();
        'value: loop {
            self.ws();
            match self.peek() {
                Some(b'[') => {
                    self.pos += 1;
                    self.ws();
                    if !self.eat(b']') {
                        closers.push(b']');
                        continue 'value;
                    }
                }
                Some(b'{') => {
                    self.pos += 1;
                    self.ws();
                    if !self.eat(b'}') {
                        closers.push(b'}');
                        self.key_colon()?;
                        continue 'value;
                    }
                }
                Some(b'"') => {
                    self.pos += 1;
                    self.string()?;
                }
                _ => self.scalar()?,
            }
            // After a value: close containers or go on to the next element.
            loop {
                let Some(&close) = closers.last() else {
                    return Ok(());
                };
                self.ws();
                if self.eat(b',') {
                    if close == b'}' {
                        self.key_colon()?;
                    }
                    continue 'value;
                }
                if self.eat(close) {
                    closers.pop();
                    continue;
                }
                return Err("expected ',' or a closing bracket");
            }
        }
    }

    fn key_colon(&mut self) -> RefResult<()> {
        self.ws();
        if !self.eat(b'"') {
            return Err("expected a key");
        }
        self.string()?;
        self.ws();
        if self.eat(b':') {
            Ok(())
        } else {
            Err("expected ':'")
        }
    }

    fn scalar(&mut self) -> RefResult<()> {
        for literal in ["true", "false", "null"] {
            if self.s[self.pos..].starts_with(literal.as_bytes()) {
                self.pos += literal.len();
                return Ok(());
            }
        }
        self.number()
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> RefResult<()> {
        let start = self.pos;
        self.eat(b'-');
        match self.next() {
            Some(b'0') => {}
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err("not a value"),
        }
        if self.eat(b'.') {
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err("no digit after '.'");
            }
            self.digits();
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err("no digit in the exponent");
            }
            self.digits();
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).expect("ASCII");
        if magnitude(text).is_some_and(|m| m >= 307) {
            self.unsure = true;
        }
        Ok(())
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    /// The rest of a string after its opening quote, decoded.
    fn string(&mut self) -> RefResult<String> {
        let mut out = Vec::new();
        loop {
            match self.next().ok_or("unterminated string")? {
                b'"' => return Ok(String::from_utf8(out).expect("UTF-8 in, UTF-8 out")),
                b'\\' => {
                    let c = match self.next().ok_or("unterminated escape")? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err("unknown escape"),
                    };
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                0x00..=0x1f => return Err("raw control character in a string"),
                b => out.push(b),
            }
        }
    }

    fn unicode_escape(&mut self) -> RefResult<char> {
        let unit = self.hex4()?;
        let code = match unit {
            0xD800..=0xDBFF => {
                if !(self.eat(b'\\') && self.eat(b'u')) {
                    return Err("high surrogate without a low one");
                }
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err("high surrogate without a low one");
                }
                0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err("lone low surrogate"),
            unit => unit,
        };
        Ok(char::from_u32(code).expect("not a surrogate"))
    }

    fn hex4(&mut self) -> RefResult<u32> {
        let mut n = 0;
        for _ in 0..4 {
            let digit = self
                .next()
                .and_then(|b| (b as char).to_digit(16))
                .ok_or("bad \\u escape")?;
            n = n * 16 + digit;
        }
        Ok(n)
    }
}

/// The decimal exponent of a JSON number's leading significant digit (`12.5`
/// is 1, `0.03` is -2, `1e400` is 400); `None` for zero.
fn magnitude(text: &str) -> Option<i64> {
    let text = text.trim_start_matches('-');
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, "0"),
    };
    let negative = exponent.starts_with('-');
    let exp_digits = exponent.trim_start_matches(['+', '-']);
    let exp: i64 = if exp_digits.len() > 15 {
        1_000_000_000_000_000
    } else {
        exp_digits.parse().expect("digits")
    };
    let exp = if negative { -exp } else { exp };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let first = int.bytes().chain(frac.bytes()).position(|b| b != b'0')?;
    Some(int.len() as i64 - 1 - first as i64 + exp)
}

// ---------------------------------------------------------------------------
// Response bodies
// ---------------------------------------------------------------------------

/// What the generator knows a body must give, when it knows.
type Known = Option<Result<String, ()>>;

/// A well-formed body: an object with one or more `"token"` keys (their names
/// escaped at random; the last one wins), other keys with any values, any
/// whitespace. Knows its outcome.
fn well_formed(rng: &mut Rng) -> (String, Result<String, ()>) {
    let mut members: Vec<String> = Vec::new();
    for _ in 0..rng.below(5) {
        let key = match rng.below(4) {
            0 => {
                let len = rng.below(8);
                any_string(rng, len)
            }
            _ => (*rng.pick(&[
                "id",
                "token_type",
                "tokens",
                "Token",
                "TOKEN",
                "token ",
                " token",
                "tok",
                "token\0",
                "",
                "expires_in",
                "tokén",
                "\u{feff}token",
            ]))
            .to_owned(),
        };
        let value = any_value(rng, 0);
        members.push(format!(
            "{}{}:{}{}",
            encoded(rng, &key),
            ws(rng),
            ws(rng),
            value
        ));
    }
    let tokens = if rng.chance(1, 6) { rng.range(2, 4) } else { 1 };
    let mut last = String::new();
    let mut at = 0;
    for _ in 0..tokens {
        let token = token_value(rng);
        let member = format!(
            "{}{}:{}{}",
            encoded(rng, "token"),
            ws(rng),
            ws(rng),
            encoded(rng, &token)
        );
        // Each token goes after the previous one, so the last is `last`.
        at = rng.range(at, members.len());
        members.insert(at, member);
        at += 1;
        last = token;
    }
    let mut body = format!("{}{{{}", ws(rng), ws(rng));
    for (i, member) in members.iter().enumerate() {
        if i > 0 {
            body.push_str(ws(rng));
            body.push(',');
            body.push_str(ws(rng));
        }
        body.push_str(member);
    }
    body.push_str(ws(rng));
    body.push('}');
    body.push_str(ws(rng));
    let expected = if last.is_empty() { Err(()) } else { Ok(last) };
    (body, expected)
}

/// A token's decoded text: mostly JWT-like, sometimes anything, sometimes
/// empty, sometimes long.
fn token_value(rng: &mut Rng) -> String {
    match rng.below(20) {
        0 => String::new(),
        1..=9 => {
            let part = |rng: &mut Rng, n: usize| -> String {
                (0..n)
                    .map(|_| {
                        *rng.pick(
                            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                        ) as char
                    })
                    .collect()
            };
            let (a, b, c) = (rng.range(1, 40), rng.range(1, 80), rng.range(1, 43));
            format!("{}.{}.{}", part(rng, a), part(rng, b), part(rng, c))
        }
        10 if rng.chance(1, 4) => {
            let len = rng.range(200, 2000);
            any_string(rng, len)
        }
        _ => {
            let len = rng.range(1, 24);
            any_string(rng, len)
        }
    }
}

/// Raw pieces of a JSON string's inside, valid or not, with what each
/// decodes to (`None`: the string is invalid). Pieces that end with an open
/// escape (a high surrogate, a short `\u`) are only ever put last, so that
/// no next piece can complete them.
const STRING_PIECES: &[(&[u8], Option<&str>)] = &[
    (b"abc", Some("abc")),
    (b"\\n", Some("\n")),
    (b"\\/", Some("/")),
    (b"\\\"", Some("\"")),
    (b"\\\\", Some("\\")),
    (b"\\b\\f\\r\\t", Some("\u{8}\u{c}\r\t")),
    (b"\\u0000", Some("\0")),
    (b"\\u00e9", Some("é")),
    (b"\\u00E9", Some("é")),
    (b"\\uFFFF", Some("\u{ffff}")),
    (b"\\uD83D\\uDE00", Some("😀")),
    (b"\\ud83d\\ude00", Some("😀")),
    (b"\\uDBFF\\uDFFF", Some("\u{10ffff}")),
    (b"\\uD800\\uDC00", Some("\u{10000}")),
    ("é中😀".as_bytes(), Some("é中😀")),
    (b"\x7f", Some("\u{7f}")),
    (b"'", Some("'")),
    (b"\\uD800", None),
    (b"\\uDBFF", None),
    (b"\\uDC00", None),
    (b"\\uDFFF", None),
    (b"\\uD800\\u0041", None),
    (b"\\uD800\\uD800", None),
    (b"\\uDC00\\uD800", None),
    (b"\\uD800x", None),
    (b"\\uD800\\", None),
    (b"\\uD800\\n", None),
    (b"\\u12", None),
    (b"\\u12G4", None),
    (b"\\u-123", None),
    (b"\\U0041", None),
    (b"\\x41", None),
    (b"\\'", None),
    (b"\\a", None),
    (b"\\0", None),
    (b"\\ ", None),
    (b"\t", None),
    (b"\n", None),
    (b"\x00", None),
    (b"\x1f", None),
];

/// Bytes that are not UTF-8.
const NOT_UTF8: &[&[u8]] = &[
    b"\xff",
    b"\xfe",
    b"\x80",
    b"\xbf",
    b"\xc0\xaf",
    b"\xc1\xbf",
    b"\xe0\x80\xaf",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xf4\x90\x80\x80",
    b"\xf5\x80\x80\x80",
    b"\xe4\xb8",
    b"\xf0\x9f\x98",
    b"\xc3",
];

/// Text placed around a well-formed body: JSON whitespace is fine, anything
/// else (a BOM, other Unicode spaces, NUL, junk) is not.
const WRAPPERS: &[(&str, bool)] = &[
    (" ", true),
    ("\r\n", true),
    ("\t\t", true),
    ("\u{feff}", false),
    ("\u{a0}", false),
    ("\u{2028}", false),
    ("\u{3000}", false),
    ("\u{b}", false),
    ("\u{c}", false),
    ("\0", false),
    ("x", false),
    ("{}", false),
    (",", false),
    ("//", false),
];

/// Values that make `"token"` anything but a non-empty string.
fn odd_token(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => (*rng.pick(&[
            "null",
            "true",
            "false",
            "0",
            "-1",
            "1.5",
            "[]",
            "{}",
            "[\"a\"]",
            "{\"token\":\"a\"}",
            "[[[\"a\"]]]",
            "1e999",
        ]))
        .to_owned(),
        1 => plain_number(rng),
        2 => edge_number(rng),
        _ => {
            let v = any_value(rng, 0);
            if v.starts_with('"') {
                "[]".to_owned()
            } else {
                v
            }
        }
    }
}

/// A JSON-flavoured token soup.
fn json_soup(rng: &mut Rng) -> Vec<u8> {
    const PARTS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\"",
        "\"token\"",
        "\"a\"",
        "\\",
        "\\u",
        "0",
        "1",
        "-",
        ".",
        "e",
        "true",
        "null",
        " ",
        "\n",
        "\u{feff}",
        "é",
    ];
    let mut out = Vec::new();
    for _ in 0..rng.range(0, 24) {
        out.extend_from_slice(rng.pick(PARTS).as_bytes());
    }
    out
}

fn mutate(rng: &mut Rng, body: &mut Vec<u8>) {
    const INSERTS: &[&[u8]] = &[
        b"\"",
        b"\\",
        b"{",
        b"}",
        b"[",
        b"]",
        b":",
        b",",
        b"\\u",
        b"\\uD800",
        b"\xef\xbb\xbf",
        b"\xff",
        b"\xc0\x80",
        b"\0",
        b" ",
        b"0",
        b"e",
        b"-",
        b".",
        b"\"token\":\"x\",",
        b"\x01",
    ];
    for _ in 0..rng.range(1, 4) {
        let at = rng.below(body.len() + 1);
        match rng.below(5) {
            0 if at < body.len() => body[at] ^= 1 << rng.below(8),
            1 if at < body.len() => {
                body.remove(at);
            }
            2 if at < body.len() => body[at] = rng.next_u64() as u8,
            3 => {
                let piece = rng.pick(INSERTS);
                body.splice(at..at, piece.iter().copied());
            }
            _ => {
                let end = rng.range(at, body.len());
                let copy = body[at..end].to_vec();
                body.splice(at..at, copy);
            }
        }
    }
}

/// One random body, its kind, and its outcome when the generator knows it.
fn gen_body(rng: &mut Rng) -> (&'static str, Vec<u8>, Known) {
    match rng.below(100) {
        0..=29 => {
            let (body, expected) = well_formed(rng);
            ("well-formed", body.into_bytes(), Some(expected))
        }
        30..=39 => {
            let (body, _) = well_formed(rng);
            let body = body.trim_end();
            let cut = rng.below(body.len());
            ("truncated", body.as_bytes()[..cut].to_vec(), Some(Err(())))
        }
        40..=59 => {
            let mut body = well_formed(rng).0.into_bytes();
            mutate(rng, &mut body);
            ("mutated", body, None)
        }
        60..=64 => {
            let len = rng.below(48);
            let body = (0..len).map(|_| rng.next_u64() as u8).collect();
            ("random bytes", body, None)
        }
        65..=69 => ("json soup", json_soup(rng), None),
        70..=74 => {
            let mut members = vec![format!("\"token\":{}", odd_token(rng))];
            if rng.chance(1, 2) {
                let token = format!("\"token\":{}", encoded(rng, "fine"));
                members.insert(rng.below(2), token);
            }
            let body = format!("{{{}}}", members.join(","));
            ("odd token type", body.into_bytes(), Some(Err(())))
        }
        75..=82 => {
            // A token built from raw string pieces, valid or not.
            let mut inner = Vec::new();
            let mut decoded = Some(String::new());
            for _ in 0..rng.range(1, 4) {
                let (raw, value) = *rng.pick(STRING_PIECES);
                inner.extend_from_slice(raw);
                decoded = match (decoded, value) {
                    (Some(d), Some(v)) => Some(d + v),
                    _ => None,
                };
                let open = [&b"\\uD800"[..], b"\\uDBFF", b"\\", b"\\u12"]
                    .iter()
                    .any(|end| raw.ends_with(end) && !raw.ends_with(b"\\\\"));
                if open {
                    break;
                }
            }
            let mut body = b"{\"token\":\"".to_vec();
            body.extend_from_slice(&inner);
            body.extend_from_slice(b"\"}");
            ("escapes", body, Some(decoded.ok_or(())))
        }
        83..=87 => {
            let (body, _) = well_formed(rng);
            let mut body = body.into_bytes();
            let bad = rng.pick(NOT_UTF8);
            // Inside the token if there is one, else anywhere.
            let at = match find(&body, b"token") {
                Some(i) if rng.chance(3, 4) => i + 2,
                _ => rng.below(body.len() + 1),
            };
            body.splice(at..at, bad.iter().copied());
            ("not UTF-8", body, Some(Err(())))
        }
        88..=92 => {
            let (body, expected) = well_formed(rng);
            let (text, fine) = *rng.pick(WRAPPERS);
            let body = if rng.chance(1, 2) {
                format!("{text}{body}")
            } else {
                format!("{body}{text}")
            };
            let expected = if fine { expected } else { Err(()) };
            ("wrapped", body.into_bytes(), Some(expected))
        }
        93..=97 => {
            // Numbers at f64's edges next to a fine token.
            let token = token_value(rng);
            let mut body = String::from("{");
            for _ in 0..rng.range(1, 3) {
                body.push_str(&format!("\"n\":{},", edge_number(rng)));
            }
            body.push_str(&format!("\"token\":{}", encoded(rng, &token)));
            if rng.chance(1, 2) {
                body.push_str(&format!(",\"m\":[{}]", edge_number(rng)));
            }
            body.push('}');
            ("edge numbers", body.into_bytes(), None)
        }
        _ => {
            // Deep nesting of a random depth, closed or not.
            let depth = if rng.chance(1, 10) {
                rng.range(1_000, 5_000)
            } else {
                rng.range(1, 300)
            };
            let (open, close) = *rng.pick(&[("[", "]"), ("{\"a\":", "}"), ("[{\"b\":", "}]")]);
            let closed = if rng.chance(3, 4) {
                depth
            } else {
                rng.below(depth)
            };
            let body = format!(
                "{{\"token\":\"deep\",\"x\":{}0{}}}",
                open.repeat(depth),
                close.repeat(closed)
            );
            let expected = if closed == depth {
                Ok("deep".to_owned())
            } else {
                Err(())
            };
            ("deep", body.into_bytes(), Some(expected))
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Big and deep bodies, each checked once.
fn fixed_bodies() -> Vec<(&'static str, Vec<u8>, Known)> {
    const N: usize = 100_000;
    let deep_arrays = format!(
        "{{\"token\":\"a\",\"x\":{}{}}}",
        "[".repeat(N),
        "]".repeat(N)
    );
    let deep_objects = format!(
        "{{\"x\":{}1{},\"token\":\"deep\"}}",
        "{\"a\":".repeat(N),
        "}".repeat(N)
    );
    let unbalanced = format!(
        "{{\"token\":\"a\",\"x\":{}{}}}",
        "[".repeat(N),
        "]".repeat(N - 1)
    );
    let deep_token = format!("{{\"token\":{}\"a\"{}}}", "[".repeat(N), "]".repeat(N));
    let nested_tokens = format!("{}\"a\"{}", "{\"token\":".repeat(N), "}".repeat(N));
    let big_token = "t".repeat(64 * 1024);
    let many_keys: String = (0..10_000).map(|i| format!("\"k{i}\":{i},")).collect();
    let many_tokens: String = (0..10_000)
        .map(|i| format!("\"token\":\"t{i}\","))
        .collect();
    let long_number = format!("{{\"n\":1{},\"token\":\"a\"}}", "0".repeat(N));
    let long_fraction = format!("{{\"n\":0.{}1,\"token\":\"a\"}}", "0".repeat(N));
    let long_exponent = format!("{{\"n\":1e-{},\"token\":\"a\"}}", "9".repeat(N));
    let ws = format!(
        "{}{{\"token\":\"a\"}}{}",
        " \n\t\r".repeat(N),
        " ".repeat(N)
    );
    let ok = |s: &str| Some(Ok(s.to_owned()));
    vec![
        ("100k [", "[".repeat(N).into_bytes(), Some(Err(()))),
        ("100k {", "{".repeat(N).into_bytes(), Some(Err(()))),
        ("100k ]", "]".repeat(N).into_bytes(), Some(Err(()))),
        ("100k closed [ ]", deep_arrays.into_bytes(), ok("a")),
        ("100k closed {", deep_objects.into_bytes(), ok("deep")),
        ("100k [ one ] short", unbalanced.into_bytes(), Some(Err(()))),
        ("token 100k deep", deep_token.into_bytes(), Some(Err(()))),
        (
            "100k nested token keys",
            nested_tokens.into_bytes(),
            Some(Err(())),
        ),
        (
            "64 KiB token",
            format!("{{\"token\":\"{big_token}\"}}").into_bytes(),
            Some(Ok(big_token)),
        ),
        (
            "10k keys",
            format!("{{{many_keys}\"token\":\"a\"}}").into_bytes(),
            ok("a"),
        ),
        (
            "10k tokens",
            format!("{{{many_tokens}\"token\":\"last\"}}").into_bytes(),
            ok("last"),
        ),
        ("100k-digit number", long_number.into_bytes(), None),
        ("100k-digit fraction", long_fraction.into_bytes(), ok("a")),
        ("100k-digit exponent", long_exponent.into_bytes(), ok("a")),
        ("400k whitespace", ws.into_bytes(), ok("a")),
        ("empty", Vec::new(), Some(Err(()))),
        (
            "BOM",
            b"\xef\xbb\xbf{\"token\":\"a\"}".to_vec(),
            Some(Err(())),
        ),
        ("UTF-16", b"\xff\xfe{\0\"\0}\0".to_vec(), Some(Err(()))),
        (
            "duplicate, last wins",
            b"{\"token\":\"first\",\"token\":\"second\"}".to_vec(),
            ok("second"),
        ),
        (
            "duplicate, last empty",
            b"{\"token\":\"first\",\"token\":\"\"}".to_vec(),
            Some(Err(())),
        ),
        (
            "duplicate, last null",
            b"{\"token\":\"first\",\"token\":null}".to_vec(),
            Some(Err(())),
        ),
        (
            "duplicate, first null",
            b"{\"token\":null,\"token\":\"second\"}".to_vec(),
            Some(Err(())),
        ),
        ("escaped key", b"{\"\\u0074oken\":\"a\"}".to_vec(), ok("a")),
        ("NUL token", b"{\"token\":\"\\u0000\"}".to_vec(), ok("\0")),
    ]
}

/// Outcome counts per kind: Ok, Err, and (of the unsure) Ok, Err.
type Stats = BTreeMap<&'static str, [usize; 4]>;

fn check_body(rng: &mut Rng, kind: &'static str, body: &[u8], known: Known, stats: &mut Stats) {
    let reference = reference(body);
    if let Some(known) = &known {
        // The generator and the reference must agree first.
        let agree = match (known, &reference.token) {
            (Ok(a), Ok(b)) => a == b,
            (Err(()), Err(_)) => true,
            _ => false,
        };
        assert!(
            agree && (known.is_err() || !reference.unsure),
            "[{kind}] the test's reference says {reference:?}, the generator {known:?}, for\n  {}",
            show(body)
        );
    }

    let ttl = match rng.below(4) {
        0 => u32::MAX,
        1 => 0,
        _ => rng.range(1, 43_200) as u32,
    };
    let mut request = TokenRequest::new(ttl).read("lobby");
    if rng.chance(1, 2) {
        let len = rng.range(1, 12);
        request = request.member_id(any_string(rng, len));
    }
    // Mostly a realistic send time; sometimes one so close to the end of
    // `SystemTime` that adding the ttl overflows: then the body must be
    // refused, not panic.
    let secs = if rng.chance(1, 100) {
        i64::MAX as u64 - rng.next_u64() % (u64::from(u32::MAX) * 60)
    } else {
        rng.next_u64() % 5_000_000_000
    };
    let sent_at = UNIX_EPOCH + Duration::from_secs(secs);
    let expiry = sent_at.checked_add(Duration::from_secs(u64::from(ttl) * 60));
    let mut reference = reference;
    if expiry.is_none() {
        reference.token = Err("the expiry is past the end of SystemTime");
    }

    let decoded = catch_unwind(AssertUnwindSafe(|| {
        PubSubToken::from_body(body, &request, sent_at)
    }))
    .unwrap_or_else(|_| {
        panic!(
            "[{kind}] from_body panicked (ttl {ttl}, sent_at UNIX_EPOCH + {secs} s) on\n  {}",
            show(body)
        )
    });

    let counts = stats.entry(kind).or_default();
    match (&decoded, &reference.token) {
        (Ok(token), Ok(expected)) => {
            assert!(!token.token().is_empty(), "[{kind}] empty token");
            assert_eq!(
                token.token(),
                expected,
                "[{kind}] wrong token for\n  {}",
                show(body)
            );
            assert_eq!(token.member_id(), request.member_id.as_deref());
            assert_eq!(Some(token.expires_at()), expiry);
            let in_member_id = request
                .member_id
                .as_deref()
                .is_some_and(|m| m.contains(token.token()));
            if token.token().len() >= 12 && !in_member_id {
                let debug = format!("{token:?}");
                assert!(
                    !debug.contains(token.token()),
                    "[{kind}] Debug shows the token: {debug}"
                );
            }
            assert_eq!(token.clone().into_token(), *expected);
            counts[0] += 1;
            counts[2] += usize::from(reference.unsure);
        }
        (Ok(token), Err(why)) => panic!(
            "[{kind}] from_body accepted a body that must fail ({why}), giving token {:?}:\n  {}",
            token.token(),
            show(body)
        ),
        (Err(reason), Ok(expected)) => {
            assert!(
                reference.unsure,
                "[{kind}] from_body refused ({reason}) a body whose token is {expected:?}:\n  {}",
                show(body)
            );
            counts[1] += 1;
            counts[3] += 1;
        }
        (Err(reason), Err(_)) => {
            assert!(!reason.is_empty());
            counts[1] += 1;
        }
    }
}

#[test]
fn response_bodies_decode_like_the_reference() {
    let seed = seed();
    let report = Report::new("response_bodies", seed);
    let started = Instant::now();
    let mut stats = Stats::new();
    let mut calls = 0_u64;

    if std::env::var_os("RANDOM_INPUTS_CASE").is_none() {
        let mut rng = Rng::for_case(seed, 0, 0);
        for (kind, body, known) in fixed_bodies() {
            check_body(&mut rng, kind, &body, known, &mut stats);
            calls += 1;
        }
    }
    for case in cases(BODY_CASES) {
        report.case.set(Some(case));
        let mut rng = Rng::for_case(seed, 1, case);
        let (kind, body, known) = gen_body(&mut rng);
        check_body(&mut rng, kind, &body, known, &mut stats);
        calls += 1;
    }
    report.case.set(None);

    println!(
        "response_bodies: {calls} bodies in {:.2?}",
        started.elapsed()
    );
    for (kind, [ok, err, unsure_ok, unsure_err]) in &stats {
        println!("  {kind:<24} Ok {ok:>6}  Err {err:>6}  (near f64::MAX: Ok {unsure_ok}, Err {unsure_err})");
    }
    if std::env::var_os("RANDOM_INPUTS_CASE").is_none() {
        assert!(calls >= 100_000);
    }
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// A JSON value as the test builds it, with the text it is written as.
#[derive(Clone, Debug)]
enum J {
    Null,
    Bool(bool),
    U64(u64),
    /// A negative integer (or `-0`, which decodes as a signed 0).
    I64(i64, String),
    /// A float written as `literal`; exactly representable steps only.
    F64(f64, String),
    Str(String),
    Arr(Vec<J>),
    /// Members in the order written; a repeated key: the last one counts.
    Obj(Vec<(String, J)>),
}

impl J {
    /// The members that count: sorted by key, the last of a repeated key.
    fn members(members: &[(String, J)]) -> BTreeMap<&str, &J> {
        members.iter().map(|(k, v)| (k.as_str(), v)).collect()
    }
}

fn gen_j(rng: &mut Rng, depth: usize) -> J {
    let kinds = if depth >= 3 { 7 } else { 9 };
    match rng.below(kinds) {
        0 => J::Null,
        1 => J::Bool(rng.chance(1, 2)),
        2 => J::U64(match rng.below(3) {
            0 => rng.next_u64(),
            1 => u64::MAX,
            _ => rng.below(1000) as u64,
        }),
        3 => {
            let n = match rng.below(4) {
                0 => i64::MIN,
                1 => 0,
                _ => -(rng.range(1, 1_000_000_000) as i64),
            };
            let literal = if n == 0 {
                "-0".to_owned()
            } else {
                n.to_string()
            };
            J::I64(n, literal)
        }
        4 => {
            // significand < 2^53 and a power of ten below 1e23: exact steps,
            // so any decoder gets the same f64.
            let significand = rng.next_u64() % 1_000_000_000_000_000;
            let fraction_digits = rng.below(7);
            let exponent = rng.below(21) as i32 - 10;
            let scale = 10_u64.pow(fraction_digits as u32);
            let sign = if rng.chance(1, 3) { "-" } else { "" };
            let mut literal = format!("{sign}{}", significand / scale);
            if fraction_digits > 0 {
                literal.push_str(&format!(
                    ".{:0width$}",
                    significand % scale,
                    width = fraction_digits
                ));
            }
            if fraction_digits == 0 || rng.chance(1, 2) {
                literal.push_str(&format!("{}{exponent}", rng.pick(&["e", "E", "e+"])));
                let literal = literal.replace("e+-", "e-");
                let value = literal.parse().expect("a float literal");
                return J::F64(value, literal);
            }
            J::F64(literal.parse().expect("a float literal"), literal)
        }
        5 | 6 => {
            let len = if rng.chance(1, 10) {
                any_len(rng, 250)
            } else {
                rng.below(12)
            };
            J::Str(any_string(rng, len))
        }
        7 => J::Arr((0..rng.below(4)).map(|_| gen_j(rng, depth + 1)).collect()),
        _ => gen_obj(rng, depth + 1),
    }
}

fn gen_obj(rng: &mut Rng, depth: usize) -> J {
    let mut keys: Vec<String> = Vec::new();
    let mut members = Vec::new();
    for _ in 0..rng.below(5) {
        let key = if !keys.is_empty() && rng.chance(1, 5) {
            rng.pick(&keys).clone()
        } else {
            let len = rng.below(6);
            any_string(rng, len)
        };
        keys.push(key.clone());
        members.push((key, gen_j(rng, depth)));
    }
    J::Obj(members)
}

/// Writes `j` as loose JSON text: random whitespace and escapes.
fn render(rng: &mut Rng, j: &J, out: &mut String) {
    match j {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::U64(n) => out.push_str(&n.to_string()),
        J::I64(_, literal) | J::F64(_, literal) => out.push_str(literal),
        J::Str(s) => encode_str(rng, s, out),
        J::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(ws(rng));
                render(rng, item, out);
                out.push_str(ws(rng));
            }
            out.push(']');
        }
        J::Obj(members) => {
            out.push('{');
            for (i, (key, value)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(ws(rng));
                encode_str(rng, key, out);
                out.push_str(ws(rng));
                out.push(':');
                out.push_str(ws(rng));
                render(rng, value, out);
                out.push_str(ws(rng));
            }
            out.push('}');
        }
    }
}

/// Characters of `c` in compact JSON: `\n`-style escapes are 2, other
/// controls `\u00XX` 6, anything else 1 (non-ASCII is written as is).
fn escaped_width(c: char) -> usize {
    match c {
        '"' | '\\' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' => 2,
        c if (c as u32) < 0x20 => 6,
        _ => 1,
    }
}

/// Characters of the compact serialization of `j`: no whitespace, object
/// keys once each, numbers in their shortest form.
fn compact_chars(j: &J) -> usize {
    match j {
        J::Null | J::Bool(true) => 4,
        J::Bool(false) => 5,
        J::U64(n) => n.to_string().len(),
        J::I64(n, _) => n.to_string().len(),
        J::F64(f, _) => json::to_string(&Number::F64(*f)).len(),
        J::Str(s) => 2 + s.chars().map(escaped_width).sum::<usize>(),
        J::Arr(items) => 1 + items.len().max(1) + items.iter().map(compact_chars).sum::<usize>(),
        J::Obj(members) => {
            let members = J::members(members);
            let inner: usize = members
                .iter()
                .map(|(k, v)| compact_chars(&J::Str((*k).to_owned())) + 1 + compact_chars(v))
                .sum();
            1 + members.len().max(1) + inner
        }
    }
}

/// Whether the decoded `value` is `j`.
fn same(value: &Value, j: &J) -> bool {
    match (value, j) {
        (Value::Null, J::Null) => true,
        (Value::Bool(a), J::Bool(b)) => a == b,
        (Value::Number(Number::U64(a)), J::U64(b)) => a == b,
        (Value::Number(Number::I64(a)), J::I64(b, _)) => a == b,
        // `-0` is written back as `0`, which decodes as unsigned.
        (Value::Number(Number::U64(a)), J::I64(b, _)) => i128::from(*a) == i128::from(*b),
        (Value::Number(Number::F64(a)), J::F64(b, _)) => a == b || (a - b).abs() <= b.abs() * 1e-15,
        (Value::String(a), J::Str(b)) => a == b,
        (Value::Array(a), J::Arr(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(v, j)| same(v, j))
        }
        (Value::Object(a), J::Obj(b)) => {
            let b = J::members(b);
            a.len() == b.len() && b.iter().all(|(k, j)| a.get(*k).is_some_and(|v| same(v, j)))
        }
        _ => false,
    }
}

/// Pieces with a known compact width, to pad a state to an exact size.
const PADDING: &[(&str, usize)] = &[
    ("a", 1),
    ("é", 1),
    ("中", 1),
    ("😀", 1),
    ("\u{301}", 1),
    ("\"", 2),
    ("\\", 2),
    ("\n", 2),
    ("\u{1}", 6),
    ("\u{1f}", 6),
    ("\u{7f}", 1),
];

/// Text that is never a JSON object.
const NOT_OBJECTS: &[&str] = &[
    "",
    "   ",
    "\n",
    "{",
    "}",
    "{\"a\":1,}",
    "{,}",
    "{'a':1}",
    "{a:1}",
    "{\"a\" 1}",
    "{\"a\":}",
    "{\"a\"::1}",
    "{\"a\":1 \"b\":2}",
    "{\"a\":01}",
    "{\"a\":+1}",
    "{\"a\":.5}",
    "{\"a\":1.}",
    "{\"a\":1e}",
    "{\"a\":-}",
    "{\"a\":0x10}",
    "{\"a\":NaN}",
    "{\"a\":Infinity}",
    "{\"a\":tru}",
    "{\"a\":nul}",
    "{\"a\":[1,]}",
    "{\"a\":[}",
    "{\"a\":{\"b\":1}",
    "{\"a\":\"\\x\"}",
    "{\"a\":\"\\ud800\"}",
    "{\"a\":\"\\udc00\"}",
    "{\"a\":\"\\u12\"}",
    "{\"a\":\"\\u00e\"}",
    "{\"a\":\"tab\there\"}",
    "{\"a\":\"nl\nhere\"}",
    "{\"a\":\"\u{0}\"}",
    "{\"a\":1}//c",
    "{\"a\":1}/*c*/",
    "/*c*/{}",
    "\u{feff}{\"a\":1}",
    "{}\u{feff}",
    "{}\u{a0}",
    "{}{}",
    "{} {}",
    "{}]",
    "[{}]",
    "[]",
    "null",
    "true",
    "0",
    "\"{}\"",
    "{\"a\":1}}",
];

/// State text and what validation must make of it: `Some(j)` for an object
/// (to check size and output), `None` for text that is not an object.
fn gen_state(rng: &mut Rng) -> (String, Option<J>) {
    let mut text = String::new();
    match rng.below(100) {
        0..=69 => {
            let J::Obj(mut members) = gen_obj(rng, 1) else {
                unreachable!()
            };
            // Pad with one more member to a chosen compact size, often right
            // at the limit.
            if rng.chance(1, 5) {
                members.retain(|(k, _)| k != "pad");
                let target = match rng.below(6) {
                    0 => rng.range(10, 1990),
                    1 => 1999,
                    2 => 2000,
                    3 => 2001,
                    4 => 2002,
                    _ => rng.range(2003, 4000),
                };
                members.push(("pad".to_owned(), J::Str(String::new())));
                let base = compact_chars(&J::Obj(members.clone()));
                let mut pad = String::new();
                let mut left = target.saturating_sub(base);
                while left > 0 {
                    let (piece, width) = *rng.pick(PADDING);
                    let run = rng.range(1, 64).min(left / width);
                    pad.push_str(&piece.repeat(run));
                    left -= run * width;
                }
                members.last_mut().expect("pushed").1 = J::Str(pad);
            }
            let j = J::Obj(members);
            text.push_str(ws(rng));
            render(rng, &j, &mut text);
            text.push_str(ws(rng));
            (text, Some(j))
        }
        70..=74 => {
            let items = (0..rng.below(4)).map(|_| gen_j(rng, 2)).collect();
            render(rng, &J::Arr(items), &mut text);
            (text, None)
        }
        75..=79 => {
            // At depth 3, never an array or an object.
            let j = gen_j(rng, 3);
            render(rng, &j, &mut text);
            (text, None)
        }
        80..=84 => {
            // A strict prefix of an object.
            let j = gen_obj(rng, 1);
            render(rng, &j, &mut text);
            let mut cut = rng.below(text.len());
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            (text, None)
        }
        85..=89 => {
            let j = gen_obj(rng, 1);
            render(rng, &j, &mut text);
            text.push_str(ws(rng));
            const TAILS: &[&str] = &["}", ",", "{}", "x", "\0", "\u{feff}", "[", "0"];
            text.push_str(rng.choose(TAILS));
            (text, None)
        }
        90..=96 => ((*rng.pick(NOT_OBJECTS)).to_owned(), None),
        _ => {
            // Junk that starts with something no JSON value starts with.
            text.push(*rng.pick(&['x', 'Z', '#', '<', '(', '+', '\'', '.', 'é']));
            let len = rng.below(30);
            text.push_str(&any_string(rng, len));
            (text, None)
        }
    }
}

/// What the request is, from the test's side.
#[derive(Debug, Default)]
struct Model {
    ttl: u32,
    channels: BTreeMap<String, Access>,
    member_id: Option<String>,
    /// `Some(None)`: state text that is not a JSON object.
    state: Option<Option<J>>,
}

impl Model {
    /// The first field that breaks a rule, in the order ttl, channels,
    /// member_id, state; written from the API's limits.
    fn first_invalid_field(&self) -> Option<&'static str> {
        let chars = |s: &str| s.chars().count();
        if self.ttl < 1 || self.ttl > 43_200 {
            return Some("ttl");
        }
        if self.channels.is_empty() || self.channels.len() > 500 {
            return Some("channels");
        }
        for (name, access) in &self.channels {
            if chars(name) < 1 || chars(name) > 250 || !(access.read || access.write) {
                return Some("channels");
            }
        }
        if let Some(id) = &self.member_id {
            if chars(id) < 1 || chars(id) > 250 {
                return Some("member_id");
            }
        }
        match &self.state {
            Some(None) => Some("state"),
            Some(Some(j)) if compact_chars(j) > 2_000 => Some("state"),
            _ => None,
        }
    }
}

fn gen_access(rng: &mut Rng) -> Access {
    match rng.below(20) {
        0 => Access::default(),
        1..=6 => Access::READ,
        7..=12 => Access::WRITE,
        _ => Access::READ_WRITE,
    }
}

/// A random request built with the builders (and the pub fields), and the
/// model of what it must hold.
fn gen_request(rng: &mut Rng) -> (TokenRequest, Model) {
    let ttl = match rng.below(40) {
        0 => 0,
        1 => 1,
        2 => 43_199,
        3 => 43_200,
        4 => 43_201,
        5 => u32::MAX,
        6 => u32::MAX - 1,
        7 => rng.next_u64() as u32,
        _ => rng.range(1, 43_200) as u32,
    };
    let mut model = Model {
        ttl,
        ..Model::default()
    };
    let mut request = if rng.chance(1, 10) {
        TokenRequest {
            ttl,
            ..TokenRequest::default()
        }
    } else {
        TokenRequest::new(ttl)
    };

    // Channels: usually a few, sometimes right around the limit of 500.
    let big = rng.chance(1, 400);
    let ops = if big {
        rng.range(495, 506)
    } else {
        match rng.below(20) {
            0 => 0,
            1..=13 => rng.range(1, 4),
            _ => rng.range(5, 12),
        }
    };
    let mut names: Vec<String> = Vec::new();
    for i in 0..ops {
        let name = if big && rng.chance(199, 200) {
            // Distinct names, sometimes long.
            let len = if rng.chance(1, 50) {
                rng.range(240, 250)
            } else {
                rng.range(0, 12)
            };
            let prefix = any_string(rng, len.min(240));
            format!("{prefix}#{i}")
        } else if !names.is_empty() && rng.chance(1, 5) {
            rng.pick(&names).clone()
        } else {
            let len = any_len(rng, 250);
            any_string(rng, len)
        };
        names.push(name.clone());
        match rng.below(5) {
            0 => {
                let access = gen_access(rng);
                model.channels.insert(name.clone(), access);
                request = request.channel(name, access);
            }
            1 => {
                model.channels.entry(name.clone()).or_default().read = true;
                request = request.read(name);
            }
            2 => {
                model.channels.entry(name.clone()).or_default().write = true;
                request = request.write(name);
            }
            3 => {
                let entry = model.channels.entry(name.clone()).or_default();
                entry.read = true;
                entry.write = true;
                request = request.read_write(name);
            }
            _ => {
                let access = gen_access(rng);
                model.channels.insert(name.clone(), access);
                request.channels.insert(name, access);
            }
        }
    }

    if rng.chance(2, 3) {
        let len = any_len(rng, 250);
        let id = any_string(rng, len);
        model.member_id = Some(id.clone());
        if rng.chance(1, 2) {
            request = request.member_id(id);
        } else {
            request.member_id = Some(id);
        }
    }

    let states = match rng.below(20) {
        0..=11 => 0,
        12..=18 => 1,
        _ => 2,
    };
    for _ in 0..states {
        let (text, j) = gen_state(rng);
        request = request.state_json(&text);
        model.state = Some(j);
    }
    if states > 0 && rng.chance(1, 20) {
        request.state = None;
        model.state = None;
    }
    (request, model)
}

/// Checks the `to_json` output against the model by decoding it.
fn check_output(out: &str, model: &Model) -> Result<(), String> {
    let value: Value = json::from_str(out).map_err(|_| "not JSON".to_owned())?;
    let Value::Object(object) = value else {
        return Err("not an object".into());
    };
    let mut expected_keys = vec!["channels", "ttl"];
    if model.member_id.is_some() {
        expected_keys.push("member_id");
    }
    if model.state.is_some() {
        expected_keys.push("state");
    }
    expected_keys.sort_unstable();
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    if keys != expected_keys {
        return Err(format!("keys {keys:?}, expected {expected_keys:?}"));
    }
    match &object["ttl"] {
        Value::Number(Number::U64(ttl)) if *ttl == u64::from(model.ttl) => {}
        other => return Err(format!("ttl {other:?}, expected {}", model.ttl)),
    }
    let Value::Object(channels) = &object["channels"] else {
        return Err("channels is not an object".into());
    };
    if channels.len() != model.channels.len() {
        return Err(format!(
            "{} channels, expected {}",
            channels.len(),
            model.channels.len()
        ));
    }
    for (name, access) in &model.channels {
        let Some(Value::Object(rights)) = channels.get(name) else {
            return Err(format!("channel {name:?} missing or not an object"));
        };
        let flag = |key: &str| match rights.get(key) {
            None => Ok(false),
            Some(Value::Bool(true)) => Ok(true),
            Some(other) => Err(format!("channel {name:?} {key}: {other:?}")),
        };
        let want = usize::from(access.read) + usize::from(access.write);
        if flag("read")? != access.read || flag("write")? != access.write || rights.len() != want {
            return Err(format!("channel {name:?}: {rights:?}, expected {access:?}"));
        }
    }
    if let Some(id) = &model.member_id {
        match &object["member_id"] {
            Value::String(s) if s == id => {}
            other => return Err(format!("member_id {other:?}, expected {id:?}")),
        }
    }
    if let Some(Some(j)) = &model.state {
        if !same(&object["state"], j) {
            return Err(format!("state {:?}, expected {j:?}", object["state"]));
        }
    }
    Ok(())
}

#[test]
fn requests_validate_like_the_reference() {
    let seed = seed();
    let report = Report::new("requests", seed);
    let started = Instant::now();
    let mut valid = 0_u64;
    let mut by_field: BTreeMap<&str, u64> = BTreeMap::new();
    let mut near_limits = [0_u64; 3]; // 500 channels, 250-char names, 2000-char state
    let mut calls = 0_u64;

    for case in cases(REQUEST_CASES) {
        report.case.set(Some(case));
        let mut rng = Rng::for_case(seed, 2, case);
        let (request, model) = gen_request(&mut rng);
        let expected = model.first_invalid_field();

        let (validated, written) =
            catch_unwind(AssertUnwindSafe(|| (request.validate(), request.to_json())))
                .unwrap_or_else(|_| panic!("validate/to_json panicked on {model:?}"));
        calls += 1;

        near_limits[0] += u64::from(model.channels.len() >= 499);
        near_limits[1] += u64::from(
            model
                .channels
                .keys()
                .any(|n| (249..=251).contains(&n.chars().count())),
        );
        near_limits[2] += u64::from(matches!(
            &model.state,
            Some(Some(j)) if (1999..=2001).contains(&compact_chars(j))
        ));

        match (&validated, expected) {
            (Ok(()), None) => {}
            (Err(Error::InvalidRequest { field, message }), Some(want)) => {
                assert_eq!(*field, want, "{message}\n  model: {model:?}");
                assert!(!message.is_empty());
                let _ = validated.as_ref().unwrap_err().to_string();
            }
            (got, want) => panic!(
                "validate() gave {got:?}, the reference says {}\n  model: {model:?}",
                want.map_or("valid".to_owned(), |f| format!("invalid {f}"))
            ),
        }
        match (&written, &validated) {
            (Ok(out), Ok(())) => {
                valid += 1;
                if let Err(why) = check_output(out, &model) {
                    panic!("to_json output is wrong: {why}\n  output: {out}\n  model: {model:?}");
                }
            }
            (
                Err(Error::InvalidRequest { field: a, .. }),
                Err(Error::InvalidRequest { field: b, .. }),
            ) if a == b => {}
            (w, v) => panic!("to_json gave {w:?} but validate gave {v:?}\n  model: {model:?}"),
        }
        if let Some(field) = expected {
            *by_field.entry(field).or_default() += 1;
        }
    }
    report.case.set(None);

    println!(
        "requests: {calls} requests in {:.2?}: {valid} valid, invalid by field {by_field:?}; \
         near the limits: {} with 499+ channels, {} with a 249..=251-char name, \
         {} with a 1999..=2001-char state",
        started.elapsed(),
        near_limits[0],
        near_limits[1],
        near_limits[2]
    );
    if std::env::var_os("RANDOM_INPUTS_CASE").is_none() {
        assert!(calls >= 100_000);
    }
}
