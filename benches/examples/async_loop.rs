//! N async calls (M in flight) against an endpoint, for profilers:
//! `async_loop URL N M`.
use personalize_events_benches::*;

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("endpoint URL");
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let m: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let client = personalize_events_hyper::Client::builder()
        .region("us-east-1")
        .endpoint_url(url)
        .credentials(credentials())
        .fill_event_ids(false)
        .build()
        .expect("client");
    let input = put_events(10);
    rt.block_on(async {
        let tasks: Vec<_> = (0..m)
            .map(|_| {
                let (client, input) = (client.clone(), input.clone());
                tokio::spawn(async move {
                    for _ in 0..n / m {
                        client.put_events(input.clone()).await.expect("call");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
    });
}
