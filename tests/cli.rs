//! The example CLI, run as a user would: exit codes, output, and no secret on
//! stderr. `cargo test` builds the example before running this.

mod common;

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;

use common::{API_TOKEN, PROJECT};
use signalwire_pubsub::fake::{FakeResponse, FakeServer};
use signalwire_pubsub::Service;

fn example() -> PathBuf {
    common::example("pubsub_token")
}

/// The CLI with `env` as its only SIGNALWIRE_* variables.
fn command(env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(example());
    for var in [
        "SIGNALWIRE_SPACE",
        "SIGNALWIRE_PROJECT_ID",
        "SIGNALWIRE_API_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd
}

/// Runs the CLI with `env` as its only SIGNALWIRE_* variables.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    command(env).args(args).output().unwrap()
}

/// Like [`run`], with arguments that need not be UTF-8.
fn run_os(args: &[OsString], env: &[(&str, &str)]) -> Output {
    command(env).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts the CLI refuses `args` (exit 2, nothing on stdout) saying
/// `needle` on stderr.
fn assert_refused(args: &[&str], env: &[(&str, &str)], needle: &str) {
    let out = run(args, env);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}");
}

fn env_for(fake: &FakeServer, token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SIGNALWIRE_SPACE", fake.url()),
        ("SIGNALWIRE_PROJECT_ID", PROJECT.to_owned()),
        ("SIGNALWIRE_API_TOKEN", token.to_owned()),
    ]
}

fn as_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn no_setup_mints_from_the_built_in_fake() {
    let out = run(&[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.trim().split('.').count(), 3, "{stdout}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("built-in fake"), "{stderr}");
    assert!(stderr.contains("valid on no real space"), "{stderr}");
}

#[test]
fn json_output() {
    let out = run(&["--json", "--ttl", "60"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let value: miniserde::json::Value =
        miniserde::json::from_str(text(&out.stdout).trim()).unwrap();
    let miniserde::json::Value::Object(object) = value else {
        panic!()
    };
    assert!(
        matches!(&object["token"], miniserde::json::Value::String(t) if t.split('.').count() == 3)
    );
    let miniserde::json::Value::String(expires) = &object["expires_at"] else {
        panic!()
    };
    assert!(
        expires.len() == 20 && expires.ends_with('Z') && expires.starts_with("20"),
        "{expires}"
    );
}

#[test]
fn bad_arguments_exit_2_naming_the_problem() {
    for (args, needle) in [
        (&["--ttl", "0"][..], "ttl"),
        (&["--ttl", "abc"][..], "--ttl"),
        (&["--channel", "x=q"][..], "rights"),
        (&["--channel", "noequals"][..], "NAME="),
        (&["--member-id"][..], "needs a value"),
        (&["--state", "[1]"][..], "state"),
        (&["--bogus"][..], "--bogus"),
        (&["--json=false"][..], "takes no value"),
        (&["--member-id", "--json"][..], "needs a value"),
    ] {
        assert_refused(args, &[], needle);
    }
    let out = run(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("Usage"));
}

#[test]
fn some_variables_set_is_an_error_naming_the_missing_one() {
    let out = run(
        &[],
        &[
            ("SIGNALWIRE_SPACE", "example"),
            ("SIGNALWIRE_API_TOKEN", API_TOKEN),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("SIGNALWIRE_PROJECT_ID"), "{stderr}");
    assert!(stderr.contains("or none of them"), "{stderr}");
    assert!(!stderr.contains(API_TOKEN));
}

#[test]
fn calls_the_configured_space() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let env = env_for(&fake, API_TOKEN);
    let out = run(
        &[
            "--channel",
            "lobby=r",
            "--channel",
            "room=rw",
            "--member-id",
            "bob",
            "--state",
            r#"{"a":1}"#,
        ],
        &as_refs(&env),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), fake.tokens_issued()[0]);
    assert_eq!(
        fake.requests()[0].body,
        r#"{"ttl":15,"channels":{"lobby":{"read":true},"room":{"read":true,"write":true}},"member_id":"bob","state":{"a":1}}"#
    );
    assert!(!text(&out.stderr).contains("fake"));
}

#[test]
fn api_failure_exits_1_without_secrets() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let env = env_for(&fake, "wrong-PT-token-77");
    let out = run(&[], &as_refs(&env));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("401"), "{stderr}");
    assert!(!stderr.contains("wrong-PT-token-77") && !stderr.contains(API_TOKEN));
    assert!(out.stdout.is_empty());

    // A transport failure also exits 1.
    let port = common::refused_port();
    let space = format!("http://127.0.0.1:{}", port.port);
    let out = run(
        &[],
        &[
            ("SIGNALWIRE_SPACE", &space),
            ("SIGNALWIRE_PROJECT_ID", PROJECT),
            ("SIGNALWIRE_API_TOKEN", API_TOKEN),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("transport") && stderr.contains("3 attempts"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("attempt").count(), 1, "said once: {stderr}");
    let lower = stderr.to_lowercase();
    assert!(lower.contains("refused"), "the cause is shown: {stderr}");
}

#[test]
fn timeout_and_retries_flags() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    for _ in 0..2 {
        fake.respond_next(
            FakeResponse::json(503, r#"{"error":"busy"}"#).header("retry-after", "0"),
        );
    }
    let env = env_for(&fake, API_TOKEN);
    let out = run(&["--retries", "1", "--timeout", "5"], &as_refs(&env));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("2 attempts") && stderr.contains("HTTP 503"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("attempt").count(), 1, "said once: {stderr}");
    assert!(!stderr.contains(API_TOKEN));
    assert_eq!(fake.request_count(), 2);

    let out = run(&["--retries", "0"], &as_refs(&env));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for bad in [
        &["--timeout", "0"][..],
        &["--timeout", "x"],
        &["--retries", "-1"],
    ] {
        assert_eq!(run(bad, &[]).status.code(), Some(2), "{bad:?}");
    }
}

/// A server for one request on loopback: once `go` has been sent, it answers
/// with a `status` response carrying `{"token":"x.y.z"}`. The thread returns
/// the request head and body.
fn scripted(status: &str) -> (String, mpsc::Sender<()>, thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = r#"{"token":"x.y.z"}"#;
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let (go, wait) = mpsc::channel();
    let thread = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let (mut request, mut length) = (String::new(), 0);
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let lower = line.to_ascii_lowercase();
            if let Some(value) = lower.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
            request.push_str(&line);
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        request.push_str(&String::from_utf8_lossy(&body));
        wait.recv().unwrap();
        reader.get_mut().write_all(response.as_bytes()).unwrap();
        request
    });
    (url, go, thread)
}

fn scripted_env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SIGNALWIRE_SPACE", url.to_owned()),
        ("SIGNALWIRE_PROJECT_ID", PROJECT.to_owned()),
        ("SIGNALWIRE_API_TOKEN", API_TOKEN.to_owned()),
    ]
}

