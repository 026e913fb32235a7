//! Server text made safe to print.
//!
//! Everything a server sends that the crate keeps (the request id, the
//! `error` message, each field of each 422 item, the body prefix, and ureq's
//! error text, which may quote a proxy) goes through [`Secrets::printable`]:
//!
//! 1. **Nothing invisible is kept.** Every character in [`INVISIBLE`] (all of
//!    Unicode's control, format, line separator and paragraph separator
//!    characters and every default-ignorable code point) is removed; those
//!    that are white space (tab, line feed, U+2028, ...) become a space, so
//!    that no server text can start a line of its own or move the cursor.
//! 2. **No piece of a secret is kept.** The text is read twice with every
//!    invisible character left out: as written, and with its JSON escapes
//!    (`\/`, `\u0041`, ...) and percent escapes (either case) decoded and
//!    the invisible characters they encode left out (a lone `%` or `\` must
//!    not swallow a piece of a secret, an escape must not hide one); both
//!    times the base64url alphabet (`-`, `_`) is read as standard base64
//!    (`+`, `/`). Any run of [`WINDOW`] or more consecutive bytes of the API
//!    token or of the base64 credentials (padded or not), read the same ways,
//!    is replaced by [`REDACTED`], and so is a shorter secret found whole. A
//!    secret cut short, split by invisible characters or line breaks, or
//!    encoded is still found.
//! 3. **No minted token is kept.** A run of base64url characters, `=` and
//!    dots, in either reading, that holds `eyJ` (the base64url of `{"`, how every JWS and JWE header
//!    starts) followed by two or more dots is replaced whole: a token, this
//!    call's or another's, however short its segments.
//! 4. The result is cut to [`SERVER_TEXT_CHARS`] characters.

use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::ops::Range;

/// What stands in for a secret or a token: in `Debug` output, and in
/// server text wherever one was found (see [Secrets](crate#secrets)).
pub const REDACTED: &str = "[redacted]";
/// Longest server text kept (request id, messages, body prefix), in characters.
const SERVER_TEXT_CHARS: usize = 200;
/// No run of this many bytes of a secret survives in server text.
const WINDOW: usize = 12;
/// Secrets shorter than this are not searched for (a test's `"t"` would
/// blank out ordinary words); those from here to [`WINDOW`] are searched whole.
const MIN_SECRET_LEN: usize = 4;

/// The API token and the Basic credentials, as [`Secrets::printable`]
/// searches for them.
pub(crate) struct Secrets {
    /// Every [`WINDOW`]-byte run of every secret longer than that.
    windows: HashSet<[u8; WINDOW]>,
    /// The secrets shorter than [`WINDOW`] bytes, searched whole.
    short: Vec<Vec<u8>>,
}

impl Secrets {
    pub(crate) fn new(api_token: &str, credentials_base64: &str) -> Secrets {
        let mut secrets = Secrets {
            windows: HashSet::new(),
            short: Vec::new(),
        };
        let unpadded = credentials_base64.trim_end_matches('=');
        for secret in [api_token, credentials_base64, unpadded] {
            // Read as the text is read, and also taken literally (a secret
            // that holds `%41` may be echoed with its `%` encoded).
            let literal: Vec<u8> = secret.bytes().map(fold_alphabet).collect();
            let decoded = decoded(secret.as_bytes());
            let decoded: Vec<u8> = decoded.iter().map(|(b, _)| fold_alphabet(*b)).collect();
            for form in [literal, decoded] {
                if form.len() >= WINDOW {
                    let runs = form.windows(WINDOW).map(<[u8; WINDOW]>::try_from);
                    secrets.windows.extend(runs.flatten());
                } else if form.len() >= MIN_SECRET_LEN && !secrets.short.contains(&form) {
                    secrets.short.push(form);
                }
            }
        }
        secrets
    }

    /// Any text a server sent, made safe to print (see the module's docs):
    /// nothing invisible, no piece of a secret, no token, at most 200
    /// characters (then an ellipsis).
    pub(crate) fn printable(&self, text: &str) -> String {
        let mut shown = self.clean(text);
        if let Some((cut, _)) = shown.char_indices().nth(SERVER_TEXT_CHARS) {
            shown.truncate(cut);
            shown.push('…');
        }
        shown
    }

