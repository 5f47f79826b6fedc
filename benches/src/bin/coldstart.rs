//! The cold-start timer of `benches/coldstart/run.sh`: times whole
//! processes, each spawned directly (no shell, no `timeout` wrapper), from
//! just before the spawn to `wait` returning: exec, start-up, configuration
//! from the environment, the call, exit.
//!
//! The programs run interleaved (a b c base, a b c base, ...) so drift hits
//! all alike, after one untimed run each (so the binaries are in the page
//! cache, as a deployed binary is, and a broken setup fails first). Each
//! run must exit 0 within the per-run limit (it is killed when over it) and,
//! except the baselines, make the sink count exactly one more accepted
//! PutEvents (`sink_server --count` prints `accepted N` lines to the file
//! given with `--sink-log`). A baseline, a trivial process spawned the
//! same way, makes no call: the first is the floor every program pays (the
//! last column is the time above it), any other is shown beside it. Prints median and p90 per
//! program and the ratios to the official program, as a markdown table.
//!
//! Every run inherits this process's environment (run.sh sets it).
//!
//! ```text
//! coldstart --runs 30 --sink-log SINK.OUT --logs DIR \
//!     --program 'ours, blocking=PATH' --program 'ours, async=PATH' \
//!     --official 'official SDK=PATH' --baseline '/bin/true=/bin/true' [--baseline ...] \
//!     [--run-limit-secs 20] [--total-limit-secs 900]
//! ```
#![forbid(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Runs in all before the loop gives up on a broken setup.
const MAX_FAILURES: usize = 5;

struct Program {
    label: String,
    path: PathBuf,
    /// Whether a run must make the sink count one more PutEvents.
    calls_sink: bool,
    /// Where its stdout and stderr go (appended).
    out: File,
    err: File,
    times: Vec<Duration>,
    failures: usize,
}

struct Args {
    runs: usize,
    sink_log: PathBuf,
    run_limit: Duration,
    total_limit: Duration,
    programs: Vec<Program>,
    /// Indexes into `programs`: the official program and the baselines
    /// (the first is the floor the last column subtracts).
    official: usize,
    baselines: Vec<usize>,
}

fn usage(msg: &str) -> ! {
    eprintln!("coldstart: {msg}");
    eprintln!(
        "usage: coldstart --runs N --sink-log FILE --logs DIR --program LABEL=PATH... \
         --official LABEL=PATH --baseline LABEL=PATH... [--run-limit-secs S] [--total-limit-secs S]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = std::env::args().skip(1);
    let (mut runs, mut sink_log, mut logs) = (30, None, None);
    let (mut run_limit, mut total_limit) = (20, 900);
    let mut specs: Vec<(String, String, bool)> = Vec::new();
    let (mut official, mut baselines) = (None, Vec::new());
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else {
            usage(&format!("{flag} needs a value"))
        };
        let number = |v: &str, max: u64| match v.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => usage(&format!("{flag} must be 1..={max}, not {v}")),
        };
        match flag.as_str() {
            "--runs" => runs = number(&value, 1000) as usize,
            "--run-limit-secs" => run_limit = number(&value, 600),
            "--total-limit-secs" => total_limit = number(&value, 7200),
            "--sink-log" => sink_log = Some(PathBuf::from(value)),
            "--logs" => logs = Some(PathBuf::from(value)),
            "--program" | "--official" | "--baseline" => {
                let Some((label, path)) = value.split_once('=') else {
                    usage(&format!("{flag} wants LABEL=PATH, not {value}"))
                };
                match flag.as_str() {
                    "--official" => official = Some(specs.len()),
                    "--baseline" => baselines.push(specs.len()),
                    _ => {}
                }
                specs.push((label.into(), path.into(), flag != "--baseline"));
            }
            _ => usage(&format!("unknown option {flag}")),
        }
    }
    let logs = logs.unwrap_or_else(|| usage("--logs is required"));
    let Some(official) = official.filter(|_| !baselines.is_empty()) else {
        usage("--official and --baseline are required")
    };
    let programs = specs
        .into_iter()
        .map(|(label, path, calls_sink)| {
            let stem = Path::new(&path)
                .file_name()
                .map_or("program".into(), |s| s.to_string_lossy().into_owned());
            let open = |ext: &str| {
                let p = logs.join(format!("{stem}.{ext}"));
                (OpenOptions::new().create(true).append(true).open(&p))
                    .unwrap_or_else(|e| usage(&format!("{}: {e}", p.display())))
            };
            Program {
                label,
                path: PathBuf::from(path),
                calls_sink,
                out: open("out"),
                err: open("err"),
                times: Vec::new(),
                failures: 0,
            }
        })
        .collect();
    Args {
        runs,
        sink_log: sink_log.unwrap_or_else(|| usage("--sink-log is required")),
        run_limit: Duration::from_secs(run_limit),
        total_limit: Duration::from_secs(total_limit),
        programs,
        official,
        baselines,
    }
}

