//! Everything a custom runtime must do to use the core, in one file: drive
//! the `Call` state machine with a minimal HTTP/1.1 exchange over
//! `std::net::TcpStream`.
//!
//! Run: `cargo run -p personalize-events-core --example custom_runtime`
//! (it starts its own loopback server that answers 503 once, then 200), or
//! point it at an endpoint: `... --example custom_runtime -- http://127.0.0.1:PORT`.

#![allow(clippy::disallowed_methods)] // a runtime reads the clock and sleeps; core does not

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant, SystemTime};

use personalize_events_core::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint_url = match std::env::args().nth(1) {
        Some(url) => url,
        None => start_demo_server()?,
    };
    let endpoint = endpoint::resolve(&EndpointParams {
        region: Some("us-east-1".into()),
        endpoint: Some(endpoint_url),
        ..Default::default()
    })?;
    let mut config = ClientConfig::new("us-east-1", endpoint);
    config.retry = RetryConfig::default().with_initial_backoff(Duration::from_millis(50));
    let core = ClientCore::new(config)?;
    let credentials = Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        None,
    );

    let input = PutEventsInput::new("tracking-id", "session-1")
        .user_id("user-7")
        .event(Event::new("click", SystemTime::now()).item_id("item-42"));

    // 1. Start the call: validation and encoding happen here, before any IO.
    let mut call = core.call(&input, Instant::now(), entropy())?;
    // 2. Drive it: send, wait or finish. Time, credentials and randomness go in.
    let output = loop {
        match call.poll(Instant::now(), SystemTime::now(), &credentials, jitter()) {
            Poll::Send(send) => match exchange(&send.request, send.timeout) {
                Ok((status, headers, body)) => {
                    let mut response = http::Response::builder().status(status);
                    for (k, v) in &headers {
                        response = response.header(k, v);
                    }
                    call.handle_response(
                        Instant::now(),
                        SystemTime::now(),
                        response.body(&body[..])?,
                    );
                }
                Err(e) => {
                    let kind = match e.kind() {
                        std::io::ErrorKind::ConnectionRefused => TransportErrorKind::Connect,
                        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                            TransportErrorKind::Timeout
                        }
                        _ => TransportErrorKind::Io,
                    };
                    call.handle_transport_error(
                        Instant::now(),
                        Error::transport(kind, e.to_string()),
                    );
                }
            },
            Poll::Wait(d) => std::thread::sleep(d),
            Poll::Done(result) => break result?,
        }
    };
    println!(
        "sent after {} attempt(s), request id {:?}",
        call.attempts(),
        output.request_id
    );
    Ok(())
}

type Exchange = (u16, Vec<(String, String)>, Vec<u8>);

/// One HTTP/1.1 request and response on a fresh connection.
fn exchange(
    req: &http::Request<personalize_events_core::Bytes>,
    timeout: Duration,
) -> std::io::Result<Exchange> {
    let authority = req.uri().authority().map(|a| a.as_str()).unwrap_or("");
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method(), req.uri().path());
    for (k, v) in req.headers() {
        head.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap_or("")));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        req.body().len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(req.body())?;

    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let Some((k, v)) = line.trim_end().split_once(':') else {
            break;
        };
        if k.eq_ignore_ascii_case("content-length") {
            length = v.trim().parse().unwrap_or(0);
        }
        headers.push((k.to_string(), v.trim().to_string()));
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    Ok((status, headers, body))
}

/// Randomness for event ids and backoff jitter; any source will do.
fn entropy() -> u128 {
    use std::hash::{BuildHasher, RandomState};
    let s = RandomState::new();
    (s.hash_one(1u8) as u128) << 64 | s.hash_one(2u8) as u128
}

fn jitter() -> f64 {
    (entropy() as u64 >> 11) as f64 / (1u64 << 53) as f64
}

/// A loopback server answering 503 to the first request and 200 after.
fn start_demo_server() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().take(2).enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let status = if i == 0 {
                "503 Service Unavailable"
            } else {
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nx-amzn-RequestId: demo-{i}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    Ok(url)
}
