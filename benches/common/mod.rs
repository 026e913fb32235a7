//! Shared by the benches (and by benches/peers through `#[path]`): the
//! interleaved harness, a counting global allocator, the fixtures (a typical
//! and the largest valid request, a token body), a minimal std-only HTTP
//! responder, the raw-socket floor client, the bare ureq agent the round-trip
//! benches compare against, and CPU pinning.
//!
//! Every figure is a ratio taken in one process: the contenders of a bench
//! run round by round, one sample of each in turn (the order rotates), and
//! each round's figure is the median of its samples. The report gives, per
//! contender, the median, min and max of the per-round figures, and for each
//! reference the per-round ratio contender/reference (median, min, max).
//!
//! Environment: `BENCH_ROUNDS` (default per bench), `BENCH_SAMPLES`
//! (samples per contender per round, default 5), `BENCH_SAMPLE_MS` (target
//! length of one sample, default per bench), `BENCH_NO_PIN=1` (do not
//! re-exec under `taskset`).
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use signalwire_pubsub::{Access, Client, TokenRequest, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT};

// ---------------------------------------------------------------------------
// Counting allocator
// ---------------------------------------------------------------------------

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting allocations (`alloc`, `alloc_zeroed` and
/// `realloc` each count one) and bytes asked for, across all threads. A bench
/// opts in with `#[global_allocator] static A: common::Counting = common::Counting;`.
pub struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOC_BYTES.fetch_add(layout.size() as u64, Relaxed);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOC_BYTES.fetch_add(layout.size() as u64, Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOC_BYTES.fetch_add(new_size as u64, Relaxed);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

/// (allocations, bytes) so far, all threads.
pub fn alloc_counts() -> (u64, u64) {
    (ALLOCS.load(Relaxed), ALLOC_BYTES.load(Relaxed))
}

/// Allocations and bytes made by one call of `f` (all threads).
pub fn allocs_of<T>(f: impl FnOnce() -> T) -> (u64, u64, T) {
    let (a0, b0) = alloc_counts();
    let out = f();
    let (a1, b1) = alloc_counts();
    (a1 - a0, b1 - b0, out)
}

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// One contender: `run(n)` does the job `n` times and returns how long the
/// part to measure took (all of it for [`Contender::new`]).
pub struct Contender<'a> {
    pub name: String,
    pub run: Box<dyn FnMut(u64) -> Duration + 'a>,
}

impl<'a> Contender<'a> {
    /// Times the whole of `run(n)`.
    pub fn new(name: impl Into<String>, mut run: impl FnMut(u64) + 'a) -> Self {
        Contender::timed(name, move |n| {
            let start = Instant::now();
            run(n);
            start.elapsed()
        })
    }

    /// `run(n)` times its `n` jobs itself (to leave set-up or tear-down out).
    pub fn timed(name: impl Into<String>, run: impl FnMut(u64) -> Duration + 'a) -> Self {
        Contender {
            name: name.into(),
            run: Box::new(run),
        }
    }
}

/// Settings of one interleaved run.
pub struct Settings {
    pub rounds: usize,
    pub samples: usize,
    pub sample: Duration,
}

impl Settings {
    /// Defaults for a bench, overridable by the environment.
    pub fn from_env(rounds: usize, sample_ms: u64) -> Settings {
        let var = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|v| *v > 0)
                .unwrap_or(default)
        };
        Settings {
            rounds: var("BENCH_ROUNDS", rounds as u64) as usize,
            samples: var("BENCH_SAMPLES", 5) as usize,
            sample: Duration::from_millis(var("BENCH_SAMPLE_MS", sample_ms)),
        }
    }
}

/// Per contender: its per-round figures.
pub struct Results {
    pub names: Vec<String>,
    pub batch: Vec<u64>,
    /// `ns_per_op[contender][round]`: the median of that round's samples.
    pub ns_per_op: Vec<Vec<f64>>,
    /// Allocations per op (all threads), from the samples.
    pub allocs_per_op: Vec<Vec<f64>>,
    /// Bytes allocated per op (all threads), from the samples.
    pub bytes_per_op: Vec<Vec<f64>>,
}

pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// How many ops make one sample of about `target`.
fn calibrate(c: &mut Contender, target: Duration) -> u64 {
    let mut n = 1u64;
    loop {
        let took = (c.run)(n);
        if took >= target / 4 || n >= 1 << 30 {
            let per_op = took.as_secs_f64() / n as f64;
            return ((target.as_secs_f64() / per_op).round() as u64).max(1);
        }
        n *= 2;
    }
}

/// Runs the contenders interleaved: a warm-up round (discarded), then
/// `rounds` rounds of `samples` samples each, one sample of each contender in
/// turn, the order rotating by one every sample.
pub fn run(settings: &Settings, contenders: &mut [Contender]) -> Results {
    let k = contenders.len();
    let batch: Vec<u64> = contenders
        .iter_mut()
        .map(|c| calibrate(c, settings.sample))
        .collect();
    let mut results = Results {
        names: contenders.iter().map(|c| c.name.clone()).collect(),
        batch: batch.clone(),
        ns_per_op: vec![Vec::new(); k],
        allocs_per_op: vec![Vec::new(); k],
        bytes_per_op: vec![Vec::new(); k],
    };
    let mut turn = 0usize;
    for round in 0..=settings.rounds {
        let mut ns = vec![Vec::new(); k];
        let mut allocs = vec![Vec::new(); k];
        let mut bytes = vec![Vec::new(); k];
        for _ in 0..settings.samples {
            for i in 0..k {
                let c = (turn + i) % k;
                let n = batch[c];
                let (a0, b0) = alloc_counts();
                let took = (contenders[c].run)(n);
                let (a1, b1) = alloc_counts();
                ns[c].push(took.as_nanos() as f64 / n as f64);
                allocs[c].push((a1 - a0) as f64 / n as f64);
                bytes[c].push((b1 - b0) as f64 / n as f64);
            }
            turn += 1;
        }
        if round == 0 {
            continue; // warm-up
        }
        for c in 0..k {
            results.ns_per_op[c].push(median(&ns[c]));
            results.allocs_per_op[c].push(median(&allocs[c]));
            results.bytes_per_op[c].push(median(&bytes[c]));
        }
    }
    results
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e4 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

impl Results {
    /// The table: per contender its time per op (median [min, max] of the
    /// per-round figures), allocations and bytes per op, and its ratio to
    /// each reference (median [min, max] of the per-round ratios).
    pub fn table(&self, title: &str, references: &[usize]) -> String {
        let mut out = String::new();
        let rounds = self.ns_per_op.first().map_or(0, Vec::len);
        let _ = writeln!(out, "\n## {title}  ({rounds} rounds)\n");
        let width = self
            .names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(8);
        // Without the counting allocator every count is zero: leave them out.
        let allocs = self.allocs_per_op.iter().flatten().any(|a| *a > 0.0);
        let _ = write!(
            out,
            "{:<width$} | {:>10} | {:>21}",
            "contender", "median", "min .. max"
        );
        if allocs {
            let _ = write!(out, " | {:>9} | {:>9}", "allocs/op", "bytes/op");
        }
        for &r in references {
            let _ = write!(out, " | {:>20}", format!("÷ {}", short(&self.names[r])));
        }
        out.push('\n');
        let _ = write!(out, "{:-<width$}-|-{:->10}-|-{:->21}", "", "", "");
        if allocs {
            let _ = write!(out, "-|-{:->9}-|-{:->9}", "", "");
        }
        for _ in references {
            let _ = write!(out, "-|-{:->20}", "");
        }
        out.push('\n');
        for (c, name) in self.names.iter().enumerate() {
            let ns = &self.ns_per_op[c];
            let _ = write!(
                out,
                "{:<width$} | {:>10} | {:>21}",
                name,
                fmt_ns(median(ns)),
                format!("{} .. {}", fmt_ns(min(ns)), fmt_ns(max(ns))),
            );
            if allocs {
                let _ = write!(
                    out,
                    " | {:>9.1} | {:>9.0}",
                    median(&self.allocs_per_op[c]),
                    median(&self.bytes_per_op[c]),
                );
            }
            for &r in references {
                let ratios = self.ratios(c, r);
                let _ = write!(
                    out,
                    " | {:>20}",
                    format!(
                        "{:.3} [{:.2}, {:.2}]",
                        median(&ratios),
                        min(&ratios),
                        max(&ratios)
                    )
                );
            }
            out.push('\n');
        }
        out
    }

    /// Per-round ratios of contender `c` to contender `r`.
    pub fn ratios(&self, c: usize, r: usize) -> Vec<f64> {
        self.ns_per_op[c]
            .iter()
            .zip(&self.ns_per_op[r])
            .map(|(a, b)| a / b)
            .collect()
    }

    pub fn index(&self, name: &str) -> usize {
        self.names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("no contender {name:?}"))
    }

    /// A line saying whether the median ratio of `c` to `r` is at most `limit`.
    pub fn target(&self, what: &str, c: &str, r: &str, limit: f64) -> String {
        let ratios = self.ratios(self.index(c), self.index(r));
        let m = median(&ratios);
        let verdict = if m <= limit { "MET" } else { "MISSED" };
        format!(
            "target {what}: {c} ÷ {r} = {m:.3} (min {:.3}, max {:.3}), limit {limit}: {verdict}",
            min(&ratios),
            max(&ratios)
        )
    }
}

