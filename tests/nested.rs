//! A call made inside another, by a logger that ureq calls in the middle
//! of a request: each call keeps its own facts (how far its attempt got,
//! its deadline, its limit), whatever the inner one does, errors and panics
//! included, three deep too. The logger is process-wide; what it does is
//! set per test, on the test's own thread.

mod common;

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Once;
use std::time::{Duration, Instant};

use common::{client_with as client, request, API_TOKEN, PROJECT};
use log::{LevelFilter, Log, Metadata, Record};
use signalwire_pubsub::fake::{FakeServer, Fault, FaultServer};
use signalwire_pubsub::{Cancel, Error, Token, TransportKind};

/// What the logger does on a thread, at the first record of ureq's whose
/// text starts with the given words.
type Hook = (&'static str, Box<dyn FnOnce()>);
/// Where a call made inside another leaves its result.
type Slot = Rc<RefCell<Option<Result<Token, Error>>>>;

thread_local! {
    /// What the logger does on this thread (taken when it runs).
    static HOOK: RefCell<Option<Hook>> = const { RefCell::new(None) };
}

/// ureq-proto's record once a request has gone out and the response is
/// awaited.
const REQUEST_SENT: &str = "Call<RecvResponse>";
/// ureq's record when a socket is shut down (a cancel).
const SHUTDOWN: &str = "Shutdown: ";

struct Hooked;

impl Log for Hooked {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &Record<'_>) {
        if !record.target().starts_with("ureq") {
            return;
        }
        let text = record.args().to_string();
        let due = |(words, _): &Hook| text.starts_with(words);
        let hook = HOOK.with(|h| h.borrow_mut().take_if(|hook| due(hook)));
        if let Some((_, hook)) = hook {
            hook();
        }
    }
    fn flush(&self) {}
}

/// Runs `hook` inside the next call this thread makes, once its request
/// has gone out.
fn inside_the_next_call(hook: impl FnOnce() + 'static) {
    at_the_next(REQUEST_SENT, hook);
}

/// Runs `hook` from the logger at the next record of ureq's on this thread
/// that starts with `words`.
fn at_the_next(words: &'static str, hook: impl FnOnce() + 'static) {
    static LOGGER: Once = Once::new();
    LOGGER.call_once(|| {
        log::set_logger(&Hooked).unwrap();
        log::set_max_level(LevelFilter::Debug);
    });
    HOOK.with(|h| *h.borrow_mut() = Some((words, Box::new(hook))));
}

/// A call to a refused port, with no retry: fails before sending.
fn refused_call() -> Result<Token, Error> {
    let refused = common::refused_port();
    let url = format!("http://127.0.0.1:{}", refused.port);
    client(&url, Duration::from_secs(10), 0).create_token(&request())
}

/// Asserts `result` is what a call to a refused port gives.
fn assert_refused(result: &Result<Token, Error>) {
    assert!(
        matches!(
            result,
            Err(Error::Transport {
                kind: TransportKind::Connect,
                attempts: 1,
                request_sent: false,
                ..
            })
        ),
        "{result:?}"
    );
}

/// Makes `call` inside the next call, its result kept in `slot` for the
/// test to check after the outer call.
fn keep(slot: &Slot, call: impl FnOnce() -> Result<Token, Error> + 'static) {
    let slot = Rc::clone(slot);
    inside_the_next_call(move || *slot.borrow_mut() = Some(call()));
}

#[test]
fn a_failed_inner_call_leaves_a_sent_request_unretried() {
    // The outer server reads the request, then closes the connection: a
    // request that was sent is never retried.
    let server = FaultServer::start(Fault::CloseBeforeAnswer).unwrap();
    let inner = Slot::default();
    keep(&inner, refused_call);
    let result = client(&server.url(), Duration::from_secs(10), 2).create_token(&request());
    let (kind, attempts, sent, _) = common::transport_error(result);
    assert_eq!((kind, attempts, sent), (TransportKind::Io, 1, true));
    assert_eq!(server.request_count(), 1);
    assert_refused(inner.borrow().as_ref().expect("the inner call ran"));
}

/// Makes the outer call, to a server that never answers, with a 500 ms
/// timeout (and whatever the logger is set to do inside it), and asserts it
/// ends with its own timeout: its limit, the request sent, one attempt (the
/// server read one request), no sooner and not much later.
fn outer_call_times_out_on_its_own_terms() {
    let silent = FaultServer::start(Fault::Stall(Duration::from_secs(10))).unwrap();
    let limit = Duration::from_millis(500);
    let started = Instant::now();
    let err = client(&silent.url(), limit, 2)
        .create_token(&request())
        .unwrap_err();
    common::assert_ended_on_time(started.elapsed(), limit);
    assert!(
        matches!(
            err,
            Error::Timeout { connecting: false, limit: l, attempts: 1, request_sent: true, .. }
                if l == limit
        ),
        "{err:?}"
    );
    assert_eq!(silent.request_count(), 1);
}

