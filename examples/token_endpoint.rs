//! A token endpoint as a web app runs one: `GET /` is a page that asks
//! `POST /token` for a short-lived PubSub token for its signed-in user. Who the
//! token is for and what it grants come from the server's session, never from
//! the request; the API token stays on the server; an error reaches the page
//! as a fixed `{"error":"..."}`, its details only the server's stderr.

use std::fmt::Display;
use std::io::{Cursor, Write};
use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Duration;

use miniserde::Serialize;
use signalwire_pubsub::fake::FakeServer;
use signalwire_pubsub::{Client, ClientBuilder, Error, TokenRequest};
use tiny_http::{Header, Method, Request, Response, Server};

const USAGE: &str = "Usage: token_endpoint [--port N] [--help]
Serves on http://127.0.0.1:N/ (default 8080; 0: a free port) a page that gets a
PubSub token from POST /token, minted with SIGNALWIRE_SPACE, SIGNALWIRE_PROJECT_ID
and SIGNALWIRE_API_TOKEN, or with none of them set by a built-in fake (for tests).";

/// The page: it keeps the token in a variable, where the app would hand it
/// to SignalWire's browser SDK, and shows only its first characters.
const PAGE: &str = r#"<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Token endpoint</title><h1>Your PubSub token</h1>
<p id="status">loading</p>
<p>Expires at <output id="expires"></output> (token <output id="prefix"></output>)</p>
<p>Channels:</p><ul id="channels"></ul>
<script>
"use strict";
let token = null; // for the app's PubSub client, and nowhere else
const show = (id, text) => { document.getElementById(id).textContent = text; };
async function refresh() {
  try {
    const response = await fetch("/token", { method: "POST" });
    const body = await response.json().catch(() => ({})); // a proxy's error page is no JSON
    if (!response.ok) throw new Error(body.error || "HTTP " + response.status);
    token = body.token;
    show("expires", body.expires_at);
    show("prefix", token.slice(0, 6) + "\u2026");
    const item = (name) => Object.assign(document.createElement("li"), { textContent: name });
    document.getElementById("channels").replaceChildren(...body.channels.map(item));
    show("status", "ready");
    // A new token a minute before this one expires.
    setTimeout(refresh, Math.max(10000, Date.parse(body.expires_at) - Date.now() - 60000));
  } catch (e) {
    show("status", "error: " + e.message);
  }
}
refresh();
</script></html>
"#;

type Answer = Response<Cursor<Vec<u8>>>;

const ENV: [&str; 3] = [
    "SIGNALWIRE_SPACE",
    "SIGNALWIRE_PROJECT_ID",
    "SIGNALWIRE_API_TOKEN",
];

/// `POST /token`'s answer.
#[derive(Serialize)]
struct Minted {
    token: String,
    expires_at: String,
    channels: Vec<String>,
}

/// The signed-in user `request` comes from, or `None` (answered with 401).
fn current_user(_request: &Request) -> Option<&'static str> {
    // This is where the app's own login check goes: read its session cookie
    // from `request.headers()`, look the session up, return its user. The
    // demo has one user, always signed in.
    Some("demo-user")
}

/// What `user`'s token grants, decided by the server alone.
fn token_request(user: &str) -> TokenRequest {
    TokenRequest::new(15)
        .read("lobby")
        .read_write("room-42")
        .member_id(user)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err((status, message)) => {
            eprintln!("{message}");
            ExitCode::from(status)
        }
    }
}

