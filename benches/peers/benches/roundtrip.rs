//! peers `roundtrip`: the crate's `create_token` against reqwest::blocking
//! and ureq, each with serde_json, doing the same job (same request bytes,
//! same headers, decode the token) on a kept-alive loopback connection to the
//! same std-only responder, in the same run, with the raw-socket floor.
//!
//! Run (from the crate's root): `cargo bench -j2 --manifest-path
//! benches/peers/Cargo.toml --bench roundtrip` (about 10 s; `BENCH_ROUNDS=N`
//! for more rounds). Pinned to one CPU by re-executing under `taskset -c 0`,
//! like the crate's own `roundtrip` bench (`BENCH_NO_PIN=1` to turn off).
//!
//! Contenders: the floor and signalwire-pubsub as in benches/roundtrip.rs;
//! reqwest::blocking + serde_json (30 s timeout, 10 s connect timeout, no
//! proxy); ureq + serde_json on a stock agent with the crate's configuration
//! but not its transport (`common::bare_agent`: 30 s global, 10 s resolve
//! and connect timeouts, 4 s idle age, no proxy, no redirects) and on one
//! with ureq's defaults (no timeouts).

use std::hint::black_box;
use std::time::Duration;

use signalwire_pubsub_peers::common::{self, Contender, RawClient, Responder, Settings};
use signalwire_pubsub_peers::{serde_request_raw, SerdeToken};

#[global_allocator]
static ALLOC: common::Counting = common::Counting;

fn main() {
    common::pin_to_one_cpu();
    let responder = Responder::start();
    let floor_bytes = responder.capture_crate_request();
    println!("# peers roundtrip: the same POST with reqwest, ureq and this crate");
    println!("{}", common::machine());

    let fixture = common::typical();
    let url = responder.url();
    let request = common::crate_request(&fixture);
    let serde_request = serde_request_raw(&fixture);
    assert_eq!(
        serde_json::to_string(&serde_request).unwrap(),
        request.to_json().unwrap(),
        "serde writes the crate's bytes"
    );

    let user_agent = common::user_agent_of(&floor_bytes);
    let mut raw = RawClient::connect(responder.addr, floor_bytes);
    let ours = common::client(&responder.space());

    let ureq_like_ours = common::bare_agent(&user_agent);
    let ureq_defaults = ureq::Agent::new_with_defaults();
    let ureq_call = |agent: &ureq::Agent| {
        let mut response = agent
            .post(&url)
            .header("authorization", common::AUTHORIZATION)
            .header("accept", "application/json")
            .send_json(&serde_request)
            .expect("send");
        assert_eq!(response.status(), 200);
        let token: SerdeToken = response.body_mut().read_json().expect("body");
        token.token
    };

    let reqwest = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .user_agent(&user_agent)
        .build()
        .unwrap();
    let reqwest_url = reqwest::Url::parse(&url).unwrap();
    let reqwest_call = || {
        let response = reqwest
            .post(reqwest_url.clone())
            .header("authorization", common::AUTHORIZATION)
            .header("accept", "application/json")
            .json(&serde_request)
            .send()
            .expect("send");
        assert_eq!(response.status(), 200);
        let token: SerdeToken = response.json().expect("body");
        token.token
    };

    let mut contenders = vec![
        Contender::new("floor (raw TcpStream)", |n| {
            for _ in 0..n {
                black_box(raw.call());
            }
        }),
        Contender::new("signalwire-pubsub", |n| {
            for _ in 0..n {
                black_box(ours.create_token(&request).unwrap());
            }
        }),
        Contender::new("reqwest::blocking + serde_json", |n| {
            for _ in 0..n {
                black_box(reqwest_call());
            }
        }),
        Contender::new("ureq + serde_json (crate's config)", |n| {
            for _ in 0..n {
                black_box(ureq_call(&ureq_like_ours));
            }
        }),
        Contender::new("ureq + serde_json (defaults)", |n| {
            for _ in 0..n {
                black_box(ureq_call(&ureq_defaults));
            }
        }),
    ];
    let settings = Settings::from_env(12, 20);
    let results = common::run(&settings, &mut contenders);
    print!(
        "{}",
        results.table(
            "round trip, typical request (per call; allocs counted in all threads)",
            &[0, 2]
        )
    );
    println!();
    for line in [
        results.target(
            "ours vs reqwest (<= 0.9)",
            "signalwire-pubsub",
            "reqwest::blocking + serde_json",
            0.9,
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
    println!("(responder served {} requests)", responder.served());
}
