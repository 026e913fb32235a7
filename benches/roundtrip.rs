//! `roundtrip`: one `create_token` over a kept-alive loopback connection,
//! against the floor and a bare ureq call doing the same job.
//!
//! Run: `cargo bench --bench roundtrip` (about 10 s; `BENCH_ROUNDS=N` for
//! more rounds, see benches/common/mod.rs for the other knobs).
//!
//! The server is a minimal std-only HTTP/1.1 responder in this process
//! (benches/common), not tiny_http, which would be the bottleneck. Contenders,
//! all on their own kept-alive connection, the typical request (3 channels,
//! member id, 200-character state), run interleaved round by round:
//!
//! - floor: the exact bytes `create_token` sends (captured once by the
//!   responder), written in one `write` on a raw `TcpStream`, the response
//!   read by Content-Length; no HTTP library, no JSON.
//! - signalwire-pubsub: `Client::create_token`: validation, the crate's JSON
//!   writer and token slicer, and its transport (src/transport/:
//!   no name lookup on a pooled connection, the request in one
//!   write, one pool probe per call, ms-rounded socket timeouts).
//! - bare ureq + miniserde: the baseline. A stock `ureq::Agent`
//!   (`Agent::new_with_config`) with the crate's configuration but not its
//!   transport (`common::bare_agent`: no proxy, no redirects,
//!   `http_status_as_error(false)`, 4 s idle age, 30 s global, 10 s resolve
//!   and connect timeouts, same user agent), miniserde-derived request and
//!   response types, a pre-parsed URI and pre-built `Authorization` value.
//! - bare ureq, no timeouts: the same without timeouts, to show what stock
//!   ureq's per-call resolver thread costs (it resolves before it looks in
//!   its pool, on a new thread whenever a timeout is set).
//!
//! On Linux the bench re-executes itself under `taskset -c 0` (guarded by
//! `SWPS_BENCH_PINNED`) so client and server threads share one CPU: unpinned,
//! on this 2-core machine the figures are bimodal (each wake-up may or may not
//! cross CPUs). `BENCH_NO_PIN=1` turns that off; without taskset, run
//! `taskset -c 0 cargo bench --bench roundtrip`.
//!
//! For syscall counts, benches/strace_roundtrip.sh runs one contender in a
//! loop under `strace -f -c` against a responder in another process, using
//! this binary's `--serve SECONDS` and `--calls NAME N ADDR` modes.

mod common;
#[path = "common/mini.rs"]
mod mini;

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use common::{Contender, Fixture, RawClient, Responder, Settings};
use mini::{mini_request, MiniRequest, MiniToken};
use miniserde::json;
use signalwire_pubsub::TokenRequest;
use ureq::http::{HeaderValue, Uri};

#[global_allocator]
static ALLOC: common::Counting = common::Counting;

/// A bare ureq call: serialize, POST, read at most 64 KiB, decode.
struct Bare {
    agent: ureq::Agent,
    uri: Uri,
    authorization: HeaderValue,
    request: MiniRequest,
}

impl Bare {
    fn new(agent: ureq::Agent, url: &str, f: &Fixture) -> Bare {
        Bare {
            agent,
            uri: url.parse().unwrap(),
            authorization: HeaderValue::from_static(common::AUTHORIZATION),
            request: mini_request(f),
        }
    }

    fn call(&self) -> String {
        let body = json::to_string(&self.request);
        let mut response = self
            .agent
            .post(self.uri.clone())
            .header("authorization", self.authorization.clone())
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .send(body.as_bytes())
            .expect("send");
        assert_eq!(response.status(), 200);
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_vec()
            .expect("body");
        let token: MiniToken = json::from_str(std::str::from_utf8(&body).unwrap()).unwrap();
        token.token
    }
}

