//! The listening half every std-based loopback test server shares: bind
//! 127.0.0.1 on a free port, accept on a thread (bounded in connections and
//! lifetime), serve each connection on a thread of its own, and on drop
//! stop and join them all.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a server lives at most, whatever the test does.
const MAX_LIFETIME: Duration = Duration::from_secs(120);

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// An accepting loopback listener; stops (and joins every thread) when dropped.
pub(crate) struct Acceptor {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
    workers: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl Acceptor {
    /// Starts accepting; `serve(stream, n)` runs on its own thread for the
    /// `n`th connection (from 0). `stop` is raised on drop; servers read it
    /// to end their loops. At most `max_connections` are accepted.
    pub(crate) fn start(
        name: &'static str,
        stop: Arc<AtomicBool>,
        max_connections: usize,
        serve: impl Fn(TcpStream, usize) + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let connections = Arc::new(AtomicUsize::new(0));
        let workers = Arc::new(Mutex::new(Vec::new()));
        let (s, c, w) = (stop.clone(), connections.clone(), workers.clone());
        let serve = Arc::new(serve);
        let acceptor = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let started = Instant::now();
                while !s.load(Ordering::SeqCst) && started.elapsed() < MAX_LIFETIME {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let n = c.fetch_add(1, Ordering::SeqCst);
                            if n >= max_connections {
                                break;
                            }
                            let serve = serve.clone();
                            let worker = std::thread::Builder::new()
                                .name(format!("{name}-conn-{n}"))
                                .spawn(move || serve(stream, n));
                            if let Ok(h) = worker {
                                lock(&w).push(h);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(2))
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
            .expect("spawn the acceptor");
        Acceptor {
            addr,
            stop,
            connections,
            workers,
            acceptor: Some(acceptor),
        }
    }

    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        let workers = std::mem::take(&mut *lock(&self.workers));
        for w in workers {
            let _ = w.join();
        }
    }
}