fn short(name: &str) -> String {
    let s: String = name.chars().take(16).collect();
    if s.len() < name.len() {
        format!("{s}…")
    } else {
        s
    }
}

// ---------------------------------------------------------------------------
// Machine and pinning
// ---------------------------------------------------------------------------

/// `nproc`, CPU model, kernel and the CPUs this process may run on.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, m)| m.trim())
        .to_owned();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |k| k.trim().to_owned());
    let allowed = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown".into(), |(_, v)| v.trim().to_owned());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "machine: nproc {nproc}, CPU {model}, kernel {kernel}, {} {}, this process on CPUs {allowed}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

const PINNED: &str = "SWPS_BENCH_PINNED";

/// On Linux, re-executes this bench under `taskset -c 0` (once: an
/// environment variable guards the loop) so that client and server threads
/// share one CPU, and exits with its status. Does nothing when
/// `BENCH_NO_PIN` is set, when already pinned, or when `taskset` is missing
/// (then it says so).
pub fn pin_to_one_cpu() {
    if !cfg!(target_os = "linux")
        || std::env::var_os(PINNED).is_some()
        || std::env::var_os("BENCH_NO_PIN").is_some()
    {
        return;
    }
    let exe = std::env::current_exe().expect("current exe");
    let status = std::process::Command::new("taskset")
        .args(["-c", "0"])
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(PINNED, "0")
        .status();
    match status {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(e) => eprintln!("note: could not run taskset ({e}); running unpinned"),
    }
}

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

pub const PROJECT: &str = "d1a4c9a2-6c1e-4b2f-9d53-2f8e5b7a4c10";
pub const API_TOKEN: &str = "PT4f6c0a9b2e7d13f58a6c4e9b0d2f7a1c3e5b8d0f6a2c4e";
/// `Basic base64(PROJECT:API_TOKEN)`; the responder answers 401 to anything else.
pub const AUTHORIZATION: &str = "Basic ZDFhNGM5YTItNmMxZS00YjJmLTlkNTMtMmY4ZTViN2E0YzEwOlBUNGY2YzBhOWIyZTdkMTNmNThhNmM0ZTliMGQyZjdhMWMzZTViOGQwZjZhMmM0ZQ==";
pub const PATH: &str = "/api/pubsub/tokens";

