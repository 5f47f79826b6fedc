//! A keep-alive HTTP/1.1 server on 127.0.0.1 that reads each request and
//! answers 200 with an empty body and a request id: the cheapest possible
//! peer, so a throughput run measures the client. Prints its URL on the
//! first line of stdout; stops after `--seconds N` (default 120) or when
//! stdin closes. With `--count` it also prints `accepted N` on stdout
//! (flushed line by line) for each signed `POST /events` (a PutEvents) it
//! reads, before answering it, so a caller that saw its call succeed can
//! check the sink counted it (the cold-start bench does).
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

fn main() {
    let seconds: u64 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let count = std::env::args().any(|a| a == "--count");
    let accepted = Arc::new(AtomicU64::new(0));
    // One thread, no work stealing: the cheapest server for either client.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("http://{}", listener.local_addr().expect("addr"));
        let serve = async {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let accepted = Arc::clone(&accepted);
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let accepted = Arc::clone(&accepted);
                        async move {
                            let put_events = req.method() == hyper::Method::POST
                                && req.uri().path() == "/events"
                                && req.headers().contains_key(hyper::header::AUTHORIZATION);
                            let read = req.into_body().collect().await.is_ok();
                            if count && put_events && read {
                                let n = accepted.fetch_add(1, Ordering::Relaxed) + 1;
                                println!("accepted {n}");
                            }
                            Ok::<_, Infallible>(
                                hyper::Response::builder()
                                    .status(200)
                                    .header(
                                        "x-amzn-requestid",
                                        "00000000-0000-4000-8000-000000000000",
                                    )
                                    .body(Empty::<Bytes>::new())
                                    .expect("response"),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        };
        // On a thread of its own: a blocking read must not hold the runtime.
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut s = String::new();
            while std::io::stdin()
                .read_line(&mut s)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                s.clear();
            }
        });
        tokio::select! {
            _ = serve => {}
            _ = tokio::time::sleep(Duration::from_secs(seconds)) => {}
            _ = stdin_closed => {}
        }
    });
}
