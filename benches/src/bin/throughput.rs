//! Loopback throughput in one run: our async client at 1 and 32 calls in
//! flight, our blocking client at 1 and 8 threads, and (with
//! `--features official-sdk`) the official SDK at 1 and 32, all against the
//! same keep-alive `sink_server` in a separate process, in interleaved
//! rounds (each row runs one slice of `--seconds / --rounds` per round) so
//! that the machine's drift reaches all rows alike; the ratios are the
//! median of the rounds' ratios. Reports calls/s, events/s and client CPU µs
//! per call. Every run is bounded in count and time.
//!
//! ```sh
//! cargo run --release -p personalize-events-benches --bin throughput -- [--seconds 3] [--rounds 6]
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

/// What one contender did in one slice (or in all its slices, summed).
#[derive(Clone, Copy, Default)]
struct Slice {
    calls: u64,
    wall: Duration,
    cpu: Duration,
}

impl Slice {
    fn add(&mut self, other: Slice) {
        self.calls += other.calls;
        self.wall += other.wall;
        self.cpu += other.cpu;
    }

    fn rate(&self) -> f64 {
        self.calls as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// A client set up once (runtime, client, input), then run for slice
/// after slice.
struct Contender {
    name: String,
    run: Box<dyn FnMut(Duration) -> Slice>,
    total: Slice,
    /// Calls per second in each round.
    rates: Vec<f64>,
}

impl Contender {
    fn new(name: String, run: impl FnMut(Duration) -> Slice + 'static) -> Self {
        Contender {
            name,
            run: Box::new(run),
            total: Slice::default(),
            rates: Vec::new(),
        }
    }

    fn print(&self) {
        let t = &self.total;
        println!(
            "| {} | {:.0} | {:.0} | {:.1} |",
            self.name,
            t.rate(),
            t.rate() * 10.0,
            t.cpu.as_micros() as f64 / t.calls.max(1) as f64
        );
    }
}

/// Runs `call` (one call each time) on `tasks` tasks until `budget` or
/// `max_calls`, measuring wall and client CPU.
fn timed_async<F, Fut>(
    rt: &tokio::runtime::Runtime,
    tasks: usize,
    budget: Duration,
    max_calls: u64,
    call: F,
) -> Slice
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let calls = Arc::new(AtomicU64::new(0));
    let (cpu0, t0) = (cpu_time(), Instant::now());
    rt.block_on(async {
        let mut handles = Vec::new();
        for _ in 0..tasks {
            let (call, calls) = (call.clone(), calls.clone());
            handles.push(tokio::spawn(async move {
                while t0.elapsed() < budget && calls.fetch_add(1, Ordering::Relaxed) < max_calls {
                    call().await;
                }
            }));
        }
        for h in handles {
            let _ = h.await;
        }
    });
    Slice {
        calls: calls.load(Ordering::Relaxed).min(max_calls),
        wall: t0.elapsed(),
        cpu: cpu_time() - cpu0,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn ours_async(url: &str, in_flight: usize, max_calls: u64) -> Contender {
    let rt = runtime();
    let client = personalize_events_hyper::Client::builder()
        .region("us-east-1")
        .endpoint_url(url)
        .credentials(credentials())
        .fill_event_ids(false)
        .build()
        .expect("client");
    let input = put_events(10);
    // Warm up the pool.
    rt.block_on(async {
        for _ in 0..in_flight.min(8) {
            client.put_events(input.clone()).await.expect("warm-up");
        }
    });
    Contender::new(
        format!("ours, async (hyper), {in_flight} in flight"),
        move |budget| {
            let (client, input) = (client.clone(), input.clone());
            timed_async(&rt, in_flight, budget, max_calls, move || {
                let (client, input) = (client.clone(), input.clone());
                async move {
                    client.put_events(input).await.expect("call");
                }
            })
        },
    )
}

fn ours_blocking(url: &str, threads: usize, max_calls: u64) -> Contender {
    let client = personalize_events_blocking::Client::builder()
        .region("us-east-1")
        .endpoint_url(url)
        .credentials(credentials())
        .fill_event_ids(false)
        .build()
        .expect("client");
    let input = put_events(10);
    client.put_events(input.clone()).expect("warm-up");
    Contender::new(
        format!("ours, blocking (ureq), {threads} thread(s)"),
        move |budget| {
            let calls = AtomicU64::new(0);
            let (cpu0, t0) = (cpu_time(), Instant::now());
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        while t0.elapsed() < budget
                            && calls.fetch_add(1, Ordering::Relaxed) < max_calls
                        {
                            client.put_events(input.clone()).expect("call");
                        }
                    });
                }
            });
            Slice {
                calls: calls.load(Ordering::Relaxed).min(max_calls),
                wall: t0.elapsed(),
                cpu: cpu_time() - cpu0,
            }
        },
    )
}

