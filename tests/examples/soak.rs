//! Soak test: one shared async client sustains a steady rate of `PutEvents`
//! calls against the emulator, and reports the achieved rate, latency
//! percentiles, memory (RSS) and open file descriptors every few seconds,
//! to show they stay flat.
//!
//! ```text
//! cargo run --release -p personalize-events-tests --example soak -- \
//!     [--seconds 60] [--rate 1000] [--events-per-call 10] [--sample-every 5] \
//!     [--max-in-flight 256] [--endpoint http://127.0.0.1:PORT] [--no-event-ids]
//!     [--pool-idle-secs 30]
//! ```
//!
//! The emulator remembers every event id (for duplicate detection) in one
//! hash set; each time the set doubles it rehashes, which stalls it for up
//! to ~150 ms at a few hundred thousand ids, and the client then opens more
//! pooled connections to carry the calls that pile up. `--no-event-ids`
//! sends events without ids (the client does not fill them in), so the
//! emulator keeps nothing and the client's own behaviour shows alone.
//!
//! Open descriptors follow the connection pool, which grows to the most
//! calls ever in flight at once (a latency spike makes calls pile up) and
//! gives back connections idle for `--pool-idle-secs` (the client's
//! default is 30 s); `--max-in-flight` bounds it.
//!
//! Without `--endpoint`, the emulator runs in a child process (this same
//! program with `--serve-emulator`), so that its store does not count in the
//! client's memory; the child drops the records it keeps every second and
//! stops when this process ends or after the run. Only loopback is used.
//! The run is bounded: at most `--seconds` (1 to 3600) of sending, then at
//! most 30 s to let calls in flight finish.
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use personalize_events_hyper::{Client, Credentials, Event, PutEventsInput, RetryConfig, Timeouts};
use personalize_events_local::{LocalServer, DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY};

struct Args {
    seconds: u64,
    rate: u64,
    events_per_call: usize,
    sample_every: u64,
    max_in_flight: usize,
    endpoint: Option<String>,
    event_ids: bool,
    pool_idle_secs: u64,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        seconds: 60,
        rate: 1000,
        events_per_call: 10,
        sample_every: 5,
        max_in_flight: 256,
        endpoint: None,
        event_ids: true,
        pool_idle_secs: 30,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--seconds" => a.seconds = num(value()?)?,
            "--rate" => a.rate = num(value()?)?,
            "--events-per-call" => a.events_per_call = num(value()?)? as usize,
            "--sample-every" => a.sample_every = num(value()?)?,
            "--max-in-flight" => a.max_in_flight = num(value()?)? as usize,
            "--endpoint" => a.endpoint = Some(value()?),
            "--no-event-ids" => a.event_ids = false,
            "--pool-idle-secs" => a.pool_idle_secs = num(value()?)?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !(1..=3600).contains(&a.seconds)
        || !(1..=20_000).contains(&a.rate)
        || !(1..=10).contains(&a.events_per_call)
        || a.sample_every == 0
        || a.max_in_flight == 0
    {
        return Err(
            "out of range: seconds 1..=3600, rate 1..=20000, events-per-call 1..=10".into(),
        );
    }
    if let Some(e) = &a.endpoint {
        if !(e.starts_with("http://127.") || e.starts_with("http://localhost")) {
            return Err("--endpoint must be a loopback http URL".into());
        }
    }
    Ok(a)
}

/// The child process: an emulator on loopback until stdin closes (the
/// parent ended) or `lifetime` passes. Prints its URL on the first line.
fn serve_emulator(lifetime: Duration, expected_records: usize) -> std::io::Result<()> {
    let server = LocalServer::builder()
        .max_duration(lifetime)
        // Sized up front: a rehash of the duplicate set would stall the
        // emulator and show up as the client's latency and pool growth.
        .expected_records(expected_records)
        .start_blocking()?;
    println!("{}", server.endpoint_url());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        let _ = tx.send(());
    });
    let started = Instant::now();
    while started.elapsed() < lifetime && !server.is_stopped() {
        if rx.recv_timeout(Duration::from_secs(1)).is_ok() {
            break;
        }
        // Keep the store from growing: the figures are about the client.
        drop(server.take_records());
    }
    let stats = server.shutdown();
    eprintln!("emulator: {}", stats.to_string().replace('\n', "; "));
    Ok(())
}

