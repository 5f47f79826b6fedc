//! The command line's definition (clap derive): the global options, the
//! subcommands and the options each takes. Part of the binary, not of the
//! library; `main.rs` turns a parsed [`Cli`] into a run.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use personalize_events_cli::input::Format;
use personalize_events_cli::local;

/// Send Amazon Personalize Events records (events, items, users, actions,
/// action interactions) from JSON lines or CSV, with progress, and nothing
/// lost: every record not accepted goes to a failed file to run again.
#[derive(Debug, Parser)]
#[command(name = "personalize-events", version, propagate_version = true)]
#[command(after_help = "\
Records not accepted are written to --failed-out (default: <input>.failed.jsonl, or \
./failed.jsonl for stdin; .failed.csv and ./failed.csv for CSV), and why, with the line, \
beside it in <failed-out without .jsonl>.reasons.jsonl; run the same command on the \
failed file to finish the job. --region, --profile, --endpoint-url, --output and --debug \
go before or after the subcommand.
Exit status: 0 all sent, 1 some not accepted, 2 usage or configuration error.")]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Cmd,
}

/// Options accepted before the subcommand too, as with the AWS CLI.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// The region [default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region].
    #[arg(long, global = true)]
    pub(crate) region: Option<String>,
    /// The profile of ~/.aws/config and ~/.aws/credentials [default: AWS_PROFILE or default].
    #[arg(long, global = true)]
    pub(crate) profile: Option<String>,
    /// Send here instead of the region's endpoint [default:
    /// AWS_ENDPOINT_URL_PERSONALIZE_EVENTS, AWS_ENDPOINT_URL, the profile's].
    #[arg(long, value_name = "URL", global = true)]
    pub(crate) endpoint_url: Option<String>,
    /// Also print the summary as JSON on stdout.
    #[arg(long, value_enum, default_value_t = Output::Text, global = true)]
    pub(crate) output: Output,
    /// Show the clients' own tracing output on stderr (the debug level;
    /// RUST_LOG, e.g. `personalize_events_blocking=trace`, chooses finer).
    #[arg(long, global = true)]
    pub(crate) debug: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Cmd {
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
pub(crate) struct EventsArgs {
    /// The event tracker's tracking id, for lines without `trackingId`.
    #[arg(long, value_name = "ID")]
    pub(crate) tracking_id: Option<String>,
    /// The session, for lines without `sessionId`.
    #[arg(long, value_name = "ID")]
    pub(crate) session_id: Option<String>,
    /// The user, for lines without `userId`.
    #[arg(long, value_name = "ID")]
    pub(crate) user_id: Option<String>,
    #[command(flatten)]
    pub(crate) send: SendArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DatasetArgs {
    /// The dataset's ARN, for lines without `datasetArn` (CSV: always).
    #[arg(long, value_name = "ARN")]
    pub(crate) dataset_arn: Option<String>,
    /// The input's format [default: csv for a `.csv` file, else jsonl].
    #[arg(long, value_enum)]
    pub(crate) format: Option<Format>,
    #[command(flatten)]
    pub(crate) send: SendArgs,
}

#[derive(Debug, Args)]
pub(crate) struct InteractionsArgs {
    /// The action interaction tracker's tracking id, for lines without `trackingId`.
    #[arg(long, value_name = "ID")]
    pub(crate) tracking_id: Option<String>,
    /// The session, for lines without `sessionId`.
    #[arg(long, value_name = "ID")]
    pub(crate) session_id: Option<String>,
    /// The user, for lines without `userId`.
    #[arg(long, value_name = "ID")]
    pub(crate) user_id: Option<String>,
    #[command(flatten)]
    pub(crate) send: SendArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// The summary as text on stderr.
    Text,
    /// The summary as text on stderr and as a JSON object on stdout.
    Json,
}

#[derive(Debug, Args)]
#[command(after_help = "\
A line's own trackingId/datasetArn/sessionId/userId is used; a flag fills it in for \
lines that lack it. A line whose value differs from the flag's is refused.")]
pub(crate) struct SendArgs {
    /// The records (JSON lines; or CSV for put-items, put-users, put-actions);
    /// `-` or nothing reads stdin.
    #[arg(value_name = "FILE")]
    pub(crate) input: Option<PathBuf>,
    /// Where to write the records not accepted, as JSON lines
    /// [default: FILE.failed.jsonl, or ./failed.jsonl for stdin].
    #[arg(long, value_name = "FILE")]
    pub(crate) failed_out: Option<PathBuf>,
    /// Only read and validate; send nothing (no failed file unless --failed-out).
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Calls in flight at once.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) concurrency: u16,
    /// No progress bar and no per-record messages.
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Attempts per call, retries included [default: AWS_MAX_ATTEMPTS, the
    /// profile's max_attempts, or 3].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20))]
    pub(crate) max_attempts: Option<u32>,
    /// Trust only the CAs of this PEM file for TLS [default: AWS_CA_BUNDLE,
    /// the profile's ca_bundle, else the system's trust store].
    #[arg(long, value_name = "FILE", conflicts_with = "local")]
    pub(crate) ca_bundle: Option<std::path::PathBuf>,
    /// One whole request in the API's shape instead of records a line
    /// (`{"trackingId": ..., "sessionId": ..., "eventList": [...]}` for
    /// put-events; `datasetArn` and `items`, `users` or `actions`;
    /// `trackingId` and `actionInteractions`): a file, `file://FILE`, `-`
    /// for stdin, or the JSON text itself. Flags fill in what it lacks.
    #[arg(long, value_name = "FILE", conflicts_with = "input")]
    pub(crate) cli_input_json: Option<String>,
    /// Send to an emulator started on loopback for this run (no AWS account
    /// needed), and report what it received.
    #[arg(long)]
    pub(crate) local: bool,
}