#[test]
fn an_inner_call_does_not_lend_the_outer_one_its_deadline_or_limit() {
    let inner = Slot::default();
    keep(&inner, refused_call);
    outer_call_times_out_on_its_own_terms();
    assert_refused(inner.borrow().as_ref().expect("the inner call ran"));
}

#[test]
fn three_calls_deep_each_gets_its_own_result() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let middle_url = fake.url();
    let (middle, innermost) = (Slot::default(), Slot::default());
    let (middle_slot, innermost_slot) = (Rc::clone(&middle), Rc::clone(&innermost));
    inside_the_next_call(move || {
        // Inside the outer call: a middle call, inside which the innermost.
        keep(&innermost_slot, refused_call);
        let token = client(&middle_url, Duration::from_secs(5), 2).create_token(&request());
        *middle_slot.borrow_mut() = Some(token);
    });
    outer_call_times_out_on_its_own_terms();
    let middle = middle.borrow_mut().take().expect("the middle call ran");
    assert_eq!(middle.expect("the middle call minted").attempts(), 1);
    assert_eq!(fake.request_count(), 1);
    assert_refused(innermost.borrow().as_ref().expect("the innermost call ran"));
}

#[test]
fn an_inner_call_that_panics_leaves_the_outer_ones_result_right() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let inner_url = fake.url();
    let caught = Rc::new(RefCell::new(false));
    let caught_in_logger = Rc::clone(&caught);
    inside_the_next_call(move || {
        // The logger panics inside the inner call, once its request has
        // gone out, and catches the panic itself.
        inside_the_next_call(|| panic!("a logger's bug"));
        let inner = client(&inner_url, Duration::from_secs(5), 2);
        let unwound = panic::catch_unwind(AssertUnwindSafe(|| inner.create_token(&request())));
        *caught_in_logger.borrow_mut() = unwound.is_err();
    });
    outer_call_times_out_on_its_own_terms();
    assert!(*caught.borrow(), "the inner call panicked");
    assert_eq!(fake.request_count(), 1);
}

#[test]
fn a_call_made_as_a_cancelled_calls_new_socket_is_shut_down() {
    // The outer call's handle is cancelled while its TCP connect is under
    // way (its SYN dropped by a full accept queue, sent again a second
    // later): once the connect completes, the socket is shut down at once,
    // and ureq logs it. A call made by the logger right then runs.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let queued = common::unanswered_on(&listener);
    let inner = Slot::default();
    let (done, done_rx) = std::sync::mpsc::channel::<()>();
    let accepting = std::thread::spawn(move || {
        // The scenario's pacing: room in the queue after the cancel.
        std::thread::sleep(Duration::from_millis(500));
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        while done_rx.try_recv().is_err() {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        drop(queued);
    });
    let slot = Rc::clone(&inner);
    at_the_next(SHUTDOWN, move || *slot.borrow_mut() = Some(refused_call()));
    let cancel = Cancel::new();
    let result = std::thread::scope(|scope| {
        let canceller = cancel.clone();
        scope.spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            canceller.cancel();
        });
        client(&format!("http://{addr}"), Duration::from_secs(10), 2)
            .call()
            .cancel_on(&cancel)
            .create_token(&request())
    });
    done.send(()).unwrap();
    accepting.join().unwrap();
    assert!(
        matches!(
            result,
            Err(Error::Cancelled {
                attempts: 1,
                request_sent: false,
                ..
            })
        ),
        "{result:?}"
    );
    assert_refused(inner.borrow().as_ref().expect("the inner call ran"));
}

#[test]
fn a_call_made_while_cancel_shuts_sockets_down_on_the_same_handle() {
    // The canceller's logger, as cancel() shuts the waiting call's socket
    // down, makes a call guarded by the same handle: it is cancelled at
    // once, and neither thread waits for the other.
    let silent = FaultServer::start(Fault::Stall(Duration::from_secs(10))).unwrap();
    let client = client(&silent.url(), Duration::from_secs(10), 2);
    let cancel = Cancel::new();
    let (inner_tx, inner_rx) = std::sync::mpsc::channel();
    let result = std::thread::scope(|scope| {
        let (canceller, for_logger) = (cancel.clone(), client.clone());
        let silent = &silent;
        scope.spawn(move || {
            let (same, client_inner) = (canceller.clone(), for_logger);
            at_the_next(SHUTDOWN, move || {
                let inner = client_inner
                    .call()
                    .cancel_on(&same)
                    .create_token(&request());
                inner_tx.send(inner).unwrap();
            });
            // The scenario's pacing: the call is waiting for its answer.
            while silent.request_count() == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
            canceller.cancel();
        });
        client.call().cancel_on(&cancel).create_token(&request())
    });
    let inner = inner_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the logger's call ended");
    assert!(
        matches!(inner, Err(Error::Cancelled { attempts: 0, .. })),
        "{inner:?}"
    );
    assert!(
        matches!(
            result,
            Err(Error::Cancelled {
                attempts: 1,
                request_sent: true,
                ..
            })
        ),
        "{result:?}"
    );
}
