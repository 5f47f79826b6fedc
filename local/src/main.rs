//! `personalize-events-local`: runs the Amazon Personalize Events emulator
//! until a limit is reached or it is interrupted, then prints statistics.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use personalize_events_core::Credentials;
use personalize_events_local::{
    check_loopback, parse_fault_kinds, parse_fault_script, parse_host, LocalServer,
    LocalServerBuilder, Phase,
};

const USAGE: &str = "\
personalize-events-local: a local emulator of Amazon Personalize Events

Usage: personalize-events-local [OPTIONS]

Options:
  --host ADDR               loopback address to listen on, e.g. 127.0.0.2 or
                            [::1] [default: 127.0.0.1]
  --port N                  port to listen on (0 picks a free one)
  --addr HOST:PORT          both at once, e.g. 127.0.0.1:4566 or [::1]:4566
  --allow-non-loopback      let --host / --addr be any address (0.0.0.0, a LAN
                            address): anyone who can reach it may send records
                            with the example credentials
  --credentials AK:SECRET[:TOKEN]
                            accept this key pair (repeatable; replaces the
                            default AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY)
  --region REGION           require this region in signatures [default: any]
  --max-skew SECONDS        largest accepted clock skew [default: 300]
  --tracking-id ID          a known tracking id (repeatable; when given, others
                            get ResourceNotFoundException)
  --dataset-arn ARN         a known dataset ARN (repeatable; likewise)
  --log-file PATH           append accepted records to PATH as JSON lines
  --max-requests N          stop after answering N requests
  --max-seconds S           stop after S seconds
  --faults SCRIPT           faults for the first requests, in order, e.g.
                            ok,503,429@after,reset*2,stall,truncate
  --failure-rate R          then inject a fault into this share of requests (0..1)
  --seed N                  seed of the failure rate [default: 0]
  --fault-kinds LIST        kinds the failure rate draws from
                            [default: 500,503,429,reset,truncate]
  --fault-phase PHASE       before or after keeping the records [default: before]
  --stall-ms N              how long a stall holds a request [default: 2000, max 60000]
  -h, --help                print this help
  -V, --version             print the version

The first line printed is `personalize-events-local listening on URL`.
On exit (a limit, Ctrl-C or SIGTERM) a summary of the statistics is printed.
";

/// What the command line asks for.
#[derive(Debug)]
enum Command {
    Run(Box<LocalServerBuilder>),
    Help,
    Version,
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{flag}: `{v}` is not a valid number"))
}

fn seconds(flag: &str, v: &str) -> Result<Duration, String> {
    let s: f64 = number(flag, v)?;
    Duration::try_from_secs_f64(s).map_err(|_| format!("{flag}: `{v}` is not a valid duration"))
}

fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let mut b = LocalServer::builder();
    let mut args = args.into_iter();
    // Checked once every flag is read, so that the order does not matter.
    let mut hosts = Vec::new();
    let mut allow_non_loopback = false;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--allow-non-loopback" => {
                allow_non_loopback = true;
                continue;
            }
            _ => {}
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        b = match flag.as_str() {
            "--addr" => {
                let v = value()?;
                let addr: SocketAddr = v
                    .parse()
                    .map_err(|_| format!("--addr: `{v}` is not HOST:PORT (an IP address)"))?;
                hosts.push(("--addr", addr.ip()));
                b.bind(addr)
            }
            "--host" => {
                let ip = parse_host(&value()?, true).map_err(|e| format!("--host: {e}"))?;
                hosts.push(("--host", ip));
                b.host(ip)
            }
            "--port" => b.port(number(&flag, &value()?)?),
            "--credentials" => {
                let v = value()?;
                let mut parts = v.splitn(3, ':');
                let (Some(ak), Some(secret)) = (parts.next(), parts.next()) else {
                    return Err("--credentials: expected ACCESS_KEY:SECRET[:TOKEN]".into());
                };
                if ak.is_empty() || secret.is_empty() {
                    return Err("--credentials: expected ACCESS_KEY:SECRET[:TOKEN]".into());
                }
                b.credential(Credentials::new(
                    ak,
                    secret,
                    parts.next().map(str::to_owned),
                ))
            }
            "--region" => b.region(value()?),
            "--max-skew" => b.max_skew(seconds(&flag, &value()?)?),
            "--tracking-id" => b.tracking_ids([value()?]),
            "--dataset-arn" => b.dataset_arns([value()?]),
            "--log-file" => b.log_file(value()?),
            "--max-requests" => b.max_requests(number(&flag, &value()?)?),
            "--max-seconds" => b.max_duration(seconds(&flag, &value()?)?),
            "--faults" => b.fault_script(parse_fault_script(&value()?)?),
            "--failure-rate" => b.failure_rate(number(&flag, &value()?)?),
            "--seed" => b.seed(number(&flag, &value()?)?),
            "--fault-kinds" => b.random_faults(parse_fault_kinds(&value()?)?),
            "--fault-phase" => b.fault_phase(value()?.parse::<Phase>()?),
            "--stall-ms" => b.stall(Duration::from_millis(number(&flag, &value()?)?)),
            other => return Err(format!("unknown option `{other}`")),
        };
    }
    for (flag, ip) in hosts {
        check_loopback(ip, allow_non_loopback).map_err(|e| format!("{flag}: {e}"))?;
    }
    Ok(Command::Run(Box::new(b)))
}

