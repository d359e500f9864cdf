//! Serving connections with hyper's HTTP/1.1. No client can hold the service
//! hostage by being slow:
//!
//! - at most `max_connections` connections are served at once; further
//!   clients wait in the listen backlog until one closes, and an accept error
//!   (e.g. no file descriptor left) pauses the loop briefly instead of ending it;
//! - a connection is closed when its client takes longer than
//!   `header_timeout` to send a request's line and headers (counted from the
//!   connection, or from the first byte of a later request), or stays idle
//!   longer than `idle_timeout` between requests. While a request is in
//!   flight these do not apply: the facade's request timeout does;
//! - on shutdown the listener closes, idle and half-sent connections are
//!   dropped, requests in flight finish (their connections close after the
//!   answer), and after `shutdown_timeout` whatever is left is abandoned.

use std::future::{Future, pending};
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::{Instant, sleep_until};
use tower::ServiceExt;

/// How long the accept loop pauses after an error that is not one
/// connection's (such as running out of file descriptors).
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Shortest time between two warnings of the same kind from the accept loop.
const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// The limits on connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Longest a client may take to send a request's line and headers.
    pub header_timeout: Duration,
    /// Longest a connection may stay open with no request in flight.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: u32,
    /// Longest requests in flight may take to finish once shutdown began.
    pub shutdown_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` completes, then drains the
/// open connections for at most `limits.shutdown_timeout`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections as usize));
    let (stopping, stop) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    let (mut full_warning, mut accept_warning) = (Warning::default(), Warning::default());
    loop {
        let permit = match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if full_warning.due() {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached: new connections wait to be accepted"
                    );
                }
                tokio::select! {
                    permit = Arc::clone(&permits).acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let connection =
                    serve_connection(stream, peer, router.clone(), limits, stop.clone());
                tokio::spawn(async move {
                    connection.await;
                    drop(permit);
                });
            }
            Err(error) if is_one_connections(&error) => {
                tracing::debug!(%error, "a connection failed before it was accepted");
            }
            Err(error) => {
                if accept_warning.due() {
                    tracing::warn!(%error, "cannot accept connections; retrying");
                }
                tokio::time::sleep(ACCEPT_PAUSE).await;
            }
        }
    }
    drop(listener);
    stopping.send_replace(true);
    drain(&permits, limits).await;
}

/// Waits until every connection has closed, for at most the shutdown timeout.
async fn drain(permits: &Semaphore, limits: ConnectionLimits) {
    let open = |permits: &Semaphore| {
        (limits.max_connections as usize).saturating_sub(permits.available_permits())
    };
    if open(permits) == 0 {
        return;
    }
    tracing::info!(
        open = open(permits),
        "no longer accepting connections; letting requests in flight finish"
    );
    let all_closed = permits.acquire_many(limits.max_connections);
    if tokio::time::timeout(limits.shutdown_timeout, all_closed)
        .await
        .is_err()
    {
        tracing::warn!(
            open = open(permits),
            timeout_seconds = limits.shutdown_timeout.as_secs_f64(),
            "shutdown timeout: abandoning the connections still open"
        );
    }
}

/// Errors of one connection that failed between the client's SYN and our
/// accept: nothing to do with the listener itself.
fn is_one_connections(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

/// Says when a repeated warning is worth logging again.
#[derive(Debug, Default)]
struct Warning {
    last: Option<Instant>,
}

impl Warning {
    fn due(&mut self) -> bool {
        let now = Instant::now();
        let due = self
            .last
            .is_none_or(|last| now.duration_since(last) >= WARNING_INTERVAL);
        if due {
            self.last = Some(now);
        }
        due
    }
}

/// Serves one connection until it ends, is too slow or idle, or shutdown.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    // Answers are written whole; waiting to coalesce them only adds latency.
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: Arc::clone(&activity),
    });
    let service = {
        let activity = Arc::clone(&activity);
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            let in_flight = activity.request_started();
            request.extensions_mut().insert(ConnectInfo(peer));
            let answer = router.clone().oneshot(request);
            async move {
                let response = answer.await;
                drop(in_flight);
                response
            }
        })
    };
    let mut http = http1::Builder::new();
    // The deadlines are kept below, by phase: hyper's own header timer would
    // also run while a keep-alive connection is idle.
    http.header_read_timeout(None);
    let mut connection = pin!(http.serve_connection(io, service));
    let mut stopping = false;
    loop {
        let deadline = activity.deadline(limits, stopping);
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            () = activity.changed.notified() => {}
            () = sleep_until_some(deadline.map(|(at, _)| at)) => {
                if let Some((at, why)) = activity.deadline(limits, stopping)
                    && at <= Instant::now()
                {
                    tracing::debug!(%peer, why, "closing the connection");
                    return;
                }
            }
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => pending().await,
    }
}

/// Where a connection is in its request cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting since `since` for a request head: since the connection was
    /// accepted, or since the first byte of a request after an idle spell.
    Head { since: Instant },
    /// `requests` requests are being answered.
    Busy { requests: usize },
    /// No request in flight since `since`.
    Idle { since: Instant },
}

/// One connection's phase, shared by its reads, its requests and its watch.
#[derive(Debug)]
struct Activity {
    phase: Mutex<Phase>,
    /// Woken when the phase changes (one waiter: the connection's watch).
    changed: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            phase: Mutex::new(Phase::Head {
                since: Instant::now(),
            }),
            changed: Notify::new(),
        }
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, mut phase: MutexGuard<'_, Phase>, next: Phase) {
        *phase = next;
        drop(phase);
        self.changed.notify_one();
    }

    /// Bytes arrived: after an idle spell, a new request head has begun.
    fn received(&self) {
        let phase = self.phase();
        if let Phase::Idle { .. } = *phase {
            self.set(
                phase,
                Phase::Head {
                    since: Instant::now(),
                },
            );
        }
    }

    /// A request head was read; the connection is busy until the guard drops.
    fn request_started(self: &Arc<Self>) -> InFlight {
        let phase = self.phase();
        let requests = match *phase {
            Phase::Busy { requests } => requests + 1,
            Phase::Head { .. } | Phase::Idle { .. } => 1,
        };
        self.set(phase, Phase::Busy { requests });
        InFlight(Arc::clone(self))
    }

    /// When the connection must close if nothing changes, and why.
    fn deadline(
        &self,
        limits: ConnectionLimits,
        stopping: bool,
    ) -> Option<(Instant, &'static str)> {
        match *self.phase() {
            Phase::Busy { .. } => None,
            Phase::Head { since } if stopping => Some((since, "shutdown")),
            Phase::Head { since } => Some((since + limits.header_timeout, "header timeout")),
            Phase::Idle { since } => Some((since + limits.idle_timeout, "idle timeout")),
        }
    }
}

/// A request in flight on a connection; its end makes the connection idle.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let phase = self.0.phase();
        let next = match *phase {
            Phase::Busy { requests } if requests > 1 => Phase::Busy {
                requests: requests - 1,
            },
            _ => Phase::Idle {
                since: Instant::now(),
            },
        };
        self.0.set(phase, next);
    }
}

/// The connection's socket, telling its [`Activity`] when bytes arrive.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.received();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ConnectionLimits = ConnectionLimits {
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        max_connections: 1,
        shutdown_timeout: Duration::from_secs(10),
    };

    fn why(activity: &Activity, stopping: bool) -> Option<&'static str> {
        activity.deadline(LIMITS, stopping).map(|(_, why)| why)
    }

    #[test]
    fn a_connection_goes_head_busy_idle_head() {
        let activity = Arc::new(Activity::new());
        assert_eq!(
            why(&activity, false),
            Some("header timeout"),
            "a new connection"
        );

        let request = activity.request_started();
        assert_eq!(
            why(&activity, false),
            None,
            "no deadline while a request is in flight"
        );
        activity.received();
        assert_eq!(why(&activity, false), None, "body bytes change nothing");

        drop(request);
        assert_eq!(why(&activity, false), Some("idle timeout"));

        activity.received();
        assert_eq!(
            why(&activity, false),
            Some("header timeout"),
            "the first byte of the next request"
        );
    }

    #[test]
    fn the_header_deadline_counts_from_the_first_byte_not_from_every_byte() {
        let activity = Arc::new(Activity::new());
        drop(activity.request_started());
        activity.received();
        let first = activity.deadline(LIMITS, false);
        std::thread::sleep(Duration::from_millis(5));
        activity.received();
        assert_eq!(activity.deadline(LIMITS, false), first);
    }

    #[test]
    fn on_shutdown_only_requests_in_flight_keep_their_connection() {
        let activity = Arc::new(Activity::new());
        let due = |activity: &Activity| {
            activity
                .deadline(LIMITS, true)
                .is_some_and(|(at, _)| at <= Instant::now())
        };
        assert!(due(&activity), "a connection without a request closes now");
        let request = activity.request_started();
        assert!(!due(&activity));
        drop(request);
        assert_eq!(
            why(&activity, true),
            Some("idle timeout"),
            "after its answer, hyper closes it (graceful shutdown)"
        );
    }

    #[test]
    fn pipelined_requests_keep_the_connection_busy_until_the_last_answer() {
        let activity = Arc::new(Activity::new());
        let first = activity.request_started();
        let second = activity.request_started();
        drop(first);
        assert_eq!(why(&activity, false), None);
        drop(second);
        assert_eq!(why(&activity, false), Some("idle timeout"));
    }
}