/// A JWT-shaped token of 600 characters, about what the API returns.
pub fn token() -> String {
    let header = "eyJ0eXAiOiJWUlQiLCJjaCI6InB1YnN1Yi5zaWduYWx3aXJlLmNvbSIsImFsZyI6IkhTNTEyIn0";
    let mut payload = String::from("eyJpYXQiOjE3MzI3NTgwMDAsImp0aSI6IjhmMmE");
    let signature: String = (0..86)
        .map(|i| b"AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_"[i % 38] as char)
        .collect();
    while header.len() + payload.len() + signature.len() + 2 < 600 {
        payload.push(b"QWERTYUIOPasdfghjklzxcvbnm0123456789"[payload.len() % 36] as char);
    }
    format!("{header}.{payload}.{signature}")
}

/// The 200 body: `{"token":"…"}`.
pub fn token_body() -> String {
    format!("{{\"token\":\"{}\"}}", token())
}

/// A JSON object whose compact serialization (sorted keys, as miniserde
/// writes it) is exactly `chars` characters.
pub fn state_json(chars: usize) -> String {
    let fixed = r#"{"cart":{"items":3,"total":"42.50"},"locale":"en-GB","note":"","role":"agent","vip":true}"#;
    assert!(chars >= fixed.len());
    let pad: String = (0..chars - fixed.len())
        .map(|i| b"abcdefghijklmnopqrstuvwxyz"[i % 26] as char)
        .collect();
    let s = fixed.replace("\"note\":\"\"", &format!("\"note\":\"{pad}\""));
    assert_eq!(s.len(), chars);
    s
}

/// One channel of a request: name, read, write.
pub type Channel = (String, bool, bool);

/// A request's parts, to build each contender's own request type from.
pub struct Fixture {
    pub name: &'static str,
    pub ttl: u32,
    pub channels: Vec<Channel>,
    pub member_id: String,
    pub state: String,
}

/// 3 channels (read, read-write, write), a member id, a 200-character state.
pub fn typical() -> Fixture {
    Fixture {
        name: "typical (3 channels, member id, 200-char state)",
        ttl: 15,
        channels: vec![
            ("lobby".into(), true, false),
            ("room-42".into(), true, true),
            ("notifications.alice".into(), false, true),
        ],
        member_id: "alice@example.com".into(),
        state: state_json(200),
    }
}

/// The largest valid request: 500 channels of 250 characters, a member id of
/// 250 characters, a 2,000-character state.
pub fn largest() -> Fixture {
    let channels = (0..500)
        .map(|i| {
            let mut name = format!("tenant-7/room-{i:03}/");
            while name.len() < 250 {
                name.push(b"abcdefghijklmnopqrstuvwxyz0123456789-_."[name.len() % 39] as char);
            }
            (name, i % 3 != 2, i % 3 != 0)
        })
        .collect();
    Fixture {
        name: "largest (500 channels of 250 chars, 250-char member id, 2,000-char state)",
        ttl: 43_200,
        channels,
        member_id: "m".repeat(250),
        state: state_json(2000),
    }
}

/// The fixture as a [`TokenRequest`]; checks that its state is sent as given.
pub fn crate_request(f: &Fixture) -> TokenRequest {
    let mut request = TokenRequest::new(f.ttl);
    for (name, read, write) in &f.channels {
        let access = Access {
            read: *read,
            write: *write,
        };
        request = request.channel(name.clone(), access);
    }
    let request = request.member_id(f.member_id.clone()).state_json(&f.state);
    assert_eq!(
        request.state.as_ref().and_then(|s| s.as_json()),
        Some(f.state.as_str())
    );
    request
}

/// A client of the crate for `space`, with the fixtures' credentials.
pub fn client(space: &str) -> Client {
    Client::builder(space, PROJECT, API_TOKEN)
        .no_proxy()
        .build()
        .unwrap()
}

