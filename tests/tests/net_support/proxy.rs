//! A tiny HTTP proxy on 127.0.0.1 for tests (std only, so that the CLI's
//! tests can include this file too): it counts the `CONNECT` tunnels and
//! absolute-form requests it is asked for, and either forwards them to the
//! named loopback target (a name under `.proxy.test` is 127.0.0.1) or
//! refuses them with `403`.
#![allow(dead_code)] // each test file uses part of it

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The most connections one proxy accepts, and how long it lives.
const MAX_CONNECTIONS: usize = 200;
const MAX_LIFETIME: Duration = Duration::from_secs(60);
/// How long a relayed connection may stay silent.
const IDLE: Duration = Duration::from_secs(10);

/// What the proxy does with what it is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Tunnels `CONNECT`s and relays absolute-form requests to loopback
    /// targets.
    Forward,
    /// Answers everything with `403 Forbidden`.
    Refuse,
}

/// A running proxy; stopped when dropped.
pub struct TestProxy {
    port: u16,
    connects: Arc<AtomicUsize>,
    absolute: Arc<AtomicUsize>,
    targets: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestProxy {
    /// Starts a proxy on an ephemeral loopback port.
    pub fn start(mode: Mode) -> TestProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let connects = Arc::new(AtomicUsize::new(0));
        let absolute = Arc::new(AtomicUsize::new(0));
        let targets = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, a, t, s) = (
            connects.clone(),
            absolute.clone(),
            targets.clone(),
            stop.clone(),
        );
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut accepted = 0;
            while accepted < MAX_CONNECTIONS
                && !s.load(Ordering::SeqCst)
                && started.elapsed() < MAX_LIFETIME
            {
                match listener.accept() {
                    Ok((stream, _)) => {
                        accepted += 1;
                        let (c, a, t) = (c.clone(), a.clone(), t.clone());
                        std::thread::spawn(move || serve(stream, mode, &c, &a, &t));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        TestProxy {
            port,
            connects,
            absolute,
            targets,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `CONNECT` requests seen.
    pub fn connects(&self) -> usize {
        self.connects.load(Ordering::SeqCst)
    }

    /// Absolute-form requests (`POST http://host/ HTTP/1.1`) seen, counting
    /// the first of each connection.
    pub fn absolute_requests(&self) -> usize {
        self.absolute.load(Ordering::SeqCst)
    }

    /// Everything asked for: `CONNECT host:port` or `POST http://...`.
    pub fn requests(&self) -> usize {
        self.connects() + self.absolute_requests()
    }

    /// The `host:port` targets asked for, in order.
    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads up to the end of a request head (at most 64 KiB).
fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 || stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(head)
}

fn serve(
    mut client: TcpStream,
    mode: Mode,
    connects: &AtomicUsize,
    absolute: &AtomicUsize,
    targets: &Mutex<Vec<String>>,
) {
    let _ = client.set_nonblocking(false);
    let _ = client.set_read_timeout(Some(IDLE));
    let Some(head) = read_head(&mut client) else {
        return;
    };
    let text = String::from_utf8_lossy(&head).to_string();
    let mut words = text.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let tunnel = method == "CONNECT";
    let authority = if tunnel {
        target.to_string()
    } else if let Some(rest) = target.strip_prefix("http://") {
        rest.split('/').next().unwrap_or("").to_string()
    } else {
        let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        return;
    };
    targets.lock().unwrap().push(authority.clone());
    if tunnel {
        connects.fetch_add(1, Ordering::SeqCst);
    } else {
        absolute.fetch_add(1, Ordering::SeqCst);
    }
    // Names under `.proxy.test` only the proxy resolves (to 127.0.0.1), as
    // a company proxy resolves outside names its clients cannot.
    let authority = match authority.split_once(".proxy.test:") {
        Some((_, port)) => format!("127.0.0.1:{port}"),
        None => authority,
    };
    let loopback = authority.starts_with("127.0.0.1:") || authority.starts_with("localhost:");
    if mode == Mode::Refuse || !loopback {
        let _ = client
            .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        return;
    }
    let Ok(mut upstream) = TcpStream::connect(&authority) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
        return;
    };
    if tunnel {
        let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    } else if upstream.write_all(&head).is_err() {
        return;
    }
    relay(client, upstream);
}

/// Copies bytes both ways until either side closes or stays silent.
fn relay(client: TcpStream, upstream: TcpStream) {
    let _ = upstream.set_read_timeout(Some(IDLE));
    let (mut c_read, mut u_write) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_read, &mut u_write);
        let _ = u_write.shutdown(Shutdown::Write);
    });
    let (mut u_read, mut c_write) = (upstream, client);
    let _ = std::io::copy(&mut u_read, &mut c_write);
    let _ = c_write.shutdown(Shutdown::Both);
    let _ = up.join();
}