/// The contenders against `addr`, sending `request` (the typical one);
/// `floor_bytes` are the request bytes the floor replays.
fn contenders(
    addr: SocketAddr,
    floor_bytes: Vec<u8>,
    request: &TokenRequest,
) -> Vec<Contender<'_>> {
    let fixture = common::typical();
    let space = format!("http://{addr}");
    let url = format!("{space}{}", common::PATH);
    let user_agent = common::user_agent_of(&floor_bytes);
    let mut raw = RawClient::connect(addr, floor_bytes);
    let ours = common::client(&space);
    let bare = Bare::new(common::bare_agent(&user_agent), &url, &fixture);
    let no_timeouts = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(&user_agent)
        .proxy(None)
        .build()
        .new_agent();
    let bare_untimed = Bare::new(no_timeouts, &url, &fixture);
    vec![
        Contender::new("floor (raw TcpStream)", move |n| {
            for _ in 0..n {
                black_box(raw.call());
            }
        }),
        Contender::new("signalwire-pubsub", move |n| {
            for _ in 0..n {
                black_box(ours.create_token(request).unwrap());
            }
        }),
        Contender::new("bare ureq + miniserde", move |n| {
            for _ in 0..n {
                black_box(bare.call());
            }
        }),
        Contender::new("bare ureq, no timeouts", move |n| {
            for _ in 0..n {
                black_box(bare_untimed.call());
            }
        }),
    ]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["--serve", seconds] => return serve(seconds.parse().expect("seconds")),
        ["--calls", name, n, addr] => {
            return calls(name, n.parse().expect("count"), addr.parse().expect("addr"))
        }
        _ => {}
    }
    common::pin_to_one_cpu();

    let responder = Responder::start();
    let floor_bytes = responder.capture_crate_request();
    println!("# roundtrip: create_token over a kept-alive loopback connection");
    println!("{}", common::machine());
    println!(
        "request: {} bytes on the wire ({} head + body), response {} bytes of body",
        floor_bytes.len(),
        floor_bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(0, |p| p + 4),
        common::token_body().len()
    );

    let settings = Settings::from_env(12, 20);
    let request = common::crate_request(&common::typical());
    let mut contenders = contenders(responder.addr, floor_bytes, &request);
    let results = common::run(&settings, &mut contenders);
    let (floor, bare) = (0, 2);
    print!(
        "{}",
        results.table(
            "round trip, typical request (per call; allocs counted in all threads)",
            &[floor, bare]
        )
    );
    println!();
    for line in [
        results.target(
            "ours vs bare ureq (<= 1.05)",
            "signalwire-pubsub",
            "bare ureq + miniserde",
            1.05,
        ),
        results.target(
            "ours vs floor (<= 2.0)",
            "signalwire-pubsub",
            "floor (raw TcpStream)",
            2.0,
        ),
    ] {
        println!("{line}");
    }
    println!(
        "(reqwest is measured in benches/peers; responder served {} requests)",
        responder.served()
    );
}

/// `--serve SECONDS`: a responder in its own process, for strace runs.
fn serve(seconds: u64) {
    let responder = Responder::start();
    println!("{}", responder.addr);
    std::thread::sleep(Duration::from_secs(seconds));
}

/// `--calls NAME N ADDR`: `N` calls of one contender (after one warm-up
/// call), for `strace -f -c`.
fn calls(name: &str, n: u64, addr: SocketAddr) {
    // The floor replays what the crate sends; get it from this responder.
    let floor_bytes = {
        let local = Responder::start();
        local.capture_crate_request()
    };
    let request = common::crate_request(&common::typical());
    let mut all = contenders(addr, floor_bytes, &request);
    let contender = all
        .iter_mut()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no contender {name:?}"));
    (contender.run)(1);
    let (allocs, bytes, _) = common::allocs_of(|| (contender.run)(n));
    eprintln!(
        "{name}: {n} calls, {:.1} allocs and {:.0} bytes per call",
        allocs as f64 / n as f64,
        bytes as f64 / n as f64
    );
}