/// The `User-Agent` value in request bytes the crate sent (see
/// [`Responder::capture_crate_request`]): the crate's default user agent,
/// whichever package compiles this module.
pub fn user_agent_of(request: &[u8]) -> String {
    let end = find(request, b"\r\n\r\n").unwrap_or(request.len());
    request[..end]
        .split(|b| *b == b'\n')
        .find_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let colon = line.iter().position(|b| *b == b':')?;
            let name = &line[..colon];
            name.eq_ignore_ascii_case(b"user-agent")
                .then(|| String::from_utf8_lossy(line[colon + 1..].trim_ascii()).into_owned())
        })
        .expect("the crate sends a User-Agent")
}

/// The baseline of the round-trip benches: a stock `ureq::Agent`
/// (`Agent::new_with_config`, ureq's own resolver and connector) with the
/// configuration `ClientBuilder::build` gives a loopback `http://` space with
/// `no_proxy()` and default settings: statuses not turned into errors, no
/// redirects, `https_only(false)`, pooled connections kept at most 4 s, the
/// default overall timeout (30 s) and resolve and connect timeouts (10 s),
/// `user_agent` (the crate's: [`user_agent_of`]), no proxy. What it lacks is
/// the crate's transport (src/transport/).
pub fn bare_agent(user_agent: &str) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .https_only(false)
        .max_idle_age(Duration::from_secs(4))
        .timeout_global(Some(DEFAULT_TIMEOUT))
        .timeout_resolve(Some(DEFAULT_CONNECT_TIMEOUT))
        .timeout_connect(Some(DEFAULT_CONNECT_TIMEOUT))
        .user_agent(user_agent)
        .proxy(None)
        .build();
    ureq::Agent::new_with_config(config)
}

// ---------------------------------------------------------------------------
// Responder: a minimal std-only HTTP/1.1 server
// ---------------------------------------------------------------------------

/// A keep-alive HTTP/1.1 responder on 127.0.0.1: one thread per connection,
/// no allocation per request. It answers `POST /api/pubsub/tokens` carrying
/// [`AUTHORIZATION`] with 200 and a fixed token body in one write, anything
/// else with 401/404. It can keep the raw bytes of the first request it
/// reads, so the floor client can replay exactly what a client sent.
pub struct Responder {
    pub addr: SocketAddr,
    served: Arc<AtomicU64>,
    captured: Arc<Mutex<Option<Vec<u8>>>>,
    capture: Arc<std::sync::atomic::AtomicBool>,
}

impl Responder {
    pub fn start() -> Responder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let body = token_body();
        let ok: Arc<[u8]> = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
        .into();
        let served = Arc::new(AtomicU64::new(0));
        let captured = Arc::new(Mutex::new(None));
        let capture = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, c, k) = (served.clone(), captured.clone(), capture.clone());
        std::thread::Builder::new()
            .name("responder".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let (ok, s, c, k) = (ok.clone(), s.clone(), c.clone(), k.clone());
                    std::thread::spawn(move || serve(stream, &ok, &s, &c, &k));
                }
            })
            .unwrap();
        Responder {
            addr,
            served,
            captured,
            capture,
        }
    }

    /// `http://127.0.0.1:PORT`, the client's `space`.
    pub fn space(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The full endpoint URL.
    pub fn url(&self) -> String {
        format!("http://{}{PATH}", self.addr)
    }

    /// Requests answered 200 so far.
    pub fn served(&self) -> u64 {
        self.served.load(Relaxed)
    }

    /// Keeps the next request's raw bytes; [`Responder::captured`] returns them.
    pub fn capture_next(&self) {
        *self.captured.lock().unwrap() = None;
        self.capture.store(true, Relaxed);
    }

    pub fn captured(&self) -> Option<Vec<u8>> {
        self.captured.lock().unwrap().clone()
    }

    /// The bytes `create_token` sends for the typical request, as read here:
    /// what the floor client replays.
    pub fn capture_crate_request(&self) -> Vec<u8> {
        self.capture_next();
        client(&self.space())
            .create_token(&crate_request(&typical()))
            .unwrap();
        self.captured().expect("request captured")
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Parses the head in `buf[..end]`: (path ok, authorized, content length).
fn parse_head(head: &[u8]) -> (bool, bool, usize) {
    let mut lines = head.split(|b| *b == b'\n');
    let request_line = lines.next().unwrap_or_default();
    let path_ok = request_line.starts_with(b"POST /api/pubsub/tokens ");
    let (mut authorized, mut length) = (false, 0usize);
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") {
            length = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
        } else if name.eq_ignore_ascii_case(b"authorization") {
            authorized = value == AUTHORIZATION.as_bytes();
        }
    }
    (path_ok, authorized, length)
}

