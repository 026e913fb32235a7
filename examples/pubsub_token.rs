//! Mint a SignalWire PubSub token from the command line.
//!
//! With `SIGNALWIRE_SPACE`, `SIGNALWIRE_PROJECT_ID` and `SIGNALWIRE_API_TOKEN`
//! set it calls that space; with none of them set it mints from the built-in
//! fake, so `cargo run --example pubsub_token` works offline.
//!
//! Exit status: 0 token printed; 2 bad arguments, settings or a request the
//! client rejects locally; 1 an API or transport failure.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use miniserde::json::{Object, Value};
use signalwire_pubsub::fake::FakeServer;
use signalwire_pubsub::{Access, Client, ClientBuilder, Error, TokenRequest};

const USAGE: &str = "\
Usage: pubsub_token [--ttl MINUTES] [--channel NAME=r|w|rw]... [--member-id ID] [--state JSON] [--json]

Mints a SignalWire PubSub token and prints it on stdout.

  --ttl MINUTES          token lifetime, 1 to 43200 (default 15)
  --channel NAME=r|w|rw  a channel and its rights: read, write or both;
                         repeatable (default: demo=rw)
  --member-id ID         the member id (default: the server picks one)
  --state JSON           a JSON object stored with the member
  --json                 print {\"expires_at\":...,\"token\":...} instead of the bare token
  --timeout SECONDS      limit on the whole call, retries included (default 30)
  --retries N            retries of 429, 502, 503, 504 and refused connections (default 2)
  --help                 this text

Calls the space in SIGNALWIRE_SPACE with SIGNALWIRE_PROJECT_ID and
SIGNALWIRE_API_TOKEN; with none of the three set, uses a built-in fake server.
Exit status: 0 token printed, 2 bad arguments or request, 1 API or network failure.";

const ENV_VARS: [&str; 3] = [
    "SIGNALWIRE_SPACE",
    "SIGNALWIRE_PROJECT_ID",
    "SIGNALWIRE_API_TOKEN",
];

struct Options {
    request: TokenRequest,
    json: bool,
    timeout: Option<Duration>,
    retries: Option<u32>,
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Checked first, so a bad request is reported the same way on the fake.
    if let Err(e) = options.request.validate() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }

    let set: Vec<&str> = ENV_VARS
        .into_iter()
        .filter(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
        .collect();
    let fake;
    let client = match set.len() {
        0 => {
            fake = match FakeServer::start("demo-project", "demo-api-token") {
                Ok(fake) => fake,
                Err(e) => {
                    eprintln!("error: could not start the built-in fake server: {e}");
                    return ExitCode::from(1);
                }
            };
            eprintln!(
                "note: no SIGNALWIRE_* variables set; minting from the built-in fake at {}",
                fake.url()
            );
            Ok(Client::builder(
                &fake.url(),
                "demo-project",
                "demo-api-token",
            ))
        }
        _ => ClientBuilder::from_env(),
    };
    let client = client.and_then(|mut builder| {
        if let Some(timeout) = options.timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(retries) = options.retries {
            builder = builder.retries(retries);
        }
        builder.build()
    });
    let client = match client {
        Ok(client) => client,
        Err(e) => {
            eprintln!("error: {e}");
            if set.len() < ENV_VARS.len() {
                eprintln!("(set all of {} or none of them)", ENV_VARS.join(", "));
            }
            return ExitCode::from(2);
        }
    };

    match client.create_token(&options.request) {
        Ok(token) => {
            if options.json {
                let expires_at = rfc3339(token.expires_at());
                let mut out = Object::new();
                out.insert("expires_at".into(), Value::String(expires_at));
                out.insert("token".into(), Value::String(token.into_token()));
                println!("{}", miniserde::json::to_string(&out));
            } else {
                println!("{}", token.token());
            }
            ExitCode::SUCCESS
        }
        Err(e @ (Error::InvalidRequest { .. } | Error::Config { .. })) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            let what = match e.status() {
                Some(_) => "the API answered with an error",
                None => "the request failed",
            };
            let attempts = e.attempts();
            let plural = if attempts == 1 { "" } else { "s" };
            eprint!(
                "error: {what} ({attempts} attempt{plural} to {}): {e}",
                client.url()
            );
            // The underlying causes (connection refused, certificate unknown, ...).
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                eprint!(": {c}");
                cause = c.source();
            }
            eprintln!();
            ExitCode::from(1)
        }
    }
}

/// `Ok(None)` means `--help`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut request = TokenRequest::new(15);
    let mut json = false;
    let (mut timeout, mut retries) = (None, None);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .filter(|v| !v.starts_with("--"))
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let no_value = || match &inline {
            Some(_) => Err(format!("{flag} takes no value")),
            None => Ok(()),
        };
        match flag.as_str() {
            "--help" | "-h" => {
                no_value()?;
                return Ok(None);
            }
            "--json" => {
                no_value()?;
                json = true;
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
                request = request.channel(name, access);
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
                timeout = Some(Duration::from_secs_f64(secs.min(86_400.0)));
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
        json,
        timeout,
        retries,
    }))
}

/// `2026-11-28T01:16:00Z`, from days since the epoch (Howard Hinnant's
/// civil-from-days algorithm).
fn rfc3339(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3600, rem / 60 % 60, rem % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}
