//! Mint a SignalWire PubSub token (or, with `--chat`, a Chat token) from the
//! command line.
//!
//! With `SIGNALWIRE_SPACE`, `SIGNALWIRE_PROJECT_ID` and `SIGNALWIRE_API_TOKEN`
//! set it calls that space (any of them set, even empty, means the
//! environment is used); with none of them set, or with `--fake`, it mints
//! from the built-in fake, so `cargo run --example pubsub_token` works offline
//! (such a token is valid on no real space).
//!
//! Exit status: 0 token printed; 2 bad arguments (a non-UTF-8 one included),
//! settings or a request the client rejects locally; 1 an API or transport
//! failure, or stdout not writable; 141 stdout closed before the token could
//! be written (`pubsub_token | head -c0`), the status a shell reports for a
//! program killed by SIGPIPE, without a message.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use miniserde::json::{Object, Value};
use signalwire_pubsub::fake::FakeServer;
use signalwire_pubsub::{
    Access, Client, ClientBuilder, Error, Service, TokenRequest, MAX_TIMEOUT, MIN_TIMEOUT,
};

const USAGE: &str = "\
Usage: pubsub_token [--chat] [--ttl MINUTES] [--channel NAME=r|w|rw]... [--member-id ID]
                    [--state JSON] [--extra KEY=JSON]... [--json] [--timeout SECONDS]
                    [--retries N] [--fake] [--verbose] [--help] [--]

Mints a SignalWire PubSub token, or with --chat a Chat token, and prints it on stdout.

  --chat                 mint a Chat token (POST /api/chat/tokens): channel names
                         must not start with sw_, the API token needs the Chat scope
  --ttl MINUTES          token lifetime, 1 to 43200 (default 15)
  --channel NAME=r|w|rw  a channel and its rights: read, write or both;
                         repeatable, and the same NAME twice adds the rights
                         (--channel a=r --channel a=w is a=rw); default demo=rw
  --member-id ID         the member id (default: the server picks one)
  --state JSON           a JSON object stored with the member
  --extra KEY=JSON       an extra top-level field of the body, its value one JSON
                         value written as given (repeatable)
  --json                 print {\"expires_at\":...,\"token\":...} instead of the bare token
  --timeout SECONDS      limit on the whole call, retries included, 0.01 to 86400
                         (default 30)
  --retries N            how many times a failed attempt may be retried (default 2;
                         what is retried: the docs of Error::is_retryable)
  --fake                 mint from the built-in fake server even if SIGNALWIRE_* are set
  --verbose              print the client's log records on stderr: each attempt,
                         each retry and why, the outcome (never a secret)
  --help                 this text
  --                     ends the options (no operand may follow)

A value can be attached with '=', which also passes one that starts with --:
--member-id=--x.

Calls the space in SIGNALWIRE_SPACE with SIGNALWIRE_PROJECT_ID and
SIGNALWIRE_API_TOKEN (all three must be set and non-empty). With none of the
three set, or with --fake, mints from a built-in fake server instead: that
token is valid on no real space.

Exit status: 0 token printed; 1 API or network failure, or stdout not writable;
2 bad arguments, settings or request; 141 stdout closed before the token was
written (as for a program killed by SIGPIPE).";

const ENV_VARS: [&str; 3] = [
    "SIGNALWIRE_SPACE",
    "SIGNALWIRE_PROJECT_ID",
    "SIGNALWIRE_API_TOKEN",
];

/// The exit status when stdout is closed (a broken pipe): 128 + SIGPIPE, what a
/// shell reports for a program that SIGPIPE killed.
const CLOSED_STDOUT: u8 = 141;

struct Options {
    request: TokenRequest,
    service: Service,
    json: bool,
    fake: bool,
    verbose: bool,
    timeout: Option<Duration>,
    retries: Option<u32>,
}

/// `eprintln!` that does not panic when stderr is closed.
macro_rules! say {
    ($($arg:tt)*) => {
        say(format_args!($($arg)*))
    };
}

fn say(args: fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "{args}");
}