fn proc_status(pid: Option<u32>, key: &str) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".into(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

#[derive(Default)]
struct Window {
    latencies_us: Vec<u32>,
    errors: u64,
}

struct Sample {
    at: f64,
    calls: usize,
    rate: f64,
    p50: f64,
    p99: f64,
    max: f64,
    errors: u64,
    rss_kb: u64,
    fds: usize,
}

fn main() {
    let mut args_iter = std::env::args().skip(1);
    if args_iter.next().as_deref() == Some("--serve-emulator") {
        let secs = args_iter.next().and_then(|s| s.parse().ok()).unwrap_or(120);
        let expected = args_iter.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if let Err(e) = serve_emulator(Duration::from_secs(secs), expected) {
            eprintln!("emulator: {e}");
            std::process::exit(1);
        }
        return;
    }
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::exit(2);
        }
    };

    let mut child: Option<Child> = None;
    let endpoint = match &args.endpoint {
        Some(e) => e.clone(),
        None => {
            let exe = std::env::current_exe().expect("this program's path");
            let mut c = Command::new(exe)
                .args([
                    "--serve-emulator",
                    &(args.seconds + 60).to_string(),
                    &(args.seconds * args.rate * args.events_per_call as u64 + 1000).to_string(),
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start the emulator process");
            let mut line = String::new();
            BufReader::new(c.stdout.take().expect("stdout"))
                .read_line(&mut line)
                .expect("the emulator's URL");
            child = Some(c);
            line.trim().to_owned()
        }
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let samples = rt.block_on(run(&args, &endpoint));

    // Summary.
    let first = samples.first();
    let last = samples.last();
    if let (Some(f), Some(l)) = (first, last) {
        let total_calls: usize = samples.iter().map(|s| s.calls).sum();
        let errors: u64 = samples.iter().map(|s| s.errors).sum();
        let rss_min = samples.iter().map(|s| s.rss_kb).min().unwrap_or(0);
        let rss_max = samples.iter().map(|s| s.rss_kb).max().unwrap_or(0);
        let fds_min = samples.iter().map(|s| s.fds).min().unwrap_or(0);
        let fds_max = samples.iter().map(|s| s.fds).max().unwrap_or(0);
        let worst_p99 = samples.iter().map(|s| s.p99).fold(0.0, f64::max);
        println!();
        println!(
            "summary: {total_calls} calls ({} events) in {:.1} s, {:.0} calls/s, {errors} errors",
            total_calls * args.events_per_call,
            l.at,
            total_calls as f64 / l.at.max(1e-9)
        );
        println!("latency p50 {:.2} ms (first window) / {:.2} ms (last), worst window p99 {worst_p99:.2} ms", f.p50, l.p50);
        println!(
            "RSS {:.1} MB first, {:.1} MB last (min {:.1}, max {:.1}); fds {} first, {} last (min {fds_min}, max {fds_max})",
            f.rss_kb as f64 / 1024.0,
            l.rss_kb as f64 / 1024.0,
            rss_min as f64 / 1024.0,
            rss_max as f64 / 1024.0,
            f.fds,
            l.fds
        );
        if let Some(hwm) = proc_status(None, "VmHWM:") {
            println!("client peak RSS (VmHWM) {:.1} MB", hwm as f64 / 1024.0);
        }
    }
    if let Some(mut c) = child {
        if let Some(kb) = proc_status(Some(c.id()), "VmRSS:") {
            println!("emulator process RSS at the end {:.1} MB (keeps every event id for duplicate detection)", kb as f64 / 1024.0);
        }
        drop(c.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(None) = c.try_wait() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn run(args: &Args, endpoint: &str) -> Vec<Sample> {
    let client = Client::builder()
        .region("us-east-1")
        .credentials(Credentials::new(
            DEFAULT_ACCESS_KEY_ID,
            DEFAULT_SECRET_ACCESS_KEY,
            None,
        ))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::default().with_initial_backoff(Duration::from_millis(20)))
        .timeouts(
            Timeouts::default()
                .with_attempt(Duration::from_secs(5))
                .with_operation(Duration::from_secs(15)),
        )
        .fill_event_ids(args.event_ids)
        .pool_idle_timeout(Duration::from_secs(args.pool_idle_secs))
        .build()
        .expect("a client");
    // Warm up: one call, so the first sample is not the first connection.
    client
        .put_events(
            PutEventsInput::new("soak", "warm-up").event(Event::new("warm-up", SystemTime::now())),
        )
        .await
        .expect("the emulator answers");

    println!(
        "soak: {} calls/s of PutEvents ({} events each{}) for {} s against {endpoint}; one shared async client",
        args.rate,
        args.events_per_call,
        if args.event_ids { "" } else { ", no event ids" },
        args.seconds
    );
    println!("| t (s) | calls | calls/s | p50 ms | p99 ms | max ms | errors | RSS MB | fds |");
    println!("|---|---|---|---|---|---|---|---|---|");

    let window = Arc::new(Mutex::new(Window::default()));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(args.max_in_flight));
    let skipped = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let end = started + Duration::from_secs(args.seconds);
    let period = Duration::from_nanos(1_000_000_000 / args.rate);
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut next_sample = started + Duration::from_secs(args.sample_every);
    let mut last_sample = started;
    let mut samples = Vec::new();
    let mut n: u64 = 0;
    loop {
        ticker.tick().await;
        let now = Instant::now();
        if now >= next_sample || now >= end {
            let w = std::mem::take(&mut *window.lock().unwrap());
            let mut lat = w.latencies_us;
            lat.sort_unstable();
            let secs = now.duration_since(last_sample).as_secs_f64();
            let s = Sample {
                at: now.duration_since(started).as_secs_f64(),
                calls: lat.len(),
                rate: lat.len() as f64 / secs,
                p50: percentile(&lat, 0.5),
                p99: percentile(&lat, 0.99),
                max: percentile(&lat, 1.0),
                errors: w.errors,
                rss_kb: proc_status(None, "VmRSS:").unwrap_or(0),
                fds: open_fds(),
            };
            println!(
                "| {:.0} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.1} | {} |",
                s.at,
                s.calls,
                s.rate,
                s.p50,
                s.p99,
                s.max,
                s.errors,
                s.rss_kb as f64 / 1024.0,
                s.fds
            );
            samples.push(s);
            last_sample = now;
            next_sample += Duration::from_secs(args.sample_every);
        }
        if now >= end {
            break;
        }
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            skipped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        n += 1;
        let session = format!("session-{}", n % 1000);
        let input = PutEventsInput::new("soak", session)
            .user_id(format!("user-{}", n % 5000))
            .events((0..args.events_per_call).map(|i| {
                Event::new("click", SystemTime::now())
                    .item_id(format!("item-{}", (n as usize * 7 + i) % 100_000))
                    .event_value(i as f32)
            }));
        let client = client.clone();
        let window = window.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let r = client.put_events(input).await;
            let us = t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            let mut w = window.lock().unwrap();
            match r {
                Ok(_) => w.latencies_us.push(us),
                Err(_) => w.errors += 1,
            }
            drop(permit);
        });
    }
    // Let the calls in flight finish (bounded).
    let _ = tokio::time::timeout(
        Duration::from_secs(30),
        in_flight.acquire_many(args.max_in_flight as u32),
    )
    .await;
    let skipped = skipped.load(Ordering::Relaxed);
    if skipped > 0 {
        println!(
            "{skipped} ticks skipped: {} calls were already in flight",
            args.max_in_flight
        );
    }
    samples
}