#[cfg(feature = "official-sdk")]
fn official(url: &str, in_flight: usize, max_calls: u64) -> Contender {
    use aws_sdk_personalizeevents as pe;
    let rt = runtime();
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
    // The events are made once and cloned for every call, as ours clones
    // its input: making them anew (ten `format!`s an event) would charge
    // the official SDK for the harness.
    let events = personalize_events_benches::official::events(10);
    let send = move |client: pe::Client| {
        let events = events.clone();
        async move {
            personalize_events_benches::official::put_events(&client, events).await;
        }
    };
    rt.block_on(async {
        for _ in 0..in_flight.min(8) {
            send(client.clone()).await;
        }
    });
    Contender::new(
        format!("official SDK, {in_flight} in flight"),
        move |budget| {
            let (client, send) = (client.clone(), send.clone());
            timed_async(&rt, in_flight, budget, max_calls, move || {
                send(client.clone())
            })
        },
    )
}

fn main() {
    let arg = |name: &str| {
        std::env::args()
            .skip_while(|a| a != name)
            .nth(1)
            .and_then(|s| s.parse::<f64>().ok())
    };
    let seconds = arg("--seconds").unwrap_or(3.0).clamp(0.5, 60.0);
    let rounds = arg("--rounds").unwrap_or(6.0).clamp(1.0, 50.0) as usize;
    let slice = Duration::from_secs_f64(seconds / rounds as f64);
    let max_calls = 2_000_000;
    let server_bin = std::env::current_exe()
        .expect("exe")
        .with_file_name("sink_server");
    let mut server = Command::new(&server_bin)
        .args(["--seconds", "900"])
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

    println!(
        "loopback throughput, PutEvents with 10 events per call, {seconds} s per row in {rounds} \
         interleaved rounds of {:.2} s, server: separate process (1 thread)",
        slice.as_secs_f64()
    );
    println!(
        "machine: {} CPU(s)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    let mut rows = vec![
        ours_async(&url, 1, max_calls),
        ours_async(&url, 32, max_calls),
        ours_blocking(&url, 1, max_calls),
        ours_blocking(&url, 8, max_calls),
    ];
    #[cfg(feature = "official-sdk")]
    {
        rows.push(official(&url, 1, max_calls));
        rows.push(official(&url, 32, max_calls));
    }
    // Every round runs every row once, starting one further each round, so
    // the machine's drift reaches all rows alike.
    let n = rows.len();
    for round in 0..rounds {
        for i in 0..n {
            let row = &mut rows[(i + round) % n];
            let s = (row.run)(slice);
            row.total.add(s);
            row.rates.push(s.rate());
        }
    }
    println!("| client | calls/s | events/s | client CPU µs/call |");
    println!("|---|---|---|---|");
    for r in &rows {
        r.print();
    }
    #[cfg(feature = "official-sdk")]
    {
        // Ratios of the same round, then their median: rows run seconds
        // apart see different machines.
        let ratio = |a: &Contender, b: &Contender| {
            let mut v: Vec<f64> = a.rates.iter().zip(&b.rates).map(|(x, y)| x / y).collect();
            v.sort_by(|x, y| x.total_cmp(y));
            let range = format!("{:.2}-{:.2}", v[0], v[v.len() - 1]);
            (v[v.len() / 2], range)
        };
        let cpu = |r: &Contender| r.total.cpu.as_secs_f64() / r.total.calls.max(1) as f64;
        let (a32, a32_range) = ratio(&rows[1], &rows[5]);
        let (b1, b1_range) = ratio(&rows[2], &rows[4]);
        println!();
        println!(
            "client CPU per call, ours async 32 / official 32: {:.2}; async throughput at 32, ours / official: {a32:.2} (median of {rounds} rounds, {a32_range}); blocking 1 thread / official 1 in flight: {b1:.2} ({b1_range})",
            cpu(&rows[1]) / cpu(&rows[5]),
        );
    }
    rows.clear();
    let _ = server.kill();
    let _ = server.wait();
}