/// Follows the sink's log: the last `accepted N` it printed.
struct SinkLog {
    file: File,
    offset: u64,
    partial: String,
    accepted: u64,
}

impl SinkLog {
    fn open(path: &Path) -> SinkLog {
        let file = File::open(path).unwrap_or_else(|e| usage(&format!("{}: {e}", path.display())));
        let mut log = SinkLog {
            file,
            offset: 0,
            partial: String::new(),
            accepted: 0,
        };
        log.refresh();
        log
    }

    /// Reads what the sink wrote since the last call; returns the count.
    fn refresh(&mut self) -> u64 {
        let mut new = String::new();
        let read = (self.file.seek(SeekFrom::Start(self.offset)))
            .and_then(|_| self.file.read_to_string(&mut new));
        if let Ok(n) = read {
            self.offset += n as u64;
        }
        self.partial.push_str(&new);
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            if let Some(n) = line.trim().strip_prefix("accepted ") {
                self.accepted = n.parse().unwrap_or(self.accepted);
            }
        }
        self.accepted
    }
}

/// Waits for children on a thread of its own, so that the end of a run is
/// taken the moment `wait` returns while the main thread keeps the per-run
/// limit.
struct Waiter {
    to: mpsc::Sender<Child>,
    from: mpsc::Receiver<(std::io::Result<ExitStatus>, Instant)>,
}

impl Waiter {
    fn start() -> Waiter {
        let (to, children) = mpsc::channel::<Child>();
        let (done, from) = mpsc::channel();
        std::thread::spawn(move || {
            for mut child in children {
                let status = child.wait();
                let end = Instant::now();
                if done.send((status, end)).is_err() {
                    break;
                }
            }
        });
        Waiter { to, from }
    }
}

/// One run of `p`: its wall time, or why it failed.
fn run_once(
    p: &Program,
    waiter: &Waiter,
    sink: &mut SinkLog,
    limit: Duration,
) -> Result<Duration, String> {
    let before = sink.refresh();
    let (out, err) = (p.out.try_clone(), p.err.try_clone());
    let (out, err) = (
        out.map_err(|e| e.to_string())?,
        err.map_err(|e| e.to_string())?,
    );
    let mut cmd = Command::new(&p.path);
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    let start = Instant::now();
    let child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
    let pid = child.id();
    waiter.to.send(child).map_err(|_| "waiter thread gone")?;
    let (status, end) = match waiter.from.recv_timeout(limit) {
        Ok(r) => r,
        Err(_) => {
            // The waiter still holds the child, unreaped: kill it by its id.
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            let _ = waiter.from.recv_timeout(Duration::from_secs(10));
            return Err(format!("killed after the {} s limit", limit.as_secs()));
        }
    };
    let status = status.map_err(|e| format!("wait: {e}"))?;
    if !status.success() {
        return Err(format!("exited with {status}"));
    }
    let after = sink.refresh();
    let want = before + u64::from(p.calls_sink);
    if after != want {
        return Err(format!(
            "the sink counted {before} then {after} accepted PutEvents, not {want}"
        ));
    }
    Ok(end - start)
}