/// Serves until killed; a failure to start is an exit status and a message.
fn run() -> Result<(), (u8, String)> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = match &args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => Ok(8080),
        ["--help"] => {
            println!("{USAGE}");
            return Ok(());
        }
        ["--port", port] => port.parse().map_err(|_| format!("bad port {port:?}")),
        _ => Err(format!("unexpected arguments {args:?}")),
    };
    let port: u16 = port.map_err(|e| (2, format!("error: {e}\n\n{USAGE}")))?;
    // As the CLI: a variable that is set counts, even empty, so a deployment
    // whose secrets did not load fails here instead of serving fake tokens.
    let fake; // lives as long as the server
    let builder = if ENV.iter().any(|name| std::env::var_os(name).is_some()) {
        ClientBuilder::from_env()
    } else {
        let (project, api_token) = ("demo-project", "demo-api-token");
        fake = FakeServer::start(project, api_token).map_err(fail(1, "the built-in fake"))?;
        eprintln!(
            "note: no SIGNALWIRE_* variables set: minting from the built-in fake server at {}; \
             its tokens are valid on no real space",
            fake.url()
        );
        Ok(Client::builder(&fake.url(), project, api_token))
    };
    // A page should not wait the default 30 s for its token.
    let client = builder.and_then(|b| b.timeout(Duration::from_secs(10)).build());
    let client = client.map_err(fail(2, "SIGNALWIRE_* (set all three or none)"))?;
    let listener = TcpListener::bind(("127.0.0.1", port)).map_err(fail(1, "cannot listen"))?;
    let addr = listener.local_addr().map_err(fail(1, "cannot listen"))?;
    let server = Server::from_listener(listener, None).map_err(fail(1, "cannot serve"))?;
    let mut out = std::io::stdout().lock();
    (writeln!(out, "listening on http://{addr}/").and_then(|()| out.flush()))
        .map_err(fail(1, "stdout"))?;
    // Four workers: a slow token call holds up one of them, not the server.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while let Ok(request) = server.recv() {
                    let answer = route(&client, &request)
                        .with_header(header("Cache-Control", "no-store"))
                        .with_header(header("X-Content-Type-Options", "nosniff"));
                    let _ = request.respond(answer);
                }
            });
        }
    });
    Ok(())
}

/// A `map_err` for a failure to start: the exit status, what failed.
fn fail<E: Display>(status: u8, what: &'static str) -> impl FnOnce(E) -> (u8, String) {
    move |e| (status, format!("error: {what}: {e}"))
}

fn route(client: &Client, request: &Request) -> Answer {
    let path = request.url().split('?').next().unwrap_or_default();
    match (path, request.method()) {
        ("/", Method::Get) => Response::from_string(PAGE)
            .with_header(header("Content-Type", "text/html; charset=utf-8"))
            .with_header(header(
                "Content-Security-Policy",
                "default-src 'none'; script-src 'unsafe-inline'; connect-src 'self'",
            )),
        ("/token", Method::Post) => mint(client, request),
        ("/", _) => error(405, "method not allowed").with_header(header("Allow", "GET")),
        ("/token", _) => error(405, "method not allowed").with_header(header("Allow", "POST")),
        _ => error(404, "not found"),
    }
}

/// `POST /token`. Its body is never read: nothing the page sends chooses
/// the member id or the channels.
fn mint(client: &Client, request: &Request) -> Answer {
    // A browser names the site a request comes from: refuse other sites'.
    let site = (request.headers().iter()).find(|h| h.field.equiv("Sec-Fetch-Site"));
    if site.is_some_and(|h| h.value != "same-origin") {
        return error(403, "cross-site request refused");
    }
    let Some(user) = current_user(request) else {
        return error(401, "not signed in");
    };
    let asked = token_request(user);
    let token = match client.create_token(&asked) {
        Ok(token) => token,
        Err(err) => return refuse(user, &err),
    };
    let minted = Minted {
        expires_at: token.expires_at_rfc3339(),
        token: token.into_token(),
        channels: asked.channels.into_keys().collect(),
    };
    json(200, miniserde::json::to_string(&minted))
}

/// The answer to a failed mint: a status and a fixed message chosen by the
/// error's variant, never its text nor anything upstream sent. Its Display
/// (which the crate keeps free of secrets) goes to the server's log.
fn refuse(user: &str, err: &Error) -> Answer {
    eprintln!("error: minting a token for {user}: {err}");
    let (status, message) = match err {
        Error::InvalidRequest { .. } | Error::Config { .. } => (500, "token service misconfigured"),
        Error::Unauthorized(_) | Error::Forbidden(_) => {
            (502, "token service rejected our credentials")
        }
        Error::RateLimited(_) => (503, "token service busy, try again later"),
        Error::Server(api) if api.status == 503 => (503, "token service down, try again later"),
        Error::Timeout { .. } => (504, "token service timed out"),
        _ => (502, "token service unavailable"),
    };
    let mut answer = error(status, message);
    if let (503, Some(wait)) = (status, err.retry_after()) {
        let seconds = wait.as_secs_f64().ceil().to_string();
        answer.add_header(header("Retry-After", &seconds));
    }
    answer
}

fn json(status: u16, body: String) -> Answer {
    Response::from_string(body)
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"))
}

/// `{"error":message}`; the messages are the example's own: nothing to escape.
fn error(status: u16, message: &'static str) -> Answer {
    json(status, format!(r#"{{"error":"{message}"}}"#))
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name, value).expect("a valid header")
}
