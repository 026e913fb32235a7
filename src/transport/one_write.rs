//! One write per request: [`OneWrite`] wraps each connection to the API
//! host, sends a request's head and body in one write, records how far the
//! request got, hands the socket to the call watched by a cancel, and
//! spares a pooled connection one of ureq's two probes.

use std::fmt;
use std::sync::Arc;

use ureq::unversioned::transport::{Buffers, NextTimeout, Transport};
use ureq::Error;

use super::cancelled;
use crate::cancel::Socket;
use crate::scope::{self, record};

/// Past this many held bytes, [`OneWrite`] sends without waiting.
const HOLD_AT_MOST: usize = 64 * 1024;

/// Holds what ureq transmits until the request is whole (its head, then the
/// body whose length the client recorded for the attempt), then sends it in
/// one write. Held bytes
/// are also sent before any wait for input and once 64 KiB are held, and a
/// connection still holding bytes is never pooled, so no path leaves a
/// request unsent or sends one twice.
///
/// It skips the probe ureq makes when it returns the connection to its pool
/// right after reading (the one before reuse still runs).
pub(super) struct OneWrite {
    inner: Box<dyn Transport>,
    /// The TCP socket under it, as a cancel reaches it.
    socket: Option<Arc<Socket>>,
    /// A watched call owns the socket (from its request's first write until
    /// the connection is pooled).
    owned: bool,
    held: Vec<u8>,
    /// Bytes of the request under way have been sent: any more go out at once.
    flushed: bool,
    /// A request is being transmitted (its response not yet awaited).
    sending: bool,
    /// The connection has carried a request before this one.
    used: bool,
    skip_probe: bool,
}

impl OneWrite {
    pub(super) fn new(inner: Box<dyn Transport>, socket: Option<Arc<Socket>>) -> OneWrite {
        OneWrite {
            inner,
            owned: false,
            socket,
            held: Vec::new(),
            flushed: false,
            sending: false,
            used: false,
            skip_probe: false,
        }
    }

    fn send_held(&mut self, timeout: NextTimeout) -> Result<(), Error> {
        if self.held.is_empty() {
            return Ok(());
        }
        // Taken first: whatever happens, these bytes are never sent again
        // (the buffer comes back empty, keeping its capacity).
        let mut held = std::mem::take(&mut self.held);
        self.flushed = true;
        record(|p| p.written = true);
        let mut done = 0;
        let mut result = Ok(());
        while done < held.len() {
            let output = self.inner.buffers().output();
            let n = output.len().min(held.len() - done);
            output[..n].copy_from_slice(&held[done..done + n]);
            if let Err(e) = self.inner.transmit_output(n, timeout) {
                record_failure(&e);
                result = Err(e);
                break;
            }
            done += n;
        }
        held.clear();
        self.held = held;
        result
    }
}

/// Records that the connection broke, unless `e` is a timeout.
fn record_failure(e: &Error) {
    if !matches!(e, Error::Timeout(_)) {
        record(|p| p.broke = true);
    }
}

/// Whether `held` is a whole request with a body of `body_len` bytes: the
/// head's blank line stands right before the body. A head has a blank line
/// only at its end, so no shorter prefix of the request passes; one check,
/// not a parse of the head.
fn is_whole(held: &[u8], body_len: usize) -> bool {
    let head_end = held.len().checked_sub(body_len);
    head_end.is_some_and(|end| end >= 4 && &held[end - 4..end] == b"\r\n\r\n")
}

impl Transport for OneWrite {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        if !self.sending {
            // The first bytes of a new request: the call watched on this
            // thread, if any, owns the socket from now on.
            if let Some(socket) = &self.socket {
                self.owned |= scope::join(socket).map_err(|_| cancelled())?;
            }
            let reused = std::mem::replace(&mut self.used, true);
            record(|p| p.reused = reused);
            self.sending = true;
            self.flushed = false;
        }
        let output = &self.inner.buffers().output()[..amount];
        self.held.extend_from_slice(output);
        // Past a first write (a request over 64 KiB), no more holding.
        let whole = || scope::body_len().is_some_and(|len| is_whole(&self.held, len));
        if self.flushed || self.held.len() >= HOLD_AT_MOST || whole() {
            self.send_held(timeout)?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.send_held(timeout)?;
        self.sending = false;
        self.skip_probe = true;
        let result = self.inner.await_input(timeout);
        match &result {
            Ok(true) => record(|p| p.answered = true),
            Ok(false) => record(|p| p.broke = true),
            Err(e) => record_failure(e),
        }
        result
    }

