//! The transport: everything that implements or calls ureq's `unversioned`
//! API, which ureq may change in any minor release (hence `ureq = "~3.5"`
//! in `Cargo.toml`). No file outside this folder imports it.
//!
//! - `connector.rs`: [`LazyResolver`] (ureq 3.5 resolves before it looks in
//!   its pool, on a new thread whenever a timeout is set; this resolver only
//!   marks the address as unresolved) and [`ClientConnector`], ureq's own
//!   chain (CONNECT proxy, TCP, then the deadline's cap and TLS), which runs
//!   only for a new connection: it looks the host up, keeps the set-up
//!   within the connect timeout and the attempt's end, and hands the socket
//!   to the call watched by a cancel.
//! - `deadline_cap.rs`: the layer over the TCP connection that cuts every
//!   read and write at the attempt's end and waits for input in slices.
//! - `one_write.rs`: sends a request in one write (ureq writes head and body
//!   separately), probes a pooled connection once instead of twice.
//!
//! Each piece reads and records the call in flight on the calling thread
//! (`scope.rs`) as it takes each step: that decides whether a failed attempt
//! is retried and which limit a timeout names, never an error's kind or
//! text.
//!
//! # Upgrading ureq
//!
//! Supported: ureq 3.5.x (tested with 3.5.2). Move the pin to a new minor
//! version only after this checklist; each item names what proves it.
//!
//! 1. The traits still compile as used, and `Box<dyn Transport>` still
//!    forwards `await_input`, `transmit_output`, `is_open` and `buffers`
//!    (build).
//! 2. [`ClientConnector`] chains ureq's connectors by hand as ureq's
//!    `DefaultConnector` does, less its SOCKS warning and its
//!    missing-TLS-provider checks: compare with the new `DefaultConnector`
//!    and copy any link it gained (`tests/proxy.rs`, `tests/tls.rs`, and CI's
//!    native-tls run).
//! 3. ureq still calls the resolver before its pool lookup and the connector
//!    only for a new connection (`benches/strace_roundtrip.sh`: no resolver
//!    thread per call; `tests/tls.rs`: one handshake for three calls).
//! 4. A request is still written as head then body, with a `Content-Length`
//!    header, on the calling thread (the strace count of `sendto`, 1 per
//!    call; `one_write.rs`'s unit tests check the crate's side only: one
//!    write, held bytes always sent, never twice; `tests/faults.rs`
//!    keep-alive tests: the stage is recorded on the calling thread).
//! 5. ureq still probes a pooled connection with `is_open` before reuse and
//!    when it returns it to the pool (`one_probe_per_reuse`, and the strace
//!    count of `ioctl`s).
//! 6. Request-level `max_idle_age(0)` still keeps ureq from reusing a pooled
//!    connection (in 3.5 `Pool::get` drops every idle one to the host rather
//!    than skipping it: correct, at the cost of reconnecting; no test isolates
//!    this, as the keep-alive tests have one pooled connection at a time).
//!    ureq's CONNECT connector still looks the proxy up with the resolver
//!    it is given and passes the connect's `now` and budget on unchanged
//!    (the set-up's budget is the connector's, `tests/proxy.rs`).
//! 7. With no overall timeout configured, ureq still asks reads and writes
//!    for no limit or its per-phase ones (the cap supplies the deadline),
//!    `TcpTransport` still sets a socket timeout only when its value
//!    changes, and a timed-out read still consumes nothing (the strace count
//!    of `setsockopt`, about 0 per call; `deadline_cap.rs`'s unit tests
//!    check the crate's slicing only).
//! 8. `TcpConnector` still splits the budget among the addresses with each
//!    share truncated by less than a millisecond (the set-up adds one per
//!    address: `connector.rs`'s unit test replays ureq 3.5's arithmetic),
//!    and still registers each socket's shutdown handle straight after
//!    connecting (`tests/faults.rs`: a connect timeout never ends early;
//!    `tests/call.rs`: a cancel ends a TLS handshake). ureq's CONNECT
//!    connector and TLS connectors still do their I/O through the chained
//!    transport, so the cap bounds it by the set-up's end
//!    (`tests/proxy.rs`: a proxy trickling its answer).
//! 9. The mapping of ureq's errors to `TransportKind` (in `client.rs`) still
//!    covers its `Error` enum (`tests/faults.rs`, `tests/tls.rs`).
//!
//! Then run `bash .ci/run` and the round-trip bench (`benches/README.md`),
//! and widen the pin.

mod connector;
mod deadline_cap;
mod one_write;

use connector::{ClientConnector, LazyResolver};

/// The agent a client runs on: ureq with `config`, and this crate's
/// resolver and connector for the API host `host`.
pub(crate) fn agent(config: ureq::config::Config, host: &ureq::http::Uri) -> ureq::Agent {
    ureq::Agent::with_parts(config, ClientConnector::new(host), LazyResolver)
}

/// The error a connector returns for a cancelled call (the client reports
/// `Error::Cancelled` whatever ureq makes of it).
fn cancelled() -> ureq::Error {
    ureq::Error::Io(std::io::Error::new(
        std::io::ErrorKind::Interrupted,
        "the call was cancelled",
    ))
}