#[test]
fn chat_against_the_fake() {
    let out = run(&["--chat"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim().split('.').count(), 3);

    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let env = env_for(&fake, API_TOKEN);
    let out = run(&["--chat", "--channel", "room=rw"], &as_refs(&env));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        fake.tokens_issued_for(Service::Chat)[0]
    );
    assert!(fake.tokens_issued_for(Service::PubSub).is_empty());
    assert_eq!(fake.requests()[0].path, "/api/chat/tokens");

    // Chat's reserved prefix: refused before sending; PubSub takes it.
    let out = run(&["--chat", "--channel", "sw_room=r"], &as_refs(&env));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("sw_"), "{}", text(&out.stderr));
    assert_eq!(fake.request_count(), 1);
    let out = run(&["--channel", "sw_room=r"], &as_refs(&env));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(fake.requests()[1].path, "/api/pubsub/tokens");

    // An API token without the Chat scope.
    let pubsub_only =
        FakeServer::start_with_scopes(PROJECT, API_TOKEN, &[Service::PubSub]).unwrap();
    let env = env_for(&pubsub_only, API_TOKEN);
    let out = run(&["--chat"], &as_refs(&env));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("HTTP 403") && stderr.contains("/api/chat/tokens"),
        "{stderr}"
    );
    assert!(!stderr.contains(API_TOKEN));
}