    fn is_open(&mut self) -> bool {
        // Asked when ureq pools the connection and before it reuses it:
        // between two requests, no call owns the socket.
        if let Some(socket) = &self.socket {
            if std::mem::take(&mut self.owned) {
                socket.release();
            }
            if socket.is_shut() {
                return false;
            }
        }
        if !self.held.is_empty() {
            // A request never sent whole: the connection is not reusable.
            return false;
        }
        std::mem::take(&mut self.skip_probe) || self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

impl fmt::Debug for OneWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OneWrite")
            .field("inner", &self.inner)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::{progress, start_attempt, Progress, Stage};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    use ureq::unversioned::transport::time::Duration as UreqDuration;
    use ureq::unversioned::transport::LazyBuffers;
    use ureq::Timeout;

    /// What the scripted transport saw.
    #[derive(Debug, Default)]
    struct Log {
        writes: Vec<Vec<u8>>,
        probes: usize,
        timeouts: Vec<Duration>,
    }

    /// A scripted inner transport: records writes and probes, and answers
    /// each wait for input from `answers` (bytes, end of stream or an error).
    struct Scripted {
        buffers: LazyBuffers,
        log: Arc<Mutex<Log>>,
        answers: Vec<Result<&'static [u8], Error>>,
        fail_writes: bool,
    }

    impl fmt::Debug for Scripted {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Scripted")
        }
    }

