//! Shared state of one execution environment: the invocation in flight (one at a
//! time), the bootstrap's waiting `/next` long-poll, and the shutdown signal.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::callback::Callback;
use crate::config::Config;
use crate::process::Bootstrap;

/// Everything the listeners and tasks share.
#[derive(Debug)]
pub struct App {
    pub config: Config,
    /// `None` in standalone mode.
    pub callback: Option<Callback>,
    pub invocations: Invocations,
    pub bootstrap: Bootstrap,
    pub shutdown: Shutdown,
}

/// One event to run.
#[derive(Debug)]
pub struct Invocation {
    pub id: String,
    pub function_arn: String,
    pub payload: Bytes,
    pub trace_id: Option<String>,
    pub received: Instant,
    /// Monotonic deadline: `received` + the function timeout.
    pub deadline: Instant,
    /// The same deadline as epoch milliseconds, for `Lambda-Runtime-Deadline-Ms`.
    pub deadline_epoch_ms: u64,
}

impl Invocation {
    pub fn new(
        id: String,
        function_arn: String,
        payload: Bytes,
        trace_id: Option<String>,
        timeout: Duration,
    ) -> Invocation {
        let received = Instant::now();
        let deadline_epoch_ms = (SystemTime::now() + timeout)
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Invocation {
            id,
            function_arn,
            payload,
            trace_id: trace_id.filter(|t| !t.is_empty()),
            received,
            deadline: received + timeout,
            deadline_epoch_ms,
        }
    }
}

/// How the bootstrap (or its absence) ended an invocation; a timeout is decided by
/// the invocation's own timer instead.
#[derive(Debug)]
pub enum Outcome {
    /// `POST .../response`: the function's raw response.
    Response(Bytes),
    /// `POST .../error`: a Lambda error JSON for the caller.
    FunctionError(Bytes),
    /// The response was larger than Lambda allows.
    ResponseTooLarge { size: u64 },
    /// The bootstrap exited before answering ("exit status 101", "signal: 9 (SIGKILL)").
    BootstrapExited(String),
    /// A (re)started bootstrap posted `/runtime/init/error` (error JSON).
    InitError(Bytes),
    /// The bootstrap could not be started at all.
    SpawnFailed {
        error_type: &'static str,
        message: String,
    },
}

/// Why a runtime API call about an invocation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No invocation with this id is in flight.
    UnknownId,
    /// The id is known but was not handed out by `/next` yet.
    NotDelivered,
    /// The invocation already has its result (answered, timed out or failed).
    AlreadyDone,
}

/// What a `/next` call gets.
#[derive(Debug)]
pub enum NextPoll {
    Deliver(Arc<Invocation>),
    Wait(oneshot::Receiver<Arc<Invocation>>),
    /// The runtime asked for the next event while the current one is unanswered.
    Unanswered(String),
}

/// Refusal of a second concurrent invocation.
#[derive(Debug)]
pub struct Busy {
    pub running: String,
}

#[derive(Debug, Default)]
pub struct Invocations {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    waiter: Option<oneshot::Sender<Arc<Invocation>>>,
    current: Option<Current>,
}

#[derive(Debug)]
struct Current {
    inv: Arc<Invocation>,
    delivered_at: Option<Instant>,
    outcome: Option<oneshot::Sender<Outcome>>,
}

impl Invocations {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section is short and panic-free; a poisoned lock still holds
        // consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether no invocation is in flight (nor still being reported).
    pub fn is_idle(&self) -> bool {
        self.lock().current.is_none()
    }

    /// Starts an invocation unless one is in flight; hands it to a waiting `/next`.
    pub fn try_begin(&self, inv: Arc<Invocation>) -> Result<oneshot::Receiver<Outcome>, Busy> {
        let mut inner = self.lock();
        if let Some(cur) = &inner.current {
            return Err(Busy {
                running: cur.inv.id.clone(),
            });
        }
        let (tx, rx) = oneshot::channel();
        let mut delivered_at = None;
        if let Some(waiter) = inner.waiter.take()
            && waiter.send(inv.clone()).is_ok()
        {
            delivered_at = Some(Instant::now());
        }
        inner.current = Some(Current {
            inv,
            delivered_at,
            outcome: Some(tx),
        });
        Ok(rx)
    }

    /// The bootstrap asks for its next event.
    pub fn poll_next(&self) -> NextPoll {
        let mut inner = self.lock();
        if let Some(cur) = &mut inner.current {
            match (cur.delivered_at, cur.outcome.is_some()) {
                (None, true) => {
                    cur.delivered_at = Some(Instant::now());
                    return NextPoll::Deliver(cur.inv.clone());
                }
                (Some(_), true) => return NextPoll::Unanswered(cur.inv.id.clone()),
                // Finished but still being reported: wait for the next invoke.
                (_, false) => {}
            }
        }
        let (tx, rx) = oneshot::channel();
        // A second concurrent /next replaces the first one, which then gets an error.
        inner.waiter = Some(tx);
        NextPoll::Wait(rx)
    }

    /// The bootstrap answers the invocation `id`.
    pub fn complete(&self, id: &str, outcome: Outcome) -> Result<(), Rejection> {
        let mut inner = self.lock();
        let Some(cur) = inner.current.as_mut().filter(|c| c.inv.id == id) else {
            return Err(Rejection::UnknownId);
        };
        if cur.delivered_at.is_none() {
            return Err(Rejection::NotDelivered);
        }
        let Some(tx) = cur.outcome.take() else {
            return Err(Rejection::AlreadyDone);
        };
        // The receiver only goes away once the invocation is finished.
        let _ = tx.send(outcome);
        Ok(())
    }

