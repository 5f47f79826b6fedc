//! `personalize-events`: send Amazon Personalize Events records from files
//! or stdin, with progress, and nothing lost.
//!
//! ```text
//! personalize-events put-events --tracking-id TID events.jsonl
//! personalize-events put-items --dataset-arn ARN items.csv
//! personalize-events put-events --local --tracking-id demo examples/events.jsonl
//! personalize-events local --faults 503,reset@after
//! ```
//!
//! Each line is built into a record and validated with the client's own
//! rules; good records are sent in calls of at most 10 by a few worker
//! threads; every record that is not accepted (refused by validation, or in
//! a call that failed after retries) is written to a failed file in the
//! same JSON-lines format, with the event ids it was sent with, so running
//! the tool again on that file finishes the job without counting an event
//! twice. See `cli/README.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod attempts;
mod aws;
mod failed;
mod input;
mod local;
mod progress;
mod record;
mod send;
mod summary;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::failed::FailedOut;
use crate::input::{Format, Source};
use crate::record::{Defaults, Kind};
use crate::summary::Summary;

/// Exit code when every record was sent.
const EXIT_OK: u8 = 0;
/// Exit code when some records were not accepted.
const EXIT_SOME_FAILED: u8 = 1;
/// Exit code for usage and configuration errors (as clap's).
const EXIT_USAGE: u8 = 2;

/// Send Amazon Personalize Events records (events, items, users, actions,
/// action interactions) from JSON lines or CSV, with progress, and nothing
/// lost: every record not accepted goes to a failed file to run again.
#[derive(Debug, Parser)]
#[command(name = "personalize-events", version, propagate_version = true)]
#[command(after_help = "\
Records not accepted are written to --failed-out (default: <input>.failed.jsonl, or \
./failed.jsonl for stdin); run the same command on that file to finish the job.
Exit status: 0 all sent, 1 some not accepted, 2 usage or configuration error.")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Record item interaction events (PutEvents) from JSON lines.
    ///
    /// One event per line in the API's shape: eventType, sentAt (epoch
    /// seconds or RFC 3339), itemId, eventValue, properties (an object or
    /// its JSON text), impression, recommendationId, eventId,
    /// metricAttribution; plus sessionId, userId and trackingId on the line
    /// or from the flags.
    PutEvents(EventsArgs),
    /// Add or update items of an Items dataset (PutItems) from JSON lines or CSV.
    ///
    /// JSON lines: itemId, properties (and datasetArn, or the flag). CSV: a
    /// header row; the ITEM_ID (or itemId) column is the id and the other
    /// columns become properties, named in camelCase
    /// (NUMBER_OF_RATINGS → numberOfRatings); empty cells are left out.
    PutItems(DatasetArgs),
    /// Add or update users of a Users dataset (PutUsers) from JSON lines or CSV.
    ///
    /// As put-items, with userId (CSV: USER_ID or userId).
    PutUsers(DatasetArgs),
    /// Add or update actions of an Actions dataset (PutActions) from JSON lines or CSV.
    ///
    /// As put-items, with actionId (CSV: ACTION_ID or actionId).
    PutActions(DatasetArgs),
    /// Record action interactions (PutActionInteractions) from JSON lines.
    ///
    /// One interaction per line: actionId, sessionId, userId, timestamp,
    /// eventType (Taken, Not taken, Viewed), eventId, recommendationId,
    /// impression, properties; trackingId on the line or from the flag.
    PutActionInteractions(InteractionsArgs),
    /// Run the local emulator on its own, printing its endpoint and the
    /// credentials to use, until a limit or Ctrl-C.
    Local(local::LocalArgs),
}

#[derive(Debug, Args)]
struct EventsArgs {
    /// The event tracker's tracking id, for lines without `trackingId`.
    #[arg(long, value_name = "ID")]
    tracking_id: Option<String>,
    /// The session, for lines without `sessionId`.
    #[arg(long, value_name = "ID")]
    session_id: Option<String>,
    /// The user, for lines without `userId`.
    #[arg(long, value_name = "ID")]
    user_id: Option<String>,
    #[command(flatten)]
    send: SendArgs,
}

#[derive(Debug, Args)]
struct DatasetArgs {
    /// The dataset's ARN, for lines without `datasetArn` (CSV: always).
    #[arg(long, value_name = "ARN")]
    dataset_arn: Option<String>,
    /// The input's format [default: csv for a `.csv` file, else jsonl].
    #[arg(long, value_enum)]
    format: Option<Format>,
    #[command(flatten)]
    send: SendArgs,
}

#[derive(Debug, Args)]
struct InteractionsArgs {
    /// The action interaction tracker's tracking id, for lines without `trackingId`.
    #[arg(long, value_name = "ID")]
    tracking_id: Option<String>,
    /// The session, for lines without `sessionId`.
    #[arg(long, value_name = "ID")]
    session_id: Option<String>,
    /// The user, for lines without `userId`.
    #[arg(long, value_name = "ID")]
    user_id: Option<String>,
    #[command(flatten)]
    send: SendArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    /// The summary as text on stderr.
    Text,
    /// The summary as text on stderr and as a JSON object on stdout.
    Json,
}

