//! The embedded emulator: `--local` for any `put-*` command, and the
//! `local` subcommand that runs it on its own.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use personalize_events_blocking::{Client, Credentials, Error, RetryConfig};
use personalize_events_local::{
    parse_fault_kinds, parse_fault_script, parse_host, LocalServer, LocalServerBuilder, Phase,
    Stats, DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY,
};

/// The region a `--local` client signs for unless `--region` says otherwise.
pub const LOCAL_REGION: &str = "us-east-1";

/// Starts the emulator on a free loopback port.
pub fn start() -> std::io::Result<LocalServer> {
    LocalServer::builder().start_blocking()
}

/// A client for a running emulator, with its default credentials.
pub fn client(
    server: &LocalServer,
    region: Option<&str>,
    max_attempts: Option<u32>,
    user_agent: &str,
) -> Result<Client, Error> {
    let mut retry = RetryConfig::default();
    if let Some(n) = max_attempts {
        retry = retry.with_max_attempts(n);
    }
    Client::builder()
        .region(region.unwrap_or(LOCAL_REGION))
        .endpoint_url(server.endpoint_url())
        .credentials(Credentials::new(
            DEFAULT_ACCESS_KEY_ID,
            DEFAULT_SECRET_ACCESS_KEY,
            None,
        ))
        .retry_config(retry)
        .user_agent_suffix(user_agent)
        .build()
}

/// Options of `personalize-events local`.
#[derive(Debug, clap::Args)]
pub struct LocalArgs {
    /// Address to listen on: a loopback address such as 127.0.0.2 or `[::1]`
    /// (another address needs --allow-non-loopback).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub host: String,
    /// Let --host be an address other programs on the network can reach
    /// (0.0.0.0, a LAN address): anyone who reaches it may send records
    /// with the example credentials.
    #[arg(long)]
    pub allow_non_loopback: bool,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Append every accepted record to this file, as JSON lines.
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// Stop after answering this many requests.
    #[arg(long, value_name = "N")]
    pub max_requests: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub max_seconds: Option<f64>,
    /// Faults for the first requests, in order, e.g.
    /// `ok,503,429@after,reset*2,stall,truncate`.
    #[arg(long, value_name = "SCRIPT")]
    pub faults: Option<String>,
    /// After the script, inject a fault into this share of requests (0 to 1).
    #[arg(long, value_name = "RATE")]
    pub failure_rate: Option<f64>,
    /// Seed of the failure rate.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Kinds the failure rate draws from [default: 500,503,429,reset,truncate].
    #[arg(long, value_name = "LIST")]
    pub fault_kinds: Option<String>,
    /// Whether faults strike before or after the records are kept
    /// [default: before].
    #[arg(long, value_name = "PHASE")]
    pub fault_phase: Option<String>,
    /// How long a `stall` fault holds a request, in milliseconds.
    #[arg(long, value_name = "MS")]
    pub stall_ms: Option<u64>,
}

impl LocalArgs {
    /// The emulator these options describe; an error names the bad flag.
    pub fn builder(&self) -> Result<LocalServerBuilder, String> {
        let host =
            parse_host(&self.host, self.allow_non_loopback).map_err(|e| format!("--host: {e}"))?;
        let mut b = LocalServer::builder().host(host).port(self.port);
        if let Some(p) = &self.log_file {
            b = b.log_file(p);
        }
        if let Some(n) = self.max_requests {
            b = b.max_requests(n);
        }
        if let Some(s) = self.max_seconds {
            let d = Duration::try_from_secs_f64(s)
                .map_err(|_| format!("--max-seconds: `{s}` is not a valid duration"))?;
            b = b.max_duration(d);
        }
        if let Some(s) = &self.faults {
            b = b.fault_script(parse_fault_script(s).map_err(|e| format!("--faults: {e}"))?);
        }
        if let Some(r) = self.failure_rate {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("--failure-rate: `{r}` is not between 0 and 1"));
            }
            b = b.failure_rate(r);
        }
        if let Some(s) = self.seed {
            b = b.seed(s);
        }
        if let Some(k) = &self.fault_kinds {
            b = b.random_faults(parse_fault_kinds(k).map_err(|e| format!("--fault-kinds: {e}"))?);
        }
        if let Some(p) = &self.fault_phase {
            b = b.fault_phase(
                p.parse::<Phase>()
                    .map_err(|e| format!("--fault-phase: {e}"))?,
            );
        }
        if let Some(ms) = self.stall_ms {
            b = b.stall(Duration::from_millis(ms));
        }
        Ok(b)
    }
}

/// Runs the emulator until a limit, Ctrl-C or SIGTERM; prints the endpoint
/// and credentials first, the statistics last.
pub fn serve(builder: LocalServerBuilder) -> std::io::Result<Stats> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let server = builder.start().await?;
        let url = server.endpoint_url();
        let mut out = std::io::stdout().lock();
        writeln!(out, "personalize-events local emulator listening on {url}")?;
        writeln!(out, "send to it with these settings (any region):")?;
        writeln!(out, "  export AWS_ENDPOINT_URL_PERSONALIZE_EVENTS={url}")?;
        writeln!(out, "  export AWS_ACCESS_KEY_ID={DEFAULT_ACCESS_KEY_ID}")?;
        writeln!(
            out,
            "  export AWS_SECRET_ACCESS_KEY={DEFAULT_SECRET_ACCESS_KEY}"
        )?;
        writeln!(out, "  export AWS_REGION={LOCAL_REGION}")?;
        writeln!(out, "(stop with Ctrl-C)")?;
        out.flush()?;
        drop(out);
        let mut term = Terminate::new();
        tokio::select! {
            _ = server.wait() => {}
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        let stats = server.shutdown_async().await;
        crate::print::out_line(&stats.to_string());
        Ok(stats)
    })
}

/// SIGTERM (what `timeout`, `kill` and service managers send) as a
/// stream, listened to from its creation on; never arrives off Unix.
pub struct Terminate(#[cfg(unix)] Option<tokio::signal::unix::Signal>);

impl Terminate {
    /// Starts listening (inside a Tokio runtime with signals enabled).
    pub fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Terminate(signal(SignalKind::terminate()).ok())
        }
        #[cfg(not(unix))]
        Terminate()
    }

    /// The next SIGTERM.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(s) = &mut self.0 {
            s.recv().await;
            return;
        }
        std::future::pending::<()>().await
    }
}

impl Default for Terminate {
    fn default() -> Self {
        Terminate::new()
    }
}