    /// Ends the in-flight invocation, whatever its id, if it has no result yet.
    /// Returns whether there was one.
    pub fn fail_open(&self, outcome: Outcome) -> bool {
        let mut inner = self.lock();
        match inner.current.as_mut().and_then(|c| c.outcome.take()) {
            Some(tx) => {
                let _ = tx.send(outcome);
                true
            }
            None => false,
        }
    }

    /// Refuses any later answer for `id` (its deadline passed). Returns when it was
    /// handed to the bootstrap, if it was.
    pub fn close(&self, id: &str) -> Option<Instant> {
        let mut inner = self.lock();
        let cur = inner.current.as_mut().filter(|c| c.inv.id == id)?;
        cur.outcome = None;
        cur.delivered_at
    }

    /// When `id` was handed to the bootstrap.
    pub fn delivered_at(&self, id: &str) -> Option<Instant> {
        let inner = self.lock();
        inner
            .current
            .as_ref()
            .filter(|c| c.inv.id == id)
            .and_then(|c| c.delivered_at)
    }

    /// Frees the environment for the next invocation.
    pub fn finish(&self, id: &str) {
        let mut inner = self.lock();
        if inner.current.as_ref().is_some_and(|c| c.inv.id == id) {
            inner.current = None;
        }
    }

    /// Forgets a waiting `/next`: it belonged to a bootstrap that is gone, and an event
    /// handed to it would never be answered.
    pub fn clear_waiter(&self) {
        self.lock().waiter = None;
    }

    /// Whether an invocation is in flight without a result yet.
    pub fn has_open(&self) -> bool {
        self.lock()
            .current
            .as_ref()
            .is_some_and(|c| c.outcome.is_some())
    }
}

/// Asks the whole init to stop with an exit code; the first request wins.
#[derive(Debug)]
pub struct Shutdown {
    tx: watch::Sender<Option<i32>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            tx: watch::channel(None).0,
        }
    }
}

impl Shutdown {
    pub fn trigger(&self, code: i32) {
        self.tx.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(code);
                true
            } else {
                false
            }
        });
    }

    pub fn is_triggered(&self) -> bool {
        self.tx.borrow().is_some()
    }

    /// Resolves with the exit code once a shutdown was requested.
    pub async fn wait(&self) -> i32 {
        let mut rx = self.tx.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(code) => code.unwrap_or(0),
            Err(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(id: &str) -> Arc<Invocation> {
        Arc::new(Invocation::new(
            id.into(),
            "arn".into(),
            Bytes::from_static(b"{}"),
            Some(String::new()),
            Duration::from_secs(3),
        ))
    }

    #[tokio::test]
    async fn one_invocation_at_a_time_and_waiting_next_gets_it() {
        let s = Invocations::default();
        let NextPoll::Wait(next) = s.poll_next() else {
            panic!("nothing to deliver yet")
        };
        let outcome = s.try_begin(inv("a")).unwrap();
        assert_eq!(next.await.unwrap().id, "a");
        assert!(s.delivered_at("a").is_some());
        assert_eq!(s.try_begin(inv("b")).unwrap_err().running, "a");
        assert!(matches!(s.poll_next(), NextPoll::Unanswered(id) if id == "a"));
        assert_eq!(
            s.complete("zzz", Outcome::Response(Bytes::new())),
            Err(Rejection::UnknownId)
        );
        s.complete("a", Outcome::Response(Bytes::from_static(b"42")))
            .unwrap();
        assert_eq!(
            s.complete("a", Outcome::Response(Bytes::new())),
            Err(Rejection::AlreadyDone)
        );
        assert!(matches!(outcome.await.unwrap(), Outcome::Response(b) if b == "42"));
        // Finished but not yet reported: a new /next waits instead of failing.
        assert!(matches!(s.poll_next(), NextPoll::Wait(_)));
        s.finish("a");
        assert!(s.try_begin(inv("b")).is_ok());
    }

    #[tokio::test]
    async fn a_dead_bootstraps_next_call_gets_nothing() {
        let s = Invocations::default();
        let NextPoll::Wait(stale) = s.poll_next() else {
            panic!("nothing to deliver yet")
        };
        s.clear_waiter();
        let _outcome = s.try_begin(inv("c")).unwrap();
        assert!(stale.await.is_err(), "the stale /next was dropped");
        assert!(s.delivered_at("c").is_none());
        assert!(matches!(s.poll_next(), NextPoll::Deliver(i) if i.id == "c"));
    }

    #[tokio::test]
    async fn pending_invocation_goes_to_the_next_poll_and_can_time_out() {
        let s = Invocations::default();
        let _outcome = s.try_begin(inv("p")).unwrap();
        assert_eq!(
            s.complete("p", Outcome::Response(Bytes::new())),
            Err(Rejection::NotDelivered)
        );
        assert!(matches!(s.poll_next(), NextPoll::Deliver(i) if i.id == "p"));
        assert!(s.has_open());
        assert!(s.close("p").is_some());
        assert!(!s.has_open());
        assert_eq!(
            s.complete("p", Outcome::Response(Bytes::new())),
            Err(Rejection::AlreadyDone)
        );
        assert!(!s.fail_open(Outcome::BootstrapExited("exit status 1".into())));
    }

    #[tokio::test]
    async fn shutdown_keeps_the_first_code() {
        let sd = Shutdown::default();
        assert!(!sd.is_triggered());
        sd.trigger(1);
        sd.trigger(0);
        assert_eq!(sd.wait().await, 1);
    }

    #[test]
    fn empty_trace_id_is_dropped() {
        assert_eq!(inv("x").trace_id, None);
    }
}