#[derive(Debug, Args)]
#[command(after_help = "\
A line's own trackingId/datasetArn/sessionId/userId is used; a flag fills it in for \
lines that lack it. A line whose value differs from the flag's is refused.")]
struct SendArgs {
    /// The records (JSON lines; or CSV for put-items, put-users, put-actions);
    /// `-` or nothing reads stdin.
    #[arg(value_name = "FILE")]
    input: Option<PathBuf>,
    /// Where to write the records not accepted, as JSON lines
    /// [default: FILE.failed.jsonl, or ./failed.jsonl for stdin].
    #[arg(long, value_name = "FILE")]
    failed_out: Option<PathBuf>,
    /// Only read and validate; send nothing (no failed file unless --failed-out).
    #[arg(long)]
    dry_run: bool,
    /// Calls in flight at once.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// No progress bar and no per-record messages.
    #[arg(short, long)]
    quiet: bool,
    /// Also print the summary as JSON on stdout.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Attempts per call, retries included [default: AWS_MAX_ATTEMPTS, the
    /// profile's max_attempts, or 3].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20))]
    max_attempts: Option<u32>,
    /// The region [default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region].
    #[arg(long)]
    region: Option<String>,
    /// The profile of ~/.aws/config and ~/.aws/credentials [default: AWS_PROFILE or default].
    #[arg(long, conflicts_with = "local")]
    profile: Option<String>,
    /// Send here instead of the region's endpoint [default:
    /// AWS_ENDPOINT_URL_PERSONALIZE_EVENTS, AWS_ENDPOINT_URL, the profile's].
    #[arg(long, value_name = "URL", conflicts_with = "local")]
    endpoint_url: Option<String>,
    /// Trust only the CAs of this PEM file for TLS [default: AWS_CA_BUNDLE,
    /// the profile's ca_bundle, else the system's trust store].
    #[arg(long, value_name = "FILE", conflicts_with = "local")]
    ca_bundle: Option<std::path::PathBuf>,
    /// Send to an emulator started on loopback for this run (no AWS account
    /// needed), and report what it received.
    #[arg(long)]
    local: bool,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let (kind, defaults, format, send) = match cli.command {
        Cmd::Local(args) => return run_local(&args),
        Cmd::PutEvents(a) => (
            Kind::Events,
            Defaults {
                tracking_id: a.tracking_id,
                session_id: a.session_id,
                user_id: a.user_id,
                dataset_arn: None,
            },
            None,
            a.send,
        ),
        Cmd::PutActionInteractions(a) => (
            Kind::ActionInteractions,
            Defaults {
                tracking_id: a.tracking_id,
                session_id: a.session_id,
                user_id: a.user_id,
                dataset_arn: None,
            },
            None,
            a.send,
        ),
        Cmd::PutItems(a) => (Kind::Items, dataset(a.dataset_arn), a.format, a.send),
        Cmd::PutUsers(a) => (Kind::Users, dataset(a.dataset_arn), a.format, a.send),
        Cmd::PutActions(a) => (Kind::Actions, dataset(a.dataset_arn), a.format, a.send),
    };
    match put(kind, defaults, format, send) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn dataset(arn: Option<String>) -> Defaults {
    Defaults {
        dataset_arn: arn,
        ..Defaults::default()
    }
}

fn command_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Events => "put-events",
        Kind::Items => "put-items",
        Kind::Users => "put-users",
        Kind::Actions => "put-actions",
        Kind::ActionInteractions => "put-action-interactions",
    }
}

fn user_agent() -> String {
    format!("personalize-events-cli/{}", env!("CARGO_PKG_VERSION"))
}

/// The default failed file: `<input>.failed.jsonl`, or `./failed.jsonl`.
fn default_failed_path(source: &Source) -> PathBuf {
    match source {
        Source::File(p) => {
            let mut name = p.as_os_str().to_owned();
            name.push(".failed.jsonl");
            PathBuf::from(name)
        }
        Source::Stdin => PathBuf::from("failed.jsonl"),
    }
}

/// Whether two paths name the same file (the second may not exist yet).
fn same_file(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| -> Option<PathBuf> {
        if let Ok(c) = p.canonicalize() {
            return Some(c);
        }
        let parent = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.canonicalize().ok()?,
            _ => std::env::current_dir().ok()?,
        };
        Some(parent.join(p.file_name()?))
    };
    matches!((canon(a), canon(b)), (Some(x), Some(y)) if x == y)
}

/// Ctrl-C once: stop reading and sending, account for everything read.
/// Twice: exit at once.
fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    let _ = std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if tokio::signal::ctrl_c().await.is_err() {
                    return;
                }
                set.store(true, Ordering::SeqCst);
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!(
                        "interrupted twice: exiting now; records in flight are not accounted for"
                    );
                    std::process::exit(130);
                }
            });
        });
    flag
}