/// Writes `text` and a newline to stdout; on failure, the exit status.
fn print_out(text: &str, what: &str) -> Result<(), ExitCode> {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(ExitCode::from(CLOSED_STDOUT)),
        Err(e) => {
            say!("error: could not write {what} to stdout: {e}");
            Err(ExitCode::from(1))
        }
    }
}

/// Prints the client's own log records on stderr, and only those: ureq's
/// and ureq-proto's trace records hold raw request bytes, the
/// `Authorization` header among them.
struct Verbose;

static VERBOSE: Verbose = Verbose;

impl log::Log for Verbose {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target() == "signalwire_pubsub"
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            say!(
                "{}: {}",
                record.level().as_str().to_ascii_lowercase(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

fn run() -> Result<(), ExitCode> {
    let options = match parse_args(std::env::args_os().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => return print_out(USAGE, "the help"),
        Err(message) => {
            say!("error: {message}\n\n{USAGE}");
            return Err(ExitCode::from(2));
        }
    };
    let service = options.service;
    if options.verbose {
        // Set once, before any call; a second logger is impossible here.
        let _ = log::set_logger(&VERBOSE);
        log::set_max_level(log::LevelFilter::Debug);
    }
    // Checked first, so a bad request is reported the same way on the fake.
    if let Err(e) = options.request.validate_for(service) {
        say!("error: {e}");
        return Err(ExitCode::from(2));
    }

    // A variable that is set counts, even empty: a script whose secrets did
    // not load gets an error naming the empty one, never the fake's token.
    let set: Vec<&str> = ENV_VARS
        .into_iter()
        .filter(|name| std::env::var_os(name).is_some())
        .collect();
    let use_fake = options.fake || set.is_empty();
    let fake;
    let builder = if use_fake {
        fake = FakeServer::start("demo-project", "demo-api-token").map_err(|e| {
            say!("error: could not start the built-in fake server: {e}");
            ExitCode::from(1)
        })?;
        let why = match options.fake {
            true => "--fake given",
            false => "no SIGNALWIRE_* variables set",
        };
        say!(
            "note: {why}: minting from the built-in fake server at {}; \
             the token is valid on no real space",
            fake.url()
        );
        Ok(Client::builder(
            &fake.url(),
            "demo-project",
            "demo-api-token",
        ))
    } else {
        ClientBuilder::from_env()
    };
    let client = builder.and_then(|mut builder| {
        if let Some(timeout) = options.timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(retries) = options.retries {
            builder = builder.retries(retries);
        }
        builder.build()
    });
    let client = client.map_err(|e| {
        say!("error: {e}");
        // Only when the variables were read and some, not all, are set.
        if !use_fake && set.len() < ENV_VARS.len() {
            say!("(set all of {} or none of them)", ENV_VARS.join(", "));
        }
        ExitCode::from(2)
    })?;

    match client.mint(service, &options.request) {
        Ok(token) => {
            let line = match options.json {
                true => {
                    let expires_at = token.expires_at_rfc3339();
                    let mut out = Object::new();
                    out.insert("expires_at".into(), Value::String(expires_at));
                    out.insert("token".into(), Value::String(token.into_token()));
                    miniserde::json::to_string(&out)
                }
                false => token.into_token(),
            };
            print_out(&line, "the token")
        }
        Err(e @ (Error::InvalidRequest { .. } | Error::Config { .. })) => {
            say!("error: {e}");
            Err(ExitCode::from(2))
        }
        Err(e) => {
            let what = match e.status() {
                Some(_) => "the API answered with an error",
                None => "the request failed",
            };
            let attempts = e.attempts();
            let plural = if attempts == 1 { "" } else { "s" };
            // The count is said here once: drop the one `Display` adds.
            let text = e.to_string();
            let suffix = format!(" (after {attempts} attempts)");
            let text = text.strip_suffix(suffix.as_str()).unwrap_or(&text);
            let mut line = format!(
                "error: {what} ({attempts} attempt{plural} to {}): {text}",
                client.url_for(service)
            );
            // The underlying causes (connection refused, certificate unknown, ...).
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                line.push_str(&format!(": {c}"));
                cause = c.source();
            }
            say!("{line}");
            Err(ExitCode::from(1))
        }
    }
}

/// `Ok(None)` means `--help`. Arguments are numbered from 1 in messages.
fn parse_args(args: impl Iterator<Item = OsString>) -> Result<Option<Options>, String> {
    let mut args = args.enumerate().map(|(i, arg)| {
        let position = i + 1;
        arg.into_string()
            .map_err(|arg| format!("argument {position} is not valid UTF-8: {arg:?}"))
    });
    let mut request = TokenRequest::new(15);
    let (mut service, mut json, mut fake, mut verbose) = (Service::PubSub, false, false, false);
    let (mut timeout, mut retries) = (None, None);
    while let Some(arg) = args.next() {
        let arg = arg?;
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        // An attached value (`--flag=VALUE`) is taken as it is; a separate one
        // must not look like an option.
        let mut value = || match inline.clone() {
            Some(v) => Ok(v),
            None => match args.next().transpose()? {
                Some(v) if !v.starts_with("--") => Ok(v),
                _ => Err(format!(
                    "{flag} needs a value (write {flag}=VALUE for one that starts with --)"
                )),
            },
        };
        let no_value = || match &inline {
            Some(_) => Err(format!("{flag} takes no value")),
            None => Ok(()),
        };
        match flag.as_str() {
            "--" => {
                no_value()?;
                if let Some(operand) = args.next().transpose()? {
                    return Err(format!(
                        "unexpected argument {operand:?} after --: pubsub_token takes no operands"
                    ));
                }
            }
            "--help" | "-h" => {
                no_value()?;
                return Ok(None);
            }
            "--json" => {
                no_value()?;
                json = true;
            }
            "--chat" => {
                no_value()?;
                service = Service::Chat;
            }
            "--fake" => {
                no_value()?;
                fake = true;
            }
            "--verbose" => {
                no_value()?;
                verbose = true;
            }
            "--extra" => {
                let v = value()?;
                let (key, json) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--extra takes KEY=JSON, got {v:?}"))?;
                request = request.extra(key, json);
            }
            "--ttl" => {
                let v = value()?;
                request.ttl = v
                    .parse()
                    .map_err(|_| format!("--ttl takes a whole number of minutes, got {v:?}"))?;
            }
            "--channel" => {
                let v = value()?;
                let (name, rights) = v
                    .rsplit_once('=')
                    .ok_or_else(|| format!("--channel takes NAME=r|w|rw, got {v:?}"))?;
                let access = match rights {
                    "r" => Access::READ,
                    "w" => Access::WRITE,
                    "rw" | "wr" => Access::READ_WRITE,
                    _ => {
                        return Err(format!(
                            "--channel rights must be r, w or rw, got {rights:?}"
                        ))
                    }
                };
                // The same name again adds rights, as TokenRequest::read and
                // ::write do: nothing given is silently dropped.
                let rights = request.channels.entry(name.to_owned()).or_default();
                rights.read |= access.read;
                rights.write |= access.write;
            }
            "--timeout" => {
                let v = value()?;
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| *s > 0.0 && s.is_finite())
                    .ok_or_else(|| {
                        format!("--timeout takes a positive number of seconds, got {v:?}")
                    })?;
                let limits = MIN_TIMEOUT..=MAX_TIMEOUT;
                let within = Duration::try_from_secs_f64(secs)
                    .ok()
                    .filter(|t| limits.contains(t));
                timeout = Some(within.ok_or_else(|| {
                    format!(
                        "--timeout must be from {} to {} seconds (the client's limits), got {v:?}",
                        MIN_TIMEOUT.as_secs_f64(),
                        MAX_TIMEOUT.as_secs_f64(),
                    )
                })?);
            }
            "--retries" => {
                let v = value()?;
                retries = Some(
                    v.parse()
                        .map_err(|_| format!("--retries takes a whole number, got {v:?}"))?,
                );
            }
            "--member-id" => request = request.member_id(value()?),
            "--state" => request = request.state_json(&value()?),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    if request.channels.is_empty() {
        request = request.read_write("demo");
    }
    Ok(Some(Options {
        request,
        service,
        json,
        fake,
        verbose,
        timeout,
        retries,
    }))
}