fn serve(
    mut stream: TcpStream,
    ok: &[u8],
    served: &AtomicU64,
    captured: &Mutex<Option<Vec<u8>>>,
    capture: &std::sync::atomic::AtomicBool,
) {
    const UNAUTHORIZED: &[u8] = b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 24\r\n\r\n{\"error\":\"Unauthorized\"}";
    const NOT_FOUND: &[u8] =
        b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 256 * 1024];
    let mut filled = 0usize;
    loop {
        // Read until a whole request (head and body) is buffered.
        let (head_end, path_ok, authorized, length) = loop {
            if let Some(end) = find(&buf[..filled], b"\r\n\r\n") {
                let (p, a, l) = parse_head(&buf[..end]);
                if filled >= end + 4 + l {
                    break (end + 4, p, a, l);
                }
                if end + 4 + l > buf.len() {
                    buf.resize(end + 4 + l, 0);
                }
            } else if filled == buf.len() {
                return; // head too large
            }
            match stream.read(&mut buf[filled..]) {
                Ok(0) | Err(_) => return,
                Ok(n) => filled += n,
            }
        };
        let total = head_end + length;
        if capture.swap(false, Relaxed) {
            *captured.lock().unwrap() = Some(buf[..total].to_vec());
        }
        let response = match (path_ok, authorized) {
            (false, _) => NOT_FOUND,
            (true, false) => UNAUTHORIZED,
            (true, true) => {
                served.fetch_add(1, Relaxed);
                ok
            }
        };
        if stream.write_all(response).is_err() {
            return;
        }
        buf.copy_within(total..filled, 0);
        filled -= total;
    }
}

// ---------------------------------------------------------------------------
// The floor: fixed request bytes on a raw TcpStream
// ---------------------------------------------------------------------------

/// Writes fixed request bytes in one `write` on a kept-alive `TcpStream`
/// (`TCP_NODELAY`, like ureq) and reads the response by its Content-Length:
/// no HTTP library, no JSON.
pub struct RawClient {
    stream: TcpStream,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl RawClient {
    pub fn connect(addr: SocketAddr, request: Vec<u8>) -> RawClient {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        RawClient {
            stream,
            request,
            buf: vec![0u8; 64 * 1024],
        }
    }

    /// One round trip; returns the status and body length.
    pub fn call(&mut self) -> (u16, usize) {
        self.stream.write_all(&self.request).expect("write");
        let mut filled = 0usize;
        loop {
            let n = self.stream.read(&mut self.buf[filled..]).expect("read");
            assert!(n > 0, "responder closed the connection");
            filled += n;
            if let Some(end) = find(&self.buf[..filled], b"\r\n\r\n") {
                let head = &self.buf[..end];
                let status = std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap();
                let length = content_length(head);
                while filled < end + 4 + length {
                    let n = self.stream.read(&mut self.buf[filled..]).expect("read");
                    assert!(n > 0, "responder closed the connection");
                    filled += n;
                }
                return (status, length);
            }
        }
    }
}

fn content_length(head: &[u8]) -> usize {
    head.split(|b| *b == b'\n')
        .skip(1)
        .find_map(|line| {
            let colon = line.iter().position(|b| *b == b':')?;
            let name = &line[..colon];
            name.eq_ignore_ascii_case(b"content-length").then(|| {
                std::str::from_utf8(line[colon + 1..].trim_ascii())
                    .ok()?
                    .parse()
                    .ok()
            })?
        })
        .unwrap_or(0)
}