#[test]
fn chat_against_a_scripted_server() {
    // A 201, as the Chat spec said until February 2026.
    for (args, path) in [
        (&["--chat"][..], "/api/chat/tokens"),
        (&[][..], "/api/pubsub/tokens"),
    ] {
        let (url, go, server) = scripted("201 Created");
        go.send(()).unwrap();
        let out = run(args, &as_refs(&scripted_env(&url)));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "x.y.z\n");
        let request = server.join().unwrap();
        assert!(
            request.starts_with(&format!("POST {path} HTTP/1.1\r\n")),
            "{request}"
        );
        assert!(request.ends_with(r#"{"ttl":15,"channels":{"demo":{"read":true,"write":true}}}"#));
    }
}

#[cfg(unix)]
#[test]
fn non_utf8_argument_is_a_usage_error_naming_its_position() {
    use std::os::unix::ffi::OsStringExt;
    let bad = || OsString::from_vec(vec![b'r', 0xff, b'm']);
    for (args, position) in [
        (vec!["--ttl".into(), "15".into(), bad()], "argument 3"),
        (vec!["--member-id".into(), bad()], "argument 2"),
    ] {
        let out = run_os(&args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(position) && stderr.contains("UTF-8"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("panicked") && out.stdout.is_empty(),
            "{stderr}"
        );
    }
}

#[test]
fn closed_stdout_ends_quietly() {
    // The server answers only once the reading end of stdout is closed.
    let (url, go, server) = scripted("200 OK");
    let mut child = command(&as_refs(&scripted_env(&url)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    go.send(()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(server.join().is_ok());
    assert_eq!(out.status.code(), Some(141), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[cfg(target_os = "linux")]
#[test]
fn unwritable_stdout_is_an_error() {
    let full = std::fs::File::create("/dev/full").unwrap();
    let out = command(&[]).arg("--help").stdout(full).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("could not write") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn double_dash_and_attached_values() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let env = env_for(&fake, API_TOKEN);
    let args = [
        "--ttl=20",
        "--channel=--a=r",
        "--member-id=--x",
        r#"--state={"k":"--v"}"#,
        "--timeout=5",
        "--retries=0",
        "--",
    ];
    let out = run(&args, &as_refs(&env));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        fake.requests()[0].body,
        r#"{"ttl":20,"channels":{"--a":{"read":true}},"member_id":"--x","state":{"k":"--v"}}"#
    );
    for (args, needle) in [
        (&["--", "--json"][..], "after --"),
        (&["--", "x"][..], "after --"),
        (&["--=x"][..], "takes no value"),
        (&["--member-id", "--x"][..], "--member-id=VALUE"),
    ] {
        assert_refused(args, &as_refs(&env), needle);
    }
    assert_eq!(fake.request_count(), 1);
}

#[test]
fn usage_line_lists_every_flag() {
    let out = run(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    let (usage, rest) = help.split_once("\n\n").unwrap();
    assert!(usage.starts_with("Usage: pubsub_token"), "{usage}");
    let flags: Vec<&str> = rest
        .lines()
        .filter(|line| line.starts_with("  --"))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    for flag in ["--chat", "--timeout", "--retries", "--fake", "--json", "--"] {
        assert!(flags.contains(&flag), "{flag} not described: {help}");
    }
    for flag in flags {
        assert!(
            usage.contains(&format!("[{flag}")),
            "{flag} not in the usage line: {usage}"
        );
    }
}

#[test]
fn settings_hint_only_when_some_variables_are_set() {
    // All set, one unusable: the error, no hint.
    let all = [
        ("SIGNALWIRE_SPACE", "evil.com/"),
        ("SIGNALWIRE_PROJECT_ID", PROJECT),
        ("SIGNALWIRE_API_TOKEN", API_TOKEN),
    ];
    let out = run(&[], &all);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("space") && !stderr.contains("none of them"),
        "{stderr}"
    );
    // None set: the fake, no hint, even on an error.
    for args in [&[][..], &["--timeout", "100000"], &["--timeout", "0.001"]] {
        let stderr = text(&run(args, &[]).stderr);
        assert!(!stderr.contains("none of them"), "{args:?}: {stderr}");
    }
    // Some set: the hint (see also some_variables_set_is_an_error_naming_the_missing_one).
    let out = run(&[], &[("SIGNALWIRE_PROJECT_ID", PROJECT)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("none of them"));
}

#[test]
fn timeout_beyond_the_client_limits_is_an_error() {
    for (value, limit) in [("86401", "86400"), ("1e9", "86400"), ("0.001", "0.01")] {
        let out = run(&["--timeout", value], &[]);
        assert_eq!(out.status.code(), Some(2), "{value}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("--timeout") && stderr.contains(limit),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
    let out = run(&["--timeout", "86400"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn fake_flag_wins_over_the_variables() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let env = env_for(&fake, API_TOKEN);
    let out = run(&["--fake", "--chat"], &as_refs(&env));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim().split('.').count(), 3);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--fake") && stderr.contains("valid on no real space"),
        "{stderr}"
    );
    assert_eq!(fake.request_count(), 0);
    // Also with an incomplete set of variables.
    let out = run(&["--fake"], &[("SIGNALWIRE_SPACE", "example")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn a_variable_set_empty_is_a_settings_error_never_the_fake() {
    // A script whose secrets failed to load: all three set, all empty.
    let empty = [
        ("SIGNALWIRE_SPACE", ""),
        ("SIGNALWIRE_PROJECT_ID", ""),
        ("SIGNALWIRE_API_TOKEN", ""),
    ];
    let out = run(&[], &empty);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("SIGNALWIRE_SPACE is empty") && !stderr.contains("fake"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    // One empty among good ones is named too.
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let url = fake.url();
    let one_empty = [
        ("SIGNALWIRE_SPACE", url.as_str()),
        ("SIGNALWIRE_PROJECT_ID", PROJECT),
        ("SIGNALWIRE_API_TOKEN", ""),
    ];
    let out = run(&[], &one_empty);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("SIGNALWIRE_API_TOKEN is empty"), "{stderr}");
    assert!(
        !stderr.contains("none of them"),
        "all three are set: {stderr}"
    );
    assert_eq!(fake.request_count(), 0);
    // Only --fake chooses the fake when a variable is set.
    let out = run(&["--fake"], &empty);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn the_same_channel_twice_adds_the_rights() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let env = env_for(&fake, API_TOKEN);
    let args = ["--channel", "a=r", "--channel", "b=w", "--channel", "a=w"];
    let out = run(&args, &as_refs(&env));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        fake.requests()[0].body,
        r#"{"ttl":15,"channels":{"a":{"read":true,"write":true},"b":{"write":true}}}"#
    );
}

#[test]
fn a_timeout_names_the_limit_that_ran_out() {
    // A host that never completes the TCP handshake, and --timeout 1: the
    // call's limit ran out, not the 10 s connect timeout.
    let unanswered = common::unanswered();
    let space = format!("http://{}", unanswered.addr);
    let env = [
        ("SIGNALWIRE_SPACE", space.as_str()),
        ("SIGNALWIRE_PROJECT_ID", PROJECT),
        ("SIGNALWIRE_API_TOKEN", API_TOKEN),
    ];
    let out = run(&["--timeout", "1", "--retries", "0"], &env);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("the call took longer than 1s"), "{stderr}");
    assert!(!stderr.contains("connecting"), "{stderr}");
}

#[test]
fn a_token_that_is_not_visible_ascii_never_reaches_stdout() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let env = env_for(&fake, API_TOKEN);
    for token in [r"abc\u001b]0;x\u0007\nexport X=1", "a b", r"caf\u00e9"] {
        fake.respond_next(FakeResponse::json(200, format!(r#"{{"token":"{token}"}}"#)));
        let out = run(&["--retries", "0"], &as_refs(&env));
        assert_eq!(out.status.code(), Some(1), "{token}");
        assert!(out.stdout.is_empty(), "{token}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("not visible ASCII"), "{stderr}");
        assert!(
            !stderr.contains('\u{1b}') && !stderr.contains("export"),
            "{stderr}"
        );
    }
}

#[test]
fn a_hostile_echo_never_reaches_stderr() {
    // The server echoes the secrets riddled with invisible characters, cut
    // short, encoded, and tokens of every shape, in its error and headers.
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let env = env_for(&fake, API_TOKEN);
    let evil = common::hostile();
    let json = miniserde::json::to_string(&evil);
    let item = format!(r#"{{"code":{json},"message":{json},"attribute":{json}}}"#);
    for body in [
        format!(r#"{{"error":{json}}}"#),
        format!(r#"{{"errors":[{item}]}}"#),
    ] {
        fake.respond_next(FakeResponse::json(422, body));
        let out = run(&["--retries", "0"], &as_refs(&env));
        assert_eq!(out.status.code(), Some(1));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("[redacted]") && stderr.contains("evil"),
            "{stderr}"
        );
        // One line, and nothing of a secret or a token in it.
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        common::assert_printable(stderr.trim_end());
    }
}

#[test]
fn extra_fields_are_sent_and_checked() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let env = env_for(&fake, API_TOKEN);
    let args = ["--extra", "region=\"eu\"", "--extra=limits={\"a\": [1, 2]}"];
    let out = run(&args, &as_refs(&env));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        fake.requests()[0].body,
        r#"{"ttl":15,"channels":{"demo":{"read":true,"write":true}},"limits":{"a": [1, 2]},"region":"eu"}"#
    );
    for (args, needle) in [
        (&["--extra", "region"][..], "KEY=JSON"),
        (&["--extra", "region=eu"][..], "one JSON value"),
        (&["--extra", "ttl=60"][..], "\"ttl\""),
    ] {
        assert_refused(args, &as_refs(&env), needle);
    }
    assert_eq!(fake.request_count(), 1);
}

#[test]
fn verbose_prints_the_clients_records_and_nothing_else() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    fake.respond_next(FakeResponse::json(503, "{}").header("retry-after", "0"));
    let env = env_for(&fake, API_TOKEN);
    let out = run(&["--verbose"], &as_refs(&env));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{stderr}");
    assert!(
        lines[0].starts_with("debug: PubSub attempt 1: POST http://127.0.0.1:"),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("info: PubSub attempt 1 failed (HTTP 503); retrying in "),
        "{stderr}"
    );
    assert!(
        lines[3].starts_with("debug: PubSub token minted after 2 attempt(s)"),
        "{stderr}"
    );
    // ureq's records (raw request bytes, the Authorization header) never.
    common::assert_no_secret(&stderr, &fake.tokens_issued());
    assert!(
        !stderr.to_ascii_lowercase().contains("authorization"),
        "{stderr}"
    );
    // Without --verbose, nothing.
    let out = run(&[], &as_refs(&env));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}
