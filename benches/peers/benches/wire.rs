//! peers `wire`: the crate's request encoding and response decoding against
//! serde_json doing the same job, per token, with heap allocations counted.
//! serde_json writes exactly the crate's bytes (checked), its state either
//! kept as serialized JSON (`RawValue`, as the crate keeps it) or as a
//! `serde_json::Value`; it decodes into `struct { token: String }`.
//!
//! Run (from the crate's root): `cargo bench -j2 --manifest-path
//! benches/peers/Cargo.toml --bench wire` (about 20 s; `BENCH_ROUNDS=N` for
//! more rounds).

use std::hint::black_box;
use std::time::UNIX_EPOCH;

use signalwire_pubsub::Token;
use signalwire_pubsub_peers::common::{self, Contender, Fixture, Settings};
use signalwire_pubsub_peers::{serde_request_raw, serde_request_value, SerdeToken};

#[global_allocator]
static ALLOC: common::Counting = common::Counting;

fn bench(fixture: &Fixture, settings: &Settings) {
    let request = common::crate_request(fixture);
    let raw = serde_request_raw(fixture);
    let value = serde_request_value(fixture);
    let body = common::token_body();
    let body = body.as_bytes();
    let ours = request.to_json().unwrap();
    assert_eq!(serde_json::to_string(&raw).unwrap(), ours);
    assert_eq!(serde_json::to_string(&value).unwrap(), ours);

    println!("\n### {}", fixture.name);
    let (a, b, _) = common::allocs_of(|| request.to_json().unwrap());
    let (c, d, _) = common::allocs_of(|| Token::from_body(body, &request, UNIX_EPOCH));
    println!("allocations per call: ours: to_json {a} ({b} bytes), from_body {c} ({d} bytes)");
    let (a, b, _) = common::allocs_of(|| serde_json::to_string(&raw).unwrap());
    let (c, d, _) = common::allocs_of(|| serde_json::from_slice::<SerdeToken>(body).unwrap());
    println!(
        "  serde_json: to_string {a} ({b} bytes), from_slice {c} ({d} bytes); with a Value state: to_string {}",
        common::allocs_of(|| serde_json::to_string(&value).unwrap()).0
    );

    let mut contenders = vec![
        Contender::new("signalwire-pubsub: encode + decode", |n| {
            for _ in 0..n {
                black_box(request.to_json().unwrap());
                black_box(Token::from_body(black_box(body), &request, UNIX_EPOCH).unwrap());
            }
        }),
        Contender::new("serde_json, RawValue state: encode + decode", |n| {
            for _ in 0..n {
                black_box(serde_json::to_string(&raw).unwrap());
                black_box(serde_json::from_slice::<SerdeToken>(black_box(body)).unwrap());
            }
        }),
        Contender::new("serde_json, Value state: encode + decode", |n| {
            for _ in 0..n {
                black_box(serde_json::to_string(&value).unwrap());
                black_box(serde_json::from_slice::<SerdeToken>(black_box(body)).unwrap());
            }
        }),
        Contender::new("signalwire-pubsub: to_json", |n| {
            for _ in 0..n {
                black_box(request.to_json().unwrap());
            }
        }),
        Contender::new("serde_json, RawValue state: to_string", |n| {
            for _ in 0..n {
                black_box(serde_json::to_string(&raw).unwrap());
            }
        }),
        Contender::new("signalwire-pubsub: from_body", |n| {
            for _ in 0..n {
                black_box(Token::from_body(black_box(body), &request, UNIX_EPOCH).unwrap());
            }
        }),
        Contender::new("serde_json: from_slice", |n| {
            for _ in 0..n {
                black_box(serde_json::from_slice::<SerdeToken>(black_box(body)).unwrap());
            }
        }),
    ];
    let results = common::run(settings, &mut contenders);
    print!(
        "{}",
        results.table(&format!("wire, {}", fixture.name), &[1])
    );
    for line in [
        results.target(
            "encode + decode vs serde_json, RawValue (<= 1.0)",
            "signalwire-pubsub: encode + decode",
            "serde_json, RawValue state: encode + decode",
            1.0,
        ),
        results.target(
            "encode + decode vs serde_json, Value (<= 1.0)",
            "signalwire-pubsub: encode + decode",
            "serde_json, Value state: encode + decode",
            1.0,
        ),
        results.target(
            "encode vs serde_json (informative)",
            "signalwire-pubsub: to_json",
            "serde_json, RawValue state: to_string",
            1.0,
        ),
        results.target(
            "decode vs serde_json (informative)",
            "signalwire-pubsub: from_body",
            "serde_json: from_slice",
            1.0,
        ),
    ] {
        println!("{line}");
    }
}

fn main() {
    println!("# peers wire: this crate's JSON against serde_json's, per token");
    println!("{}", common::machine());
    let settings = Settings::from_env(12, 20);
    bench(&common::typical(), &settings);
    bench(&common::largest(), &settings);
}