/// Median and p90 (nearest rank) of `times`, which must not be empty.
fn stats(times: &[Duration]) -> (Duration, Duration) {
    let mut t = times.to_vec();
    t.sort();
    let n = t.len();
    let median = if n % 2 == 1 {
        t[n / 2]
    } else {
        (t[n / 2 - 1] + t[n / 2]) / 2
    };
    let rank = (9 * n).div_ceil(10).max(1);
    (median, t[rank - 1])
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or("?".into(), |s| s.trim().to_string())
}

fn main() {
    let mut args = parse_args();
    let mut sink = SinkLog::open(&args.sink_log);
    let waiter = Waiter::start();
    let mut failures = 0;
    let mut fail = |p: &mut Program, e: String| {
        eprintln!("{} ({}): {e}", p.label, p.path.display());
        p.failures += 1;
        failures += 1;
        failures
    };

    // One untimed run each: a broken setup fails here.
    for p in &mut args.programs {
        if let Err(e) = run_once(p, &waiter, &mut sink, args.run_limit) {
            fail(p, format!("untimed first run: {e}"));
            std::process::exit(1);
        }
    }
    eprintln!("load before: {}", load());
    let begin = Instant::now();
    'rounds: for round in 0..args.runs {
        if begin.elapsed() > args.total_limit {
            eprintln!(
                "stopped after {round} rounds: over {} s",
                args.total_limit.as_secs()
            );
            break;
        }
        for p in &mut args.programs {
            match run_once(p, &waiter, &mut sink, args.run_limit) {
                Ok(t) => p.times.push(t),
                Err(e) => {
                    if fail(p, e) >= MAX_FAILURES {
                        eprintln!("stopped after {MAX_FAILURES} failed runs");
                        break 'rounds;
                    }
                }
            }
        }
    }
    eprintln!("load after: {}", load());
    eprintln!("accepted by the sink in all: {}", sink.refresh());

    let stat = |i: usize| {
        let p: &Program = &args.programs[i];
        (!p.times.is_empty()).then(|| stats(&p.times))
    };
    let (Some((official, _)), Some((floor, _))) = (stat(args.official), stat(args.baselines[0]))
    else {
        eprintln!("no successful run of the official program or the baseline");
        std::process::exit(1);
    };
    println!("| program | runs | median | p90 | median / official | above the floor, / official |");
    println!("|---|---|---|---|---|---|");
    for (i, p) in args.programs.iter().enumerate() {
        let runs = match p.failures {
            0 => p.times.len().to_string(),
            f => format!("{} ({f} failed)", p.times.len()),
        };
        let Some((median, p90)) = stat(i) else {
            println!("| {} | {runs} | - | - | | |", p.label);
            continue;
        };
        let (ratio, above) = if args.baselines.contains(&i) {
            (String::new(), String::new())
        } else if i == args.official {
            ("1".into(), "1".into())
        } else {
            let over = |d: Duration| d.saturating_sub(floor).as_secs_f64();
            (
                format!("**{:.2}**", median.as_secs_f64() / official.as_secs_f64()),
                format!("{:.2}", over(median) / over(official)),
            )
        };
        println!(
            "| {} | {runs} | {} | {} | {ratio} | {above} |",
            p.label,
            ms(median),
            ms(p90)
        );
    }
    if failures > 0 {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_nearest_rank_p90() {
        let d = |v: &[u64]| {
            v.iter()
                .map(|&n| Duration::from_micros(n))
                .collect::<Vec<_>>()
        };
        let us = |n| Duration::from_micros(n);
        assert_eq!(stats(&d(&[5])), (us(5), us(5)));
        assert_eq!(stats(&d(&[4, 1, 3, 2])), (us(2) + us(1) / 2, us(4)));
        let ten: Vec<u64> = (1..=10).rev().collect();
        assert_eq!(stats(&d(&ten)), (us(5) + us(1) / 2, us(9)));
        let thirty: Vec<u64> = (1..=30).collect();
        assert_eq!(stats(&d(&thirty)).1, us(27));
    }
}
