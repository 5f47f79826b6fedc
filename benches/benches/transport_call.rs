//! The whole `PutEvents` call (1 and 10 realistic events) through each
//! transport, against a peer in the same process answering 200:
//!
//! * `core_no_io`: the protocol core alone (validate, encode, sign, decode a
//!   canned 200) — what every transport adds its I/O to;
//! * `hyper_in_memory`: the async client (`personalize_events_hyper`) with a
//!   custom connector handing out `tokio::io::duplex` streams, each served by
//!   a hyper http1 server task (keep-alive) on the other end. One
//!   current-thread runtime runs the client, its connection and the server;
//! * `blocking_loopback`: the blocking client (`personalize_events_blocking`)
//!   over **loopback TCP** to a keep-alive HTTP/1.1 server thread (std::net).
//!   Not in memory: the client builds its ureq agent with ureq's default
//!   connector and has no hook for another one, and adding one would thread
//!   ureq's unversioned connector type through its public builder. So this
//!   number includes two loopback socket round trips per call (and the
//!   server thread's wake-ups);
//! * `official_sdk_in_memory` (with `--features official-sdk`): the official
//!   `aws-sdk-personalizeevents` through its in-memory HTTP client
//!   (`infallible_client_fn`), on a current-thread runtime. Its HTTP client
//!   is a function returning a response: no HTTP/1 framing, so compare it
//!   with `core_no_io` for the client's own work and with `hyper_in_memory`
//!   for a whole call.
//!
//! The clients take their input by value: each iteration gets its own clone,
//! made outside the measurement (`iter_batched`).
//!
//! ```sh
//! cargo bench -p personalize-events-benches --bench transport_call
//! cargo bench -p personalize-events-benches --features official-sdk --bench transport_call
//! ```
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use personalize_events_benches::*;
use personalize_events_core::{ClientCore, Credentials, Operation, Poll};

const REQUEST_ID: &str = "00000000-0000-4000-8000-000000000000";

/// The whole call through the core alone: the response is handed back
/// without I/O (as `compare` measures it).
fn core_whole_call<I: Operation>(core: &ClientCore, creds: &Credentials, input: &I) -> I::Output {
    let now = Instant::now();
    let mut call = core.call(input, now, 1).expect("valid input");
    loop {
        match call.poll(now, wall(), creds, 0.5) {
            Poll::Send(s) => {
                black_box(&s.request);
                let resp = http::Response::builder()
                    .status(200)
                    .header("x-amzn-requestid", REQUEST_ID)
                    .body(&b""[..])
                    .expect("response");
                call.handle_response(now, wall(), resp);
            }
            Poll::Wait(_) => unreachable!("a 200 is not retried"),
            Poll::Done(r) => return r.expect("ok"),
        }
    }
}

/// An in-memory connector for the async client: every connection is a
/// `tokio::io::duplex` pair whose far end a hyper http1 server task serves.
mod in_memory {
    use std::convert::Infallible;
    use std::future::{ready, Ready};
    use std::io;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use http_body_util::{BodyExt, Empty};
    use hyper::body::{Bytes, Incoming};
    use hyper::rt::{Read, ReadBufCursor, Write};
    use hyper_util::client::legacy::connect::{Connected, Connection};
    use hyper_util::rt::TokioIo;
    use tokio::io::DuplexStream;

    /// Bytes buffered each way in a duplex pair.
    const PIPE: usize = 64 * 1024;

    /// The client's end of an in-memory connection.
    pub struct Io(TokioIo<DuplexStream>);

    impl Connection for Io {
        fn connected(&self) -> Connected {
            Connected::new()
        }
    }

    impl Read for Io {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: ReadBufCursor<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
        }
    }

    impl Write for Io {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.get_mut().0).poll_flush(cx)
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
        }
    }

    /// Opens in-memory connections (must be called inside a Tokio runtime:
    /// it spawns the server task) and counts them.
    #[derive(Clone, Default)]
    pub struct Connector {
        opened: Arc<AtomicUsize>,
    }

    impl Connector {
        /// Connections opened so far.
        pub fn opened(&self) -> usize {
            self.opened.load(Ordering::Relaxed)
        }
    }

    impl tower_service::Service<http::Uri> for Connector {
        type Response = Io;
        type Error = io::Error;
        type Future = Ready<Result<Io, io::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Uri) -> Self::Future {
            let (client, server) = tokio::io::duplex(PIPE);
            tokio::spawn(serve(server));
            self.opened.fetch_add(1, Ordering::Relaxed);
            ready(Ok(Io(TokioIo::new(client))))
        }
    }

    /// Serves one connection: reads each request whole, answers 200 with an
    /// empty body and a request id, keeps the connection open.
    async fn serve(stream: DuplexStream) {
        let service = hyper::service::service_fn(|req: http::Request<Incoming>| async move {
            let _ = req.into_body().collect().await;
            Ok::<_, Infallible>(
                http::Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .header("x-amzn-requestid", super::REQUEST_ID)
                    .body(Empty::<Bytes>::new())
                    .expect("response"),
            )
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service)
            .await;
    }
}

