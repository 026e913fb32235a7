//! `wire`: the CPU cost of the JSON, per token: validating and writing the
//! request body (`TokenRequest::to_json`) and decoding the 200 body
//! (`Token::from_body`), with heap allocations counted by a global
//! allocator. No I/O.
//!
//! Run: `cargo bench --bench wire` (about 15 s; `BENCH_ROUNDS=N` for more
//! rounds, see benches/common/mod.rs for the other knobs).
//!
//! Two requests: a typical one (3 channels, a member id, a 200-character
//! state) and the largest valid one (500 channels of 250 characters, a
//! 250-character member id, a 2,000-character state); the response is a
//! 600-character token. The crate writes the body into one buffer sized up
//! front, copying each string whole when it needs no escape, and slices the
//! token out of a body that is exactly `{"token":"…"}` with nothing to
//! unescape (anything else goes through miniserde). The in-crate reference is
//! the same job with miniserde's derive (channels then carry both rights,
//! `false` included, as the derive cannot skip a field). serde_json is
//! measured on the same job in benches/peers
//! (`cargo bench -j2 --manifest-path benches/peers/Cargo.toml --bench wire`).

mod common;
#[path = "common/mini.rs"]
mod mini;

use std::hint::black_box;
use std::time::UNIX_EPOCH;

use common::{Contender, Fixture, Settings};
use mini::{mini_request, MiniToken};
use miniserde::json;
use signalwire_pubsub::Token;

#[global_allocator]
static ALLOC: common::Counting = common::Counting;

fn bench(fixture: &Fixture, settings: &Settings) {
    let request = common::crate_request(fixture);
    let mini = mini_request(fixture);
    let body = common::token_body();
    let body = body.as_bytes();

    // Allocations of one call of each step, and the sizes involved.
    let (enc_allocs, enc_bytes, json_text) = common::allocs_of(|| request.to_json().unwrap());
    let (dec_allocs, dec_bytes, token) =
        common::allocs_of(|| Token::from_body(body, &request, UNIX_EPOCH).unwrap());
    assert_eq!(token.token(), common::token());
    let (mini_enc_allocs, _, mini_text) = common::allocs_of(|| json::to_string(&mini));
    let (mini_dec_allocs, _, _) = common::allocs_of(|| {
        json::from_str::<MiniToken>(std::str::from_utf8(body).unwrap()).unwrap()
    });
    println!("\n### {}", fixture.name);
    println!(
        "request body {} bytes (miniserde derive: {} bytes); response body {} bytes",
        json_text.len(),
        mini_text.len(),
        body.len()
    );
    println!(
        "allocations: to_json {enc_allocs} ({enc_bytes} bytes, body capacity {}), \
         from_body {dec_allocs} ({dec_bytes} bytes); miniserde derive: encode {mini_enc_allocs}, decode {mini_dec_allocs}",
        json_text.capacity()
    );
    println!(
        "needed: 3 per token (the body, the token, the member id copy that Token owns); \
         the crate makes {}",
        enc_allocs + dec_allocs
    );

    let mut contenders = vec![
        Contender::new("signalwire-pubsub: encode + decode", |n| {
            for _ in 0..n {
                let text = request.to_json().unwrap();
                black_box(&text);
                black_box(Token::from_body(black_box(body), &request, UNIX_EPOCH).unwrap());
            }
        }),
        Contender::new("signalwire-pubsub: to_json", |n| {
            for _ in 0..n {
                black_box(request.to_json().unwrap());
            }
        }),
        Contender::new("signalwire-pubsub: from_body", |n| {
            for _ in 0..n {
                black_box(Token::from_body(black_box(body), &request, UNIX_EPOCH).unwrap());
            }
        }),
        Contender::new("miniserde derive: encode + decode", |n| {
            for _ in 0..n {
                black_box(json::to_string(&mini));
                let text = std::str::from_utf8(black_box(body)).unwrap();
                black_box(json::from_str::<MiniToken>(text).unwrap().token);
            }
        }),
    ];
    let results = common::run(settings, &mut contenders);
    print!(
        "{}",
        results.table(&format!("wire, {}", fixture.name), &[0])
    );
    println!(
        "{}",
        results.target(
            "ours vs miniserde derive (informative)",
            "signalwire-pubsub: encode + decode",
            "miniserde derive: encode + decode",
            1.0
        )
    );
}

fn main() {
    println!("# wire: request JSON out, response JSON in, per token");
    println!("{}", common::machine());
    let settings = Settings::from_env(15, 20);
    bench(&common::typical(), &settings);
    bench(&common::largest(), &settings);
}