fn put(
    kind: Kind,
    defaults: Defaults,
    format: Option<Format>,
    args: SendArgs,
) -> Result<u8, String> {
    let command = command_name(kind);
    let source = Source::from_arg(args.input.as_ref());
    let format = format.unwrap_or_else(|| source.guess_format());
    if format == Format::Csv && kind.id_member().is_none() {
        return Err(format!(
            "{command} reads JSON lines only (CSV is for put-items, put-users and put-actions)"
        ));
    }
    if format == Format::Csv && defaults.dataset_arn.is_none() {
        return Err(format!("{command} with CSV input needs --dataset-arn"));
    }
    let failed_path = match (&args.failed_out, args.dry_run) {
        (Some(p), _) => Some(p.clone()),
        (None, false) => Some(default_failed_path(&source)),
        (None, true) => None,
    };
    if let (Some(f), Source::File(i)) = (&failed_path, &source) {
        if same_file(f, i) {
            return Err(format!(
                "the failed file {} would overwrite the input: give another --failed-out",
                f.display()
            ));
        }
    }
    let (reader_input, size) = source
        .open()
        .map_err(|e| format!("cannot open {}: {e}", source.display()))?;

    // The client (or the emulator and a client for it).
    let ua = user_agent();
    let mut server = None;
    let client = if args.dry_run {
        None
    } else if args.local {
        let s = local::start().map_err(|e| format!("cannot start the local emulator: {e}"))?;
        let c = local::client(&s, args.region.as_deref(), args.max_attempts, &ua)
            .map_err(|e| e.to_string())?;
        server = Some(s);
        Some(c)
    } else {
        let opts = aws::AwsOptions {
            region: args.region.clone(),
            profile: args.profile.clone(),
            endpoint_url: args.endpoint_url.clone(),
            max_attempts: args.max_attempts,
            ca_bundle: args.ca_bundle.clone(),
        };
        Some(aws::client(&opts, &ua).map_err(|e| e.to_string())?)
    };
    attempts::install();

    let failed = failed_path.map(|p| Arc::new(FailedOut::new(p)));
    let interrupt = interrupt_flag();
    let progress = progress::Progress::new(size, args.quiet);
    let outcome = send::Run {
        reader: input::Reader {
            input: reader_input,
            format,
            kind,
            defaults,
            failed: failed.clone(),
            progress: Arc::default(),
            stop: interrupt.clone(),
        },
        client,
        concurrency: usize::from(args.concurrency),
        failed: failed.clone(),
        progress,
        interrupt,
    }
    .run();

    let local = server.map(|s| {
        let stats = s.shutdown();
        (stats.accepted_records, stats.duplicates, stats.requests)
    });
    let (failed_lines, lost, failed_out_error) = match &failed {
        Some(f) => f.finish(),
        None => (0, 0, None),
    };
    let c = &outcome.counts;
    let get = send::Counts::get;
    let summary = Summary {
        command,
        operation: kind.operation(),
        input: match &source {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "-".into(),
        },
        dry_run: args.dry_run,
        valid: get(&c.valid),
        invalid: get(&c.invalid),
        sent: get(&c.sent),
        failed: get(&c.failed),
        unsent: get(&c.unsent),
        calls: get(&c.calls),
        retries: attempts::retries(),
        elapsed: outcome.elapsed,
        failed_out: failed.as_ref().map(|f| f.path().display().to_string()),
        failed_lines,
        lost,
        failed_out_error,
        csv_input: format == Format::Csv,
        stopped: outcome.stopped,
        read_error: outcome.read_error,
        interrupted_at: outcome.interrupted_at,
        local,
    };
    if !(args.quiet && args.output == Output::Json) {
        eprint!("{}", summary.text());
    }
    if args.output == Output::Json {
        println!("{}", summary.json());
    }
    Ok(if summary.complete() {
        EXIT_OK
    } else {
        EXIT_SOME_FAILED
    })
}

fn run_local(args: &local::LocalArgs) -> ExitCode {
    let builder = match args.builder() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match local::serve(builder) {
        Ok(_) => ExitCode::from(EXIT_OK),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_SOME_FAILED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn default_failed_paths() {
        assert_eq!(
            default_failed_path(&Source::File("examples/events.jsonl".into())),
            PathBuf::from("examples/events.jsonl.failed.jsonl")
        );
        assert_eq!(
            default_failed_path(&Source::Stdin),
            PathBuf::from("failed.jsonl")
        );
    }

    #[test]
    fn parses_the_quick_start() {
        let cli = Cli::try_parse_from([
            "personalize-events",
            "put-events",
            "--local",
            "--tracking-id",
            "demo",
            "examples/events.jsonl",
        ])
        .unwrap();
        let Cmd::PutEvents(a) = cli.command else {
            panic!()
        };
        assert!(a.send.local);
        assert_eq!(a.send.concurrency, 4);
        assert!(Cli::try_parse_from([
            "personalize-events",
            "put-events",
            "--local",
            "--endpoint-url",
            "http://127.0.0.1:1"
        ])
        .is_err());
    }
}