/// A keep-alive HTTP/1.1 server on 127.0.0.1 for the blocking client: one
/// thread per connection reads each request whole (`content-length`
/// framing, as the client sends) and answers 200 with an empty body.
mod loopback {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};

    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 0\r\nx-amzn-requestid: 00000000-0000-4000-8000-000000000000\r\n\r\n";

    /// Starts the server; its threads end with the process (a connection's
    /// thread ends when the client closes it).
    pub fn start() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        std::thread::Builder::new()
            .name("loopback-accept".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let _ = std::thread::Builder::new()
                        .name("loopback-conn".into())
                        .spawn(move || serve(stream));
                }
            })
            .expect("spawn accept thread");
        addr
    }

    fn serve(stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let Ok(write_half) = stream.try_clone() else {
            return;
        };
        let mut writer = write_half;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        let mut body = Vec::new();
        loop {
            // The request line, then headers up to the empty line.
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let mut content_length = 0usize;
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line == "\r\n" || line == "\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        content_length = value.trim().parse().unwrap_or(0);
                    } else if name.eq_ignore_ascii_case("transfer-encoding") {
                        panic!("the loopback server reads content-length bodies only");
                    }
                }
            }
            body.resize(content_length, 0);
            if reader.read_exact(&mut body).is_err() || writer.write_all(RESPONSE).is_err() {
                return;
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let core = client_core();
    let creds = credentials();

    // Ours, async: one current-thread runtime for the client and the server.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let connector = in_memory::Connector::default();
    let hyper_client = {
        let _guard = rt.enter();
        personalize_events_hyper::Client::builder()
            .region("us-east-1")
            .endpoint_url("http://personalize-events.in-memory.invalid")
            .credentials(credentials())
            .fill_event_ids(false)
            .build_with_connector(connector.clone())
            .expect("async client")
    };

    // Ours, blocking: loopback TCP.
    let addr = loopback::start();
    let blocking_client = personalize_events_blocking::Client::builder()
        .region("us-east-1")
        .endpoint_url(format!("http://{addr}"))
        .credentials(credentials())
        .fill_event_ids(false)
        .build()
        .expect("blocking client");

    #[cfg(feature = "official-sdk")]
    let official = official::Official::new();

    // Each path works, and the async client keeps its one connection.
    for _ in 0..3 {
        rt.block_on(hyper_client.put_events(put_events(10)))
            .expect("async call");
        blocking_client
            .put_events(put_events(10))
            .expect("blocking call");
    }
    assert_eq!(connector.opened(), 1, "the pooled connection is reused");

    let mut g = c.benchmark_group("transport_call");
    for n in [1, 10] {
        let input = put_events(n);
        let name = format!("put_events_{n}");
        g.bench_function(BenchmarkId::new(&name, "core_no_io"), |b| {
            b.iter(|| black_box(core_whole_call(&core, &creds, black_box(&input))))
        });
        g.bench_function(BenchmarkId::new(&name, "hyper_in_memory"), |b| {
            b.iter_batched(
                || input.clone(),
                |i| rt.block_on(hyper_client.put_events(i)).expect("async call"),
                BatchSize::SmallInput,
            )
        });
        g.bench_function(BenchmarkId::new(&name, "blocking_loopback"), |b| {
            b.iter_batched(
                || input.clone(),
                |i| blocking_client.put_events(i).expect("blocking call"),
                BatchSize::SmallInput,
            )
        });
        #[cfg(feature = "official-sdk")]
        g.bench_function(BenchmarkId::new(&name, "official_sdk_in_memory"), |b| {
            b.iter_batched(
                || official::events(n),
                |events| official.put_events(events),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
    assert_eq!(
        connector.opened(),
        1,
        "the async client kept its one in-memory connection"
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
