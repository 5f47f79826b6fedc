//! Loopback throughput in one run: our async client at 1 and 32 calls in
//! flight, our blocking client at 1 and 8 threads, and (with
//! `--features official-sdk`) the official SDK at 1 and 32, all against the
//! same keep-alive `sink_server` in a separate process. Reports calls/s,
//! events/s and client CPU µs per call. Every run is bounded in count and time.
//!
//! ```sh
//! cargo run --release -p personalize-events-benches --bin throughput -- [--seconds 3]
//! ```
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use personalize_events_benches::*;

/// Client CPU (user + system) of this process, from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 (1-based); here 11 and 12 (0-based after state).
    let t = ticks(11) + ticks(12);
    Duration::from_millis(t * 10) // USER_HZ = 100 on Linux
}

struct Result {
    name: String,
    calls: u64,
    wall: Duration,
    cpu: Duration,
}

impl Result {
    fn print(&self) {
        let secs = self.wall.as_secs_f64();
        println!(
            "| {} | {:.0} | {:.0} | {:.1} |",
            self.name,
            self.calls as f64 / secs,
            self.calls as f64 * 10.0 / secs,
            self.cpu.as_micros() as f64 / self.calls.max(1) as f64
        );
    }
}

fn run_async(url: &str, in_flight: usize, budget: Duration, max_calls: u64) -> Result {
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
    let calls = Arc::new(AtomicU64::new(0));
    let input = put_events(10);
    // Warm up the pool.
    rt.block_on(async {
        for _ in 0..in_flight.min(8) {
            client.put_events(input.clone()).await.expect("warm-up");
        }
    });
    let (cpu0, t0) = (cpu_time(), Instant::now());
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..in_flight {
            let (client, calls, input) = (client.clone(), calls.clone(), input.clone());
            tasks.push(tokio::spawn(async move {
                while t0.elapsed() < budget && calls.fetch_add(1, Ordering::Relaxed) < max_calls {
                    client.put_events(input.clone()).await.expect("call");
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    let (wall, cpu) = (t0.elapsed(), cpu_time() - cpu0);
    Result {
        name: format!("ours, async (hyper), {in_flight} in flight"),
        calls: calls.load(Ordering::Relaxed).min(max_calls),
        wall,
        cpu,
    }
}

fn run_blocking(url: &str, threads: usize, budget: Duration, max_calls: u64) -> Result {
    let client = personalize_events_blocking::Client::builder()
        .region("us-east-1")
        .endpoint_url(url)
        .credentials(credentials())
        .fill_event_ids(false)
        .build()
        .expect("client");
    let input = put_events(10);
    client.put_events(input.clone()).expect("warm-up");
    let calls = AtomicU64::new(0);
    let (cpu0, t0) = (cpu_time(), Instant::now());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while t0.elapsed() < budget && calls.fetch_add(1, Ordering::Relaxed) < max_calls {
                    client.put_events(input.clone()).expect("call");
                }
            });
        }
    });
    let (wall, cpu) = (t0.elapsed(), cpu_time() - cpu0);
    Result {
        name: format!("ours, blocking (ureq), {threads} thread(s)"),
        calls: calls.load(Ordering::Relaxed).min(max_calls),
        wall,
        cpu,
    }
}

#[cfg(feature = "official-sdk")]
fn run_official(url: &str, in_flight: usize, budget: Duration, max_calls: u64) -> Result {
    use aws_sdk_personalizeevents as pe;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let config = pe::Config::builder()
        .behavior_version(pe::config::BehaviorVersion::latest())
        .region(pe::config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(pe::config::Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "bench",
        ))
        .build();
    let client = pe::Client::from_conf(config);
    let calls = Arc::new(AtomicU64::new(0));
    let send = |client: pe::Client| async move {
        client
            .put_events()
            .tracking_id("5f7a3c1e-9b2d-4e8f-a6c4-0d1b2e3f4a5b")
            .session_id("session-4f1c2d")
            .user_id("user-000042")
            .set_event_list(Some(official_events(10)))
            .send()
            .await
            .expect("official call")
    };
    rt.block_on(async {
        for _ in 0..in_flight.min(8) {
            send(client.clone()).await;
        }
    });
    let (cpu0, t0) = (cpu_time(), Instant::now());
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..in_flight {
            let (client, calls) = (client.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                while t0.elapsed() < budget && calls.fetch_add(1, Ordering::Relaxed) < max_calls {
                    send(client.clone()).await;
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    let (wall, cpu) = (t0.elapsed(), cpu_time() - cpu0);
    Result {
        name: format!("official SDK, {in_flight} in flight"),
        calls: calls.load(Ordering::Relaxed).min(max_calls),
        wall,
        cpu,
    }
}

#[cfg(feature = "official-sdk")]
fn official_events(n: usize) -> Vec<aws_sdk_personalizeevents::types::Event> {
    use aws_sdk_personalizeevents as pe;
    (0..n)
        .map(|i| {
            let e = event(i);
            pe::types::Event::builder()
                .event_id(e.event_id.unwrap_or_default())
                .event_type(e.event_type)
                .event_value(e.event_value.unwrap_or_default())
                .item_id(e.item_id.unwrap_or_default())
                .properties(e.properties.map(|p| p.into_string()).unwrap_or_default())
                .sent_at(aws_smithy_types::DateTime::from(e.sent_at))
                .recommendation_id(e.recommendation_id.unwrap_or_default())
                .set_impression(e.impression)
                .build()
                .expect("valid event")
        })
        .collect()
}

fn main() {
    let seconds: f64 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let budget = Duration::from_secs_f64(seconds.clamp(0.5, 60.0));
    let max_calls = 2_000_000;
    let server_bin = std::env::current_exe()
        .expect("exe")
        .with_file_name("sink_server");
    let mut server = Command::new(&server_bin)
        .args(["--seconds", "600"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "start {} (build it with the same profile): {e}",
                server_bin.display()
            )
        });
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("server URL");
    let url = line.trim().to_string();

    println!("loopback throughput, PutEvents with 10 events per call, {seconds} s per row, server: separate process (1 thread)");
    println!(
        "machine: {} CPU(s)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!("| client | calls/s | events/s | client CPU µs/call |");
    println!("|---|---|---|---|");
    let mut rows = vec![
        run_async(&url, 1, budget, max_calls),
        run_async(&url, 32, budget, max_calls),
        run_blocking(&url, 1, budget, max_calls),
        run_blocking(&url, 8, budget, max_calls),
    ];
    #[cfg(feature = "official-sdk")]
    {
        rows.push(run_official(&url, 1, budget, max_calls));
        rows.push(run_official(&url, 32, budget, max_calls));
    }
    for r in &rows {
        r.print();
    }
    #[cfg(feature = "official-sdk")]
    {
        let cpu = |r: &Result| r.cpu.as_secs_f64() / r.calls.max(1) as f64;
        let rate = |r: &Result| r.calls as f64 / r.wall.as_secs_f64();
        println!();
        println!(
            "client CPU per call, ours async 32 / official 32: {:.2}; async throughput at 32, ours / official: {:.2}; blocking 1 thread / official 1 in flight: {:.2}",
            cpu(&rows[1]) / cpu(&rows[5]),
            rate(&rows[1]) / rate(&rows[5]),
            rate(&rows[2]) / rate(&rows[4]),
        );
    }
    rows.clear();
    let _ = server.kill();
    let _ = server.wait();
}