    /// `text` without invisible characters, secrets and tokens, whole.
    fn clean(&self, text: &str) -> String {
        let (shown, skeleton) = visible(text);
        // Read twice: as written, and with its escapes decoded (an escape
        // may hide a piece of a secret, or a lone `%` or `\` swallow one).
        let literal: View = (skeleton.bytes.iter().enumerate())
            .map(|(i, &b)| (b, i..i + 1))
            .collect();
        let decoded = decoded(&skeleton.bytes);
        let mut hidden = Vec::new();
        for view in [&literal, &decoded] {
            let found = self.secrets_in(view).into_iter().chain(tokens_in(view));
            // From the skeleton's bytes to the characters shown.
            hidden
                .extend(found.map(|r| skeleton.from[r.start].start..skeleton.from[r.end - 1].end));
        }
        redact(&shown, hidden)
    }

    /// The ranges of the skeleton whose bytes, read as `view` reads them,
    /// hold a piece of a secret.
    fn secrets_in(&self, view: &View) -> Vec<Range<usize>> {
        let bytes: Vec<u8> = view.iter().map(|(b, _)| fold_alphabet(*b)).collect();
        let span = |start: usize, len: usize| view[start].1.start..view[start + len - 1].1.end;
        let mut found = Vec::new();
        if bytes.len() >= WINDOW && !self.windows.is_empty() {
            for (start, run) in bytes.windows(WINDOW).enumerate() {
                if self.windows.contains(run) {
                    found.push(span(start, WINDOW));
                }
            }
        }
        for secret in &self.short {
            let mut from = 0;
            while let Some(at) = find(&bytes[from..], secret) {
                found.push(span(from + at, secret.len()));
                from += at + 1;
            }
        }
        found
    }

    /// ureq's error as the source of an `Error::Transport`; replaced by its
    /// printable text when its `Display` or `Debug`, or a source's, holds a
    /// secret, a token or an invisible character (a proxy's reason phrase,
    /// say).
    pub(crate) fn printable_error(
        &self,
        e: ureq::Error,
    ) -> Box<dyn std::error::Error + Send + Sync> {
        let mut chain = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            let _ = write!(chain, ": {cause}");
            source = cause.source();
        }
        let shown = format!("{e:?}{chain}");
        if self.clean(&shown) == shown {
            return Box::new(e);
        }
        Box::new(Redacted(self.printable(&chain)))
    }
}

/// An error's text, made printable (see [`Secrets::printable`]).
#[derive(Debug)]
struct Redacted(String);

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Redacted {}

/// The text as searched: its visible characters' bytes, each with the byte
/// range of its character in the text shown.
struct Skeleton {
    bytes: Vec<u8>,
    from: Vec<Range<usize>>,
}

/// The text to show (invisible characters removed, white space among them
/// turned into spaces) and its skeleton, which leaves out those spaces too,
/// so that a secret split by a line break is still found.
fn visible(text: &str) -> (String, Skeleton) {
    let mut shown = String::with_capacity(text.len());
    let mut skeleton = Skeleton {
        bytes: Vec::with_capacity(text.len()),
        from: Vec::with_capacity(text.len()),
    };
    for c in text.chars() {
        if is_invisible(c) {
            if c.is_whitespace() {
                shown.push(' ');
            }
            continue;
        }
        let start = shown.len();
        shown.push(c);
        for &b in &shown.as_bytes()[start..] {
            skeleton.bytes.push(b);
            skeleton.from.push(start..shown.len());
        }
    }
    (shown, skeleton)
}

/// One reading of the text: its bytes, each with the range of the
/// skeleton's bytes it came from.
type View = Vec<(u8, Range<usize>)>;

/// The ranges of the skeleton whose bytes, read as `view` reads them, are
/// JWT-shaped (see the module's docs).
fn tokens_in(view: &View) -> Vec<Range<usize>> {
    // base64url, its padding (never in a JWS, but some echo one padded)
    // and the dots between segments.
    let is_token_byte =
        |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'.');
    let bytes: Vec<u8> = view.iter().map(|(b, _)| *b).collect();
    let mut found = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let len = bytes[start..]
            .iter()
            .take_while(|b| is_token_byte(b))
            .count();
        let run = &bytes[start..start + len];
        let is_token = find(run, b"eyJ")
            .is_some_and(|at| run[at..].iter().filter(|b| **b == b'.').count() >= 2);
        if is_token {
            found.push(view[start].1.start..view[start + len - 1].1.end);
        }
        start += len.max(1);
    }
    found
}