    impl Transport for Scripted {
        fn buffers(&mut self) -> &mut dyn Buffers {
            &mut self.buffers
        }
        fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
            if self.fail_writes {
                return Err(Error::Io(std::io::ErrorKind::BrokenPipe.into()));
            }
            let bytes = self.buffers.output()[..amount].to_vec();
            let mut log = self.log.lock().unwrap();
            log.writes.push(bytes);
            if let UreqDuration::Exact(d) = timeout.after {
                log.timeouts.push(d);
            }
            Ok(())
        }
        fn await_input(&mut self, _: NextTimeout) -> Result<bool, Error> {
            if self.answers.is_empty() {
                return Ok(false);
            }
            match self.answers.remove(0) {
                Ok(bytes) => {
                    let buf = self.buffers.input_append_buf();
                    buf[..bytes.len()].copy_from_slice(bytes);
                    self.buffers.input_appended(bytes.len());
                    Ok(!bytes.is_empty())
                }
                Err(e) => Err(e),
            }
        }
        fn is_open(&mut self) -> bool {
            self.log.lock().unwrap().probes += 1;
            true
        }
    }

    fn scripted(answers: Vec<Result<&'static [u8], Error>>) -> (OneWrite, Arc<Mutex<Log>>) {
        scripted_with(answers, false)
    }

    fn scripted_with(
        answers: Vec<Result<&'static [u8], Error>>,
        fail_writes: bool,
    ) -> (OneWrite, Arc<Mutex<Log>>) {
        let log = Arc::new(Mutex::new(Log::default()));
        let inner = Scripted {
            buffers: LazyBuffers::new(1024, 1024),
            log: Arc::clone(&log),
            answers,
            fail_writes,
        };
        (OneWrite::new(Box::new(inner), None), log)
    }

    fn timeout(ms: u64) -> NextTimeout {
        NextTimeout {
            after: UreqDuration::Exact(Duration::from_millis(ms)),
            reason: Timeout::Global,
            per_read: None,
            per_write: None,
        }
    }

    const HEAD: &[u8] = b"POST /api/pubsub/tokens HTTP/1.1\r\nhost: x\r\ncontent-length: 7\r\n\r\n";
    const BODY: &[u8] = b"{\"a\":1}";
    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";

    /// Writes `bytes` the way ureq does: into the output buffer, then transmit.
    fn transmit(t: &mut OneWrite, bytes: &[u8]) -> Result<(), Error> {
        t.buffers().output()[..bytes.len()].copy_from_slice(bytes);
        t.transmit_output(bytes.len(), timeout(1000))
    }

    /// One exchange: head, body, one wait for the response; the progress.
    fn exchange(t: &mut OneWrite) -> (Result<bool, Error>, Progress) {
        start_attempt(Instant::now() + Duration::from_secs(60), BODY.len());
        let result = transmit(t, HEAD)
            .and_then(|()| transmit(t, BODY))
            .and_then(|()| t.await_input(timeout(1000)));
        let consumed = t.buffers().input().len();
        t.buffers().input_consume(consumed);
        (result, progress())
    }

    #[test]
    fn the_request_goes_out_in_one_write_without_waiting_for_input() {
        let (mut t, log) = scripted(vec![]);
        start_attempt(Instant::now() + Duration::from_secs(60), BODY.len());
        transmit(&mut t, HEAD).unwrap();
        assert!(
            log.lock().unwrap().writes.is_empty(),
            "the head alone is held"
        );
        transmit(&mut t, BODY).unwrap();
        // Sent as soon as it is whole, whether ureq waits for input or not.
        assert_eq!(log.lock().unwrap().writes, [[HEAD, BODY].concat()]);
        assert!(progress().written);
    }

    #[test]
    fn held_bytes_are_sent_before_any_wait_and_never_twice() {
        let (mut t, log) = scripted(vec![Ok(RESPONSE)]);
        start_attempt(Instant::now() + Duration::from_secs(60), BODY.len());
        // A head that announces more body than ureq wrote: held until the wait.
        transmit(&mut t, b"POST / HTTP/1.1\r\ncontent-length: 99\r\n\r\nab").unwrap();
        assert!(log.lock().unwrap().writes.is_empty());
        assert!(t.await_input(timeout(1000)).unwrap());
        assert_eq!(log.lock().unwrap().writes.len(), 1);
        // Nothing left to send: another wait writes nothing.
        let _ = t.await_input(timeout(1000));
        assert_eq!(log.lock().unwrap().writes.len(), 1);
    }

    #[test]
    fn a_failed_write_is_never_repeated_and_the_connection_not_pooled() {
        let (mut t, log) = scripted(vec![]);
        start_attempt(Instant::now() + Duration::from_secs(60), BODY.len());
        transmit(&mut t, b"POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\nab").unwrap();
        t.held.extend_from_slice(b"cde");
        // A connection that still holds bytes is never handed back for reuse.
        assert!(!t.is_open());
        assert!(log.lock().unwrap().writes.is_empty());

        let (mut broken, log) = scripted_with(vec![], true);
        start_attempt(Instant::now() + Duration::from_secs(60), BODY.len());
        assert!(transmit(&mut broken, &[HEAD, BODY].concat()).is_err());
        assert!(progress().written && progress().broke);
        assert!(broken.held.is_empty(), "failed bytes are dropped, not kept");
        // A later wait sends nothing again.
        let _ = broken.await_input(timeout(10));
        assert!(log.lock().unwrap().writes.is_empty());
    }

    #[test]
    fn one_probe_per_reuse() {
        let (mut t, log) = scripted(vec![Ok(RESPONSE), Ok(RESPONSE)]);
        exchange(&mut t).0.unwrap();
        // ureq probes when it pools the connection right after reading...
        assert!(t.is_open());
        assert_eq!(log.lock().unwrap().probes, 0);
        // ...and again before reusing it: only that one reaches the socket.
        assert!(t.is_open());
        assert_eq!(log.lock().unwrap().probes, 1);
        exchange(&mut t).0.unwrap();
        assert_eq!(log.lock().unwrap().writes.len(), 2);
    }

    #[test]
    fn stages_follow_where_the_attempt_failed() {
        // The head held, not yet written: nothing was sent, whatever fails
        // next.
        let (mut t, log) = scripted(vec![]);
        start_attempt(Instant::now() + Duration::from_secs(60), BODY.len());
        transmit(&mut t, HEAD).unwrap();
        assert!(log.lock().unwrap().writes.is_empty());
        assert_eq!(progress().stage(), Stage::NotSent);

        // A pooled connection closed by the server before it answered.
        let (mut t, _) = scripted(vec![Ok(RESPONSE), Ok(b"")]);
        assert!(!exchange(&mut t).1.reused, "a new connection");
        let (result, progress) = exchange(&mut t);
        assert!(result.is_ok() && !result.unwrap());
        assert!(progress.reused && progress.broke);
        assert_eq!(progress.stage(), Stage::StalePooled);

        // Reset on a pooled connection: stale as well.
        let reset = || Error::Io(std::io::ErrorKind::ConnectionReset.into());
        let (mut t, _) = scripted(vec![Ok(RESPONSE), Err(reset())]);
        exchange(&mut t).0.unwrap();
        assert_eq!(exchange(&mut t).1.stage(), Stage::StalePooled);

        // A fresh connection that breaks after the request: sent.
        let (mut t, _) = scripted(vec![Err(reset())]);
        assert_eq!(exchange(&mut t).1.stage(), Stage::Sent);

        // A route error after sending (host or network unreachable on the
        // read): sent, not retried, whatever its kind.
        let unreachable = Error::Io(std::io::ErrorKind::HostUnreachable.into());
        let (mut t, _) = scripted(vec![Err(unreachable)]);
        assert_eq!(exchange(&mut t).1.stage(), Stage::Sent);

        // A pooled connection that times out waiting: the server may be
        // working on it.
        let (mut t, _) = scripted(vec![Ok(RESPONSE), Err(Error::Timeout(Timeout::Global))]);
        exchange(&mut t).0.unwrap();
        assert_eq!(exchange(&mut t).1.stage(), Stage::Sent);

        // A pooled connection that answered part of a response, then broke.
        let (mut t, _) = scripted(vec![Ok(RESPONSE), Ok(b"HTTP/1.1 2")]);
        exchange(&mut t).0.unwrap();
        let (_, progress) = exchange(&mut t);
        assert!(progress.answered);
        assert_eq!(progress.stage(), Stage::Sent);
    }

    #[test]
    fn a_request_is_whole_at_its_body_s_length_and_not_before() {
        let request = [HEAD, BODY].concat();
        assert!(is_whole(&request, BODY.len()));
        for short in 0..request.len() {
            assert!(!is_whole(&request[..short], BODY.len()), "{short} bytes");
        }
        // A body that itself holds a blank line, and no body at all.
        let body = b"\r\n\r\n{}\r\n\r\n";
        let request = [HEAD, body].concat();
        assert!(is_whole(&request, body.len()));
        assert!((0..request.len()).all(|short| !is_whole(&request[..short], body.len())));
        assert!(is_whole(b"GET / HTTP/1.1\r\n\r\n", 0));
    }
}
