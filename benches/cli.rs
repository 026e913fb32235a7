//! `cli`: the example binary's wall time from process start to token
//! printed, against a loopback server, side by side with `curl` making the
//! same POST (same body bytes and headers). Skipped, with a message, when
//! curl is missing.
//!
//! Run: `cargo bench --bench cli` (about 40 s; `BENCH_ROUNDS=N` for more
//! rounds). `cargo bench` does not build examples, so the bench runs
//! `cargo build --release -j2 --example pubsub_token` itself first (`-j` from
//! `CARGO_BUILD_JOBS` when set).
//!
//! Each op spawns the program with stdout piped and stops the clock when the
//! token line has been read (the program's exit is waited for outside the
//! timed part). The server is the std-only responder of benches/common, in
//! this process. `true` is timed the same way (spawn to stdout closed) as the
//! floor of starting any process here. Not pinned: both programs get the
//! same two CPUs.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Contender, Settings};
use signalwire_pubsub::{Access, TokenRequest};

/// Builds the example in this profile (a no-op when it is up to date) and
/// returns its path. `cargo bench` does not build examples by itself.
fn example() -> Option<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let jobs = std::env::var("CARGO_BUILD_JOBS").unwrap_or_else(|_| "2".into());
    let built = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--example", "pubsub_token"])
        .args(["-j", &jobs])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status();
    if !built.is_ok_and(|s| s.success()) {
        eprintln!("note: could not build the example with cargo");
    }
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let path = profile_dir
        .join("examples")
        .join(format!("pubsub_token{}", std::env::consts::EXE_SUFFIX));
    path.exists().then_some(path)
}

fn on_path(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Spawns `command`, returns the time until its first stdout line was read
/// (or stdout closed), and that line.
fn time_to_line(command: &mut Command) -> (Duration, String) {
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read stdout");
    let took = start.elapsed();
    let status = child.wait().expect("wait");
    assert!(status.success(), "{command:?} failed: {status}");
    (took, line)
}

fn main() {
    println!("# cli: process start to token printed");
    println!("{}", common::machine());
    let Some(example) = example() else {
        println!(
            "skipped: the example is not built; run `cargo build --release --example pubsub_token`"
        );
        return;
    };
    if !on_path("curl") {
        println!("skipped: curl is not installed");
        return;
    }
    let curl_version = Command::new("curl")
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .unwrap_or_default();
    println!("curl: {curl_version}");

    let responder = common::Responder::start();
    let fixture = common::typical();
    let mut request = TokenRequest::new(fixture.ttl);
    let mut args: Vec<String> = Vec::new();
    for (name, read, write) in &fixture.channels {
        let rights = match (read, write) {
            (true, true) => "rw",
            (true, false) => "r",
            _ => "w",
        };
        args.extend(["--channel".into(), format!("{name}={rights}")]);
        let access = Access {
            read: *read,
            write: *write,
        };
        request = request.channel(name.clone(), access);
    }
    args.extend(["--member-id".into(), fixture.member_id.clone()]);
    args.extend(["--state".into(), fixture.state.clone()]);
    let request = request
        .member_id(fixture.member_id.clone())
        .state_json(&fixture.state);
    let body = request.to_json().unwrap();
    let token = common::token();

    let example_cmd = || {
        let mut cmd = Command::new(&example);
        cmd.args(&args)
            .env("SIGNALWIRE_SPACE", responder.space())
            .env("SIGNALWIRE_PROJECT_ID", common::PROJECT)
            .env("SIGNALWIRE_API_TOKEN", common::API_TOKEN);
        cmd
    };
    let curl_cmd = || {
        let mut cmd = Command::new("curl");
        cmd.args(["-q", "-sS", "--fail", "--noproxy", "*", "-X", "POST"])
            .args(["-H", &format!("Authorization: {}", common::AUTHORIZATION)])
            .args(["-H", "Content-Type: application/json"])
            .args(["-H", "Accept: application/json"])
            .args(["--data-binary", &body, "-w", "\\n"])
            .arg(responder.url());
        cmd
    };
    // Both print the token (curl inside the JSON body); check once.
    assert_eq!(time_to_line(&mut example_cmd()).1.trim(), token);
    assert!(time_to_line(&mut curl_cmd()).1.contains(&token));

    let mut contenders = vec![
        Contender::timed("pubsub_token example", |n| {
            (0..n).map(|_| time_to_line(&mut example_cmd()).0).sum()
        }),
        Contender::timed("curl", |n| {
            (0..n).map(|_| time_to_line(&mut curl_cmd()).0).sum()
        }),
        Contender::timed("true (process spawn floor)", |n| {
            (0..n)
                .map(|_| time_to_line(&mut Command::new("true")).0)
                .sum()
        }),
    ];
    let settings = Settings::from_env(10, 60);
    let results = common::run(&settings, &mut contenders);
    print!(
        "{}",
        results.table("time to token, typical request (per process)", &[1, 2])
    );
    println!(
        "{}",
        results.target(
            "example vs curl (<= 1.0)",
            "pubsub_token example",
            "curl",
            1.0
        )
    );
    println!("(responder served {} requests)", responder.served());
}