/// `shown` with the `hidden` ranges (overlapping or not) replaced by
/// [`REDACTED`], one for each run of ranges that overlap or touch.
fn redact(shown: &str, mut hidden: Vec<Range<usize>>) -> String {
    hidden.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(hidden.len());
    for range in hidden {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    let mut out = String::with_capacity(shown.len());
    let mut done = 0;
    for range in merged {
        out.push_str(&shown[done..range.start]);
        out.push_str(REDACTED);
        done = range.end;
    }
    out.push_str(&shown[done..]);
    out
}

/// `bytes` read as a server may have encoded them: JSON escapes (`\/`,
/// `\u0041`, ...) and percent escapes (either case) decoded, then the
/// invisible characters they encode (`\n`, `%E2%80%8B`, ...) left out. Each
/// decoded byte comes with the range of `bytes` it came from.
fn decoded(bytes: &[u8]) -> View {
    let mut raw: View = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let mut buf = [0u8; 4];
        let (len, used) = decode_at(&bytes[i..], &mut buf);
        raw.extend(buf[..len].iter().map(|&b| (b, i..i + used)));
        i += used;
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut at = 0;
    while at < raw.len() {
        let width = match raw[at].0 {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 1,
        };
        let mut char_bytes = [0u8; 4];
        for (k, (b, _)) in raw[at..].iter().take(width).enumerate() {
            char_bytes[k] = *b;
        }
        let whole = raw.len() - at >= width;
        let c = (std::str::from_utf8(&char_bytes[..width]).ok())
            .filter(|_| whole)
            .and_then(|s| s.chars().next());
        match c {
            Some(c) if is_invisible(c) => at += width,
            Some(_) => {
                out.extend_from_slice(&raw[at..at + width]);
                at += width;
            }
            None => {
                out.push(raw[at].clone());
                at += 1;
            }
        }
    }
    out
}

/// Decodes the escape (or plain byte) at the start of `rest` into `decoded`:
/// how many bytes it decoded to, and how many of `rest` it took.
fn decode_at(rest: &[u8], decoded: &mut [u8; 4]) -> (usize, usize) {
    let mut one = |b: u8, used: usize| {
        decoded[0] = b;
        (1, used)
    };
    match *rest {
        [b'%', h, l, ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
            one(hex(h) << 4 | hex(l), 3)
        }
        [b'\\', b'u', ref digits @ ..] if digits.len() >= 4 => match unicode_escape(&digits[..4]) {
            Some(c) => (c.encode_utf8(decoded).len(), 6),
            None => one(b'\\', 1),
        },
        [b'\\', e, ..] => match e {
            b'"' | b'\\' | b'/' => one(e, 2),
            b'b' => one(8, 2),
            b'f' => one(12, 2),
            b'n' => one(b'\n', 2),
            b'r' => one(b'\r', 2),
            b't' => one(b'\t', 2),
            _ => one(b'\\', 1),
        },
        [b, ..] => one(b, 1),
        [] => (0, 1),
    }
}

/// Base64url's two letters read as standard base64's.
fn fold_alphabet(b: u8) -> u8 {
    match b {
        b'-' => b'+',
        b'_' => b'/',
        b => b,
    }
}

fn hex(digit: u8) -> u8 {
    (digit as char).to_digit(16).map_or(0, |d| d as u8)
}

/// The character of a `\uXXXX` escape (not a surrogate half).
fn unicode_escape(digits: &[u8]) -> Option<char> {
    let text = std::str::from_utf8(digits).ok()?;
    char::from_u32(u32::from_str_radix(text, 16).ok()?)
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether `c` shows nothing: it is in [`INVISIBLE`].
pub(crate) fn is_invisible(c: char) -> bool {
    if (' '..='~').contains(&c) {
        return false;
    }
    INVISIBLE
        .binary_search_by(|&(first, last)| {
            if last < c {
                std::cmp::Ordering::Less
            } else if first > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// The characters that show nothing, as sorted inclusive ranges: Unicode
/// 15.0's general categories Cc (control), Cf (format), Zl (line separator)
/// and Zp (paragraph separator), and every `Default_Ignorable_Code_Point`
/// (variation selectors, Hangul fillers, tag characters, and the unassigned
/// code points reserved for more). Generated from `UnicodeData.txt` and
/// `DerivedCoreProperties.txt` by the test `table_is_unicode_15_data`
/// (`cargo test --lib -- --ignored`, with Debian's `unicode-data` package
/// installed), which fails, printing the table to paste, when they differ.
pub(crate) const INVISIBLE: &[(char, char)] = &[
    ('\u{0000}', '\u{001F}'),
    ('\u{007F}', '\u{009F}'),
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{2028}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF0}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E0FFF}'),
];

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    const TOKEN: &str = "PT0123456789abcdef0123456789abcdef/+token~x";

    fn secrets() -> (Secrets, String) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("proj:{TOKEN}"));
        (Secrets::new(TOKEN, &b64), b64)
    }

    #[test]
    fn every_invisible_character_goes_and_never_splits_a_secret() {
        let (secrets, _) = secrets();
        let (a, b) = TOKEN.split_at(7);
        let mut count = 0;
        for &(first, last) in INVISIBLE {
            for c in first..=last {
                count += 1;
                let shown = secrets.printable(&format!("x {a}{c}{b} {c}y"));
                let gap = if c.is_whitespace() { "  " } else { " " };
                assert_eq!(shown, format!("x [redacted]{gap}y"), "U+{:04X}", c as u32);
            }
        }
        assert_eq!(count, 4273, "Unicode 15.0's invisible code points");
        for visible in [
            'a',
            ' ',
            '\u{a0}',
            'é',
            '日',
            '\u{1F600}',
            '\u{0300}',
            '\u{E000}',
        ] {
            assert!(!is_invisible(visible), "{visible:?}");
        }
    }

    #[test]
    fn the_table_is_sorted_and_disjoint() {
        for pair in INVISIBLE.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
    }

    #[test]
    #[ignore = "needs /usr/share/unicode (Debian's unicode-data package); CI runs it"]
    fn table_is_unicode_15_data() {
        let dir = std::path::Path::new("/usr/share/unicode");
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect(name);
        let core = read("DerivedCoreProperties.txt");
        assert!(
            core.starts_with("# DerivedCoreProperties-15.0.0.txt"),
            "Unicode 15.0"
        );
        let mut points = std::collections::BTreeSet::new();
        let mut first = 0;
        for line in read("UnicodeData.txt").lines() {
            let fields: Vec<&str> = line.split(';').collect();
            let code = u32::from_str_radix(fields[0], 16).unwrap();
            let invisible = matches!(fields[2], "Cc" | "Cf" | "Zl" | "Zp");
            if fields[1].ends_with(", First>") {
                first = code;
            } else if fields[1].ends_with(", Last>") {
                points.extend((first..=code).filter(|_| invisible));
            } else if invisible {
                points.insert(code);
            }
        }
        for line in core.lines() {
            let data = line.split('#').next().unwrap_or_default();
            let Some((range, property)) = data.split_once(';') else {
                continue;
            };
            if property.trim() == "Default_Ignorable_Code_Point" {
                let (a, b) = range
                    .trim()
                    .split_once("..")
                    .unwrap_or((range.trim(), range.trim()));
                let [a, b] = [a, b].map(|n| u32::from_str_radix(n, 16).unwrap());
                points.extend(a..=b);
            }
        }
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for p in points {
            match ranges.last_mut() {
                Some(last) if last.1 + 1 == p => last.1 = p,
                _ => ranges.push((p, p)),
            }
        }
        let table: Vec<(u32, u32)> = INVISIBLE
            .iter()
            .map(|&(a, b)| (a as u32, b as u32))
            .collect();
        let generated: String = ranges
            .iter()
            .map(|(a, b)| format!("    ('\\u{{{a:04X}}}', '\\u{{{b:04X}}}'),\n"))
            .collect();
        assert_eq!(table, ranges, "paste into INVISIBLE:\n{generated}");
    }

    #[test]
    fn secrets_are_found_however_they_are_encoded_or_cut() {
        let (secrets, b64) = secrets();
        let percent = |text: &str, upper: bool| -> String {
            text.bytes()
                .map(|b| match b {
                    b if b.is_ascii_alphanumeric() => (b as char).to_string(),
                    b if upper => format!("%{b:02X}"),
                    b => format!("%{b:02x}"),
                })
                .collect()
        };
        let mixed: String = percent(&b64, true)
            .split("%2F")
            .collect::<Vec<_>>()
            .join("%2f");
        let json_u: String = TOKEN
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        let url_safe = b64.replace('+', "-").replace('/', "_");
        for form in [
            TOKEN.to_owned(),
            TOKEN.replace('/', "\\/"),
            percent(TOKEN, true),
            percent(TOKEN, false),
            json_u,
            b64.clone(),
            b64.trim_end_matches('=').to_owned(),
            b64.replace('/', "\\/"),
            percent(&b64, false),
            mixed,
            url_safe.trim_end_matches('=').to_owned(),
            // Cut short, from either end: 12 characters are enough.
            TOKEN[..12].to_owned(),
            TOKEN[TOKEN.len() - 12..].to_owned(),
            b64[20..32].to_owned(),
        ] {
            assert_eq!(
                secrets.printable(&format!("<{form}>")),
                "<[redacted]>",
                "{form}"
            );
        }
        // Eleven characters are not a secret's: ordinary text stays.
        assert_eq!(
            secrets.printable(&format!("<{}>", &TOKEN[..11])),
            format!("<{}>", &TOKEN[..11])
        );
        assert_eq!(secrets.printable("a plain message"), "a plain message");
        // Two secrets side by side are one redaction; apart, two.
        assert_eq!(secrets.printable(&format!("{TOKEN}{b64}")), "[redacted]");
        assert_eq!(
            secrets.printable(&format!("{TOKEN} and {b64}.")),
            "[redacted] and [redacted]."
        );
        // Short secrets are found whole, not in pieces.
        let short = Secrets::new("t0k3n", "cDp0MQ==");
        assert_eq!(
            short.printable("t0k3n cDp0MQ t0k"),
            "[redacted] [redacted] t0k"
        );
    }

    #[test]
    fn escapes_never_hide_a_secret_nor_swallow_one() {
        let (secrets, _) = secrets();
        for text in [
            // A lone `%`, `\` or `\u` before a piece of the token.
            "100%cdef0123456789 left",
            "C:\\bcdef0123456789",
            "\\ucdef0123456789abc",
            // The token split by encoded line breaks and invisible characters,
            // as in a raw JSON body.
            "{\"d\":\"PT0123\\n456789\\nabcdef\\n012345\\n6789ab\"}",
            "PT0123\\u200b456789\\u200babcdef",
            "PT0123%0A456789%0aabcdef",
            "PT0123%E2%80%8B456789%e2%80%8babcdef",
        ] {
            let shown = secrets.printable(text);
            assert!(shown.contains(REDACTED), "{text}: {shown}");
            for run in TOKEN.as_bytes().windows(WINDOW) {
                assert!(
                    !shown.contains(std::str::from_utf8(run).unwrap()),
                    "{text}: {shown}"
                );
            }
        }
        // A token split by an encoded line break in a raw JSON body.
        let body = r#"{"x":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIi\nOiIxIn0.c2lnbmF0dXJl"}"#;
        assert_eq!(secrets.printable(body), r#"{"x":"[redacted]"}"#);
    }

    #[test]
    fn tokens_are_found_whatever_their_segments() {
        let (secrets, _) = secrets();
        let header = "eyJ0eXAiOiJWUlQiLCJhbGciOiJIUzUxMiJ9";
        for token in [
            format!("{header}.eyJpYXQiOjF9.c2lnbmF0dXJl"),
            format!("a.{header}.eyJpYXQiOjF9.c2ln"),
            format!("{header}.eyJpYXQiOjF9.c2ln.x"),
            format!("{header}.eyJpYXQiOjF9."),
            format!("{header}..aXY.Y2lwaGVy.dGFn"),
            "eyJhbGc=.eyJzdWIi=.c2ln".to_owned(),
            "eyJ.x.y".to_owned(),
        ] {
            assert_eq!(
                secrets.printable(&format!("token {token}, end")),
                "token [redacted], end",
                "{token}"
            );
            // Split by an invisible character or a line break, still one token.
            let (a, b) = token.split_at(token.len() / 2);
            assert_eq!(
                secrets.printable(&format!("({a}\u{2028}{b})")),
                "([redacted])",
                "{token}"
            );
        }
        for kept in [
            "see docs.signalwire.com.",
            "a.b.c.d.e.f.example.co.uk",
            "eyJ.x only one dot after",
            "x.y.eyJ",
        ] {
            assert_eq!(secrets.printable(kept), kept);
        }
    }

    #[test]
    fn long_text_is_cut_after_redaction() {
        let (secrets, _) = secrets();
        let text = format!("{}{TOKEN}", "e".repeat(195));
        assert_eq!(
            secrets.printable(&text),
            format!("{}[reda…", "e".repeat(195))
        );
        assert_eq!(secrets.printable(&"é".repeat(300)).chars().count(), 201);
    }

    #[test]
    fn ureq_errors_are_kept_unless_they_quote_a_secret() {
        let (secrets, b64) = secrets();
        let quoting = ureq::Error::ConnectProxyFailed(format!("no \u{1b}{b64}"));
        let shown = secrets.printable_error(quoting);
        assert_eq!(shown.to_string(), "CONNECT proxy failed: no [redacted]");
        assert!(!format!("{shown:?}").contains(&b64[..12]));
        // One that does not stays ureq's, for callers to downcast.
        let plain = secrets.printable_error(ureq::Error::HostNotFound);
        assert!(plain.downcast_ref::<ureq::Error>().is_some());
    }
}
