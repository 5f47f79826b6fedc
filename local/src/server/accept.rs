//! The accept loop and one connection: hyper's HTTP/1.1 server with header
//! and stop deadlines, every connection drained or closed on a stop.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::handle::handle;
use super::{stopping, Shared, GRACE, HEADER_TIMEOUT};

/// Resolves at `deadline`, or never without one.
async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Accepts connections until a stop or the `max_duration` deadline, then
/// lets open ones finish (at most [`GRACE`]) and marks the server stopped.
pub(super) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    let deadline = shared
        .config
        .max_duration
        .map(|d| tokio::time::Instant::now() + d);
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopping(&mut shutdown) => break,
            _ = until(deadline) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    conns.spawn(connection(stream, shared.clone()));
                }
                // Out of file descriptors and the like: breathe, go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    shared.stop();
    drop(listener);
    let drained =
        tokio::time::timeout(GRACE, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        conns.shutdown().await;
    }
    shared.mark_stopped();
}

/// Serves one connection, keeping a second handle on its socket so that a
/// reset fault can reset it; shuts it down gracefully on a stop.
async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    // Keep a second handle on the socket, to reset it on purpose.
    let Ok(std_stream) = stream.into_std() else {
        return;
    };
    let Ok(raw) = std_stream.try_clone() else {
        return;
    };
    let Ok(stream) = TcpStream::from_std(std_stream) else {
        return;
    };
    let raw = Arc::new(raw);
    let svc_shared = shared.clone();
    let service = service_fn(move |req| handle(svc_shared.clone(), raw.clone(), req));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let mut shutdown = shared.shutdown.subscribe();
    let stopping = tokio::select! {
        _ = conn.as_mut() => false,
        _ = stopping(&mut shutdown) => true,
    };
    if stopping {
        conn.as_mut().graceful_shutdown();
        let _ = conn.await;
    }
}
