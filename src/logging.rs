//! The `log` feature's records, target `signalwire_pubsub`: one `debug`
//! record per attempt (service, URL, attempt number), one `info` record per
//! retry (what failed, how far the attempt got, how long the wait is), one
//! `debug` record per call's outcome (attempts, time taken, what failed),
//! every call's, those refused before sending included ([`outcome`]).
//!
//! A record holds only what the crate itself knows: the service, the URL
//! (which can hold no user info), numbers, durations, a status, an error's
//! kind. Never the request, a header, the API token, a token, or any text a
//! server sent, scrubbed or not. Without the feature, no record is made and
//! the `log` crate is not a dependency.

use std::time::Duration;

use crate::error::Error;
use crate::request::Service;
use crate::response::Token;
use crate::scope::Stage;

/// `log::$level!` with the crate's target; without the feature, nothing
/// (the arguments are checked, in a closure never called, but not run).
macro_rules! log_at {
    ($level:ident, $($arg:tt)+) => {{
        #[cfg(feature = "log")]
        ::log::$level!(target: "signalwire_pubsub", $($arg)+);
        #[cfg(not(feature = "log"))]
        let _ = || {
            let _ = format_args!($($arg)+);
        };
    }};
}
pub(crate) use log_at;

/// The record of a call's outcome, whatever it is: the one place it is made.
pub(crate) fn outcome(service: Service, result: &Result<Token, Error>, took: Duration) {
    match result {
        Ok(token) => log_at!(
            debug,
            "{service} token minted after {} attempt(s) in {took:?}",
            token.attempts()
        ),
        Err(err) => log_at!(
            debug,
            "{service} call failed after {} attempt(s) in {took:?}: {}",
            err.attempts(),
            failure(err, None)
        ),
    }
}

/// What failed, for a record: a status, an error's kind and, for a failed
/// attempt, how far it got (`None` for a call's outcome). No server text.
pub(crate) fn failure(err: &Error, stage: Option<Stage>) -> String {
    let what = match err {
        Error::InvalidRequest { field, .. } => format!("invalid request ({field})"),
        Error::Config { .. } => "invalid configuration".to_owned(),
        Error::Transport { kind, .. } => format!("transport error: {kind}"),
        Error::Timeout {
            connecting: true, ..
        } => "connect timeout".to_owned(),
        Error::Timeout { .. } => "timeout".to_owned(),
        Error::Cancelled { .. } => "cancelled".to_owned(),
        Error::InvalidResponse { status, .. } => format!("invalid response to HTTP {status}"),
        _ => match err.status() {
            Some(status) => format!("HTTP {status}"),
            None => "error".to_owned(),
        },
    };
    match stage {
        Some(Stage::NotSent) => format!("{what}, nothing sent"),
        Some(Stage::StalePooled) => {
            format!("{what}: the server had closed the kept-alive connection")
        }
        Some(Stage::Sent) | None => what,
    }
}