async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut s) = signal(SignalKind::terminate()) {
            s.recv().await;
            return;
        }
    }
    std::future::pending::<()>().await
}

async fn run(builder: LocalServerBuilder, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let server = builder.start().await?;
    writeln!(
        out,
        "personalize-events-local listening on {}",
        server.endpoint_url()
    )?;
    out.flush()?;
    tokio::select! {
        _ = server.wait() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = terminated() => {}
    }
    let stats = server.shutdown_async().await;
    writeln!(out, "{stats}")?;
    out.flush()
}

fn main() -> ExitCode {
    let builder = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Run(b)) => *b,
        Ok(Command::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("personalize-events-local {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(builder, &mut std::io::stdout())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn every_flag_parses() {
        let c = parse(&[
            "--addr",
            "127.0.0.1:0",
            "--port=0",
            "--credentials",
            "AK:SECRET",
            "--credentials=AK2:S2:TOKEN",
            "--region",
            "us-east-1",
            "--max-skew",
            "60",
            "--tracking-id",
            "t",
            "--dataset-arn",
            "arn:aws:personalize:us-east-1:1:dataset/d",
            "--log-file",
            "/tmp/x.jsonl",
            "--max-requests",
            "3",
            "--max-seconds",
            "1.5",
            "--faults",
            "ok,503@after,reset*2",
            "--failure-rate",
            "0.25",
            "--seed",
            "9",
            "--fault-kinds",
            "500,429",
            "--fault-phase",
            "after",
            "--stall-ms",
            "100",
        ])
        .unwrap();
        assert!(matches!(c, Command::Run(_)));
    }

    #[test]
    fn help_version_and_errors() {
        assert!(matches!(parse(&["--help"]), Ok(Command::Help)));
        assert!(matches!(parse(&["-V"]), Ok(Command::Version)));
        for (args, want) in [
            (&["--bogus"][..], "unknown option"),
            (&["--max-requests"][..], "needs a value"),
            (&["--max-requests", "x"][..], "not a valid number"),
            (&["--credentials", "nocolon"][..], "ACCESS_KEY:SECRET"),
            (&["--faults", "boom"][..], "unknown fault"),
            (&["--fault-phase", "later"][..], "unknown fault phase"),
            (&["--addr", "localhost:1"][..], "HOST:PORT"),
            (
                &["--addr", "0.0.0.0:1"][..],
                "--addr: 0.0.0.0 is not a loopback address",
            ),
            (&["--host", "192.168.0.2"][..], "--allow-non-loopback"),
            (&["--host", "example.com"][..], "not an IP address"),
            (&["--max-seconds", "-1"][..], "not a valid duration"),
        ] {
            let e = parse(args).unwrap_err();
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }

    #[test]
    fn other_loopback_addresses_and_ipv6() {
        assert!(matches!(
            parse(&["--host", "127.0.0.2"]),
            Ok(Command::Run(_))
        ));
        assert!(matches!(
            parse(&["--host=[::1]", "--port", "0"]),
            Ok(Command::Run(_))
        ));
        assert!(matches!(parse(&["--addr", "[::1]:0"]), Ok(Command::Run(_))));
        // Either order.
        assert!(matches!(
            parse(&["--host", "0.0.0.0", "--allow-non-loopback"]),
            Ok(Command::Run(_))
        ));
        assert!(matches!(
            parse(&["--allow-non-loopback", "--addr", "0.0.0.0:0"]),
            Ok(Command::Run(_))
        ));
    }

    #[test]
    fn runs_until_max_seconds_then_prints_stats() {
        let Command::Run(b) = parse(&["--max-seconds", "0.2"]).unwrap() else {
            panic!()
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let started = std::time::Instant::now();
        let mut out = Vec::new();
        rt.block_on(run(*b, &mut out)).unwrap();
        // It stopped by itself; 60 s is a hang guard, not a measure.
        assert!(started.elapsed() < Duration::from_secs(60));
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with("personalize-events-local listening on http://127.0.0.1:"),
            "{out}"
        );
        assert!(out.contains("requests: 0\n"), "{out}");
        assert!(out.contains("faults injected: 0"), "{out}");
    }
}
