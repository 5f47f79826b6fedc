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

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;

mod args;
use args::{Cli, Cmd, GlobalArgs, Output, SendArgs};

use personalize_events_blocking::{AnyInput, Record};
use personalize_events_cli::failed::{reasons_path, FailedOut};
use personalize_events_cli::input::{self, Format, Input, Source};
use personalize_events_cli::record::{Defaults, Kind};
use personalize_events_cli::same::FileId;
use personalize_events_cli::summary::Summary;
use personalize_events_cli::{attempts, aws, local, print, progress, send};

/// Exit code when every record was sent.
const EXIT_OK: u8 = 0;
/// Exit code when some records were not accepted.
const EXIT_SOME_FAILED: u8 = 1;
/// Exit code for usage and configuration errors (as clap's).
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let global = cli.global;
    let (kind, defaults, format, send) = match cli.command {
        Cmd::Local(args) => return run_local(&args, global.debug),
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
    match put(kind, defaults, format, send, &global) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            print::err_line(&format!("error: {message}"));
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

/// The default failed file: `<input>.failed.jsonl`, or `./failed.jsonl`
/// (`.failed.csv` and `./failed.csv` for CSV input, as the failed file is
/// CSV then).
fn default_failed_path(source: &Source, format: Format) -> PathBuf {
    let ext = match format {
        Format::Jsonl => "jsonl",
        Format::Csv => "csv",
    };
    match source {
        Source::File(p) => {
            let mut name = p.as_os_str().to_owned();
            name.push(format!(".failed.{ext}"));
            PathBuf::from(name)
        }
        Source::Stdin => PathBuf::from(format!("failed.{ext}")),
    }
}

/// Whether two paths name the same file by name (the second may not exist
/// yet); where device and inode are unknown.
fn same_name(a: &Path, b: &Path) -> bool {
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

/// Refuses an output file that is the input: the same device and inode
/// (stdin's too: `< failed.jsonl`), or the same name.
fn check_not_input(
    out: &Path,
    what: &str,
    input: Option<FileId>,
    source: &Source,
) -> Result<(), String> {
    let same_id = input.is_some() && FileId::of_path(out) == input;
    let same = match source {
        Source::File(i) => same_id || same_name(out, i),
        Source::Stdin => same_id,
    };
    if same {
        return Err(format!(
            "the {what} {} would overwrite the input{}: give another --failed-out",
            out.display(),
            if matches!(source, Source::Stdin) {
                " (stdin is read from it)"
            } else {
                ""
            }
        ));
    }
    Ok(())
}

/// The request of `--cli-input-json`: its text, and the source it came
/// from (for the default failed file and the same-file check).
fn read_cli_input_json(arg: &str) -> Result<(Vec<u8>, Source, Option<FileId>), String> {
    const MAX: u64 = 16 << 20;
    let (source, text) = if arg.trim_start().starts_with('{') {
        (Source::Stdin, arg.as_bytes().to_vec())
    } else {
        let path = arg.strip_prefix("file://").unwrap_or(arg);
        let source = Source::from_arg(Some(&PathBuf::from(path)));
        let (mut r, _, _) = source
            .open()
            .map_err(|e| format!("cannot open {}: {e}", source.display()))?;
        let mut text = Vec::new();
        r.by_ref()
            .take(MAX + 1)
            .read_to_end(&mut text)
            .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        if text.len() as u64 > MAX {
            return Err(format!(
                "--cli-input-json {}: longer than 16 MiB, not one request",
                source.display()
            ));
        }
        (source, text)
    };
    let id = match &source {
        Source::File(p) => FileId::of_path(p),
        Source::Stdin if arg.trim_start().starts_with('{') => None,
        Source::Stdin => personalize_events_cli::same::stdin_id(),
    };
    Ok((text, source, id))
}

/// One whole request (`--cli-input-json`) to its records: the flags fill
/// in the members it lacks (and are refused when they differ), then it is
/// decoded and validated as the API would.
fn request_records(kind: Kind, defaults: &Defaults, text: &[u8]) -> Result<Vec<Record>, String> {
    let mut value: serde_json::Value = serde_json::from_slice(text).map_err(|e| {
        format!(
            "not valid JSON: {}",
            personalize_events_cli::record::json_error(&e)
        )
    })?;
    let Some(map) = value.as_object_mut() else {
        return Err("expected a JSON object: one request in the API's shape".into());
    };
    let flags: &[(&str, &str, Option<&String>)] = match kind {
        Kind::Events => &[
            ("trackingId", "--tracking-id", defaults.tracking_id.as_ref()),
            ("sessionId", "--session-id", defaults.session_id.as_ref()),
            ("userId", "--user-id", defaults.user_id.as_ref()),
        ],
        Kind::ActionInteractions => {
            &[("trackingId", "--tracking-id", defaults.tracking_id.as_ref())]
        }
        _ => &[("datasetArn", "--dataset-arn", defaults.dataset_arn.as_ref())],
    };
    for (member, flag, value) in flags {
        let Some(v) = value else { continue };
        match map.get(*member) {
            None | Some(serde_json::Value::Null) => {
                map.insert((*member).into(), serde_json::Value::String((*v).clone()));
            }
            Some(serde_json::Value::String(s)) if s == *v => {}
            Some(_) => return Err(format!("{member} differs from {flag}")),
        }
    }
    let body = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
    let input = AnyInput::from_json(kind.operation(), &body).map_err(|e| e.to_string())?;
    input.validate().map_err(|e| e.to_string())?;
    Ok(input.into_records())
}

/// Ctrl-C (or SIGTERM) once: stop reading and sending, account for
/// everything read. Twice: exit at once.
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
                let mut term = local::Terminate::new();
                for first in [true, false] {
                    tokio::select! {
                        r = tokio::signal::ctrl_c() => if r.is_err() { return },
                        _ = term.recv() => {}
                    }
                    if first {
                        set.store(true, Ordering::SeqCst);
                    }
                }
                print::err_line(
                    "interrupted twice: exiting now; records in flight are not accounted for",
                );
                std::process::exit(130);
            });
        });
    flag
}

fn put(
    kind: Kind,
    defaults: Defaults,
    format: Option<Format>,
    args: SendArgs,
    global: &GlobalArgs,
) -> Result<u8, String> {
    let command = command_name(kind);
    if args.local {
        for (given, flag) in [
            (global.endpoint_url.is_some(), "--endpoint-url <URL>"),
            (global.profile.is_some(), "--profile <PROFILE>"),
        ] {
            if given {
                return Err(format!(
                    "the argument '--local' cannot be used with '{flag}'"
                ));
            }
        }
    }
    attempts::install(global.debug)?;
    // The input: records a line, or one whole request.
    let (source, request) = match &args.cli_input_json {
        Some(arg) => {
            let (text, source, id) = read_cli_input_json(arg)?;
            let records = request_records(kind, &defaults, &text)
                .map_err(|e| format!("--cli-input-json {}: {e}", source.display()))?;
            (source, Some((records, id)))
        }
        None => (Source::from_arg(args.input.as_ref()), None),
    };
    let format = match request {
        Some(_) => Format::Jsonl,
        None => format.unwrap_or_else(|| source.guess_format()),
    };
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
        (None, false) => Some(default_failed_path(&source, format)),
        (None, true) => None,
    };
    // Open the input (a directory is refused here), then make sure that
    // neither output file is the input, before anything is read.
    let (reader_input, size, input_id) = match request {
        Some((records, id)) => (Input::Records(records), None, id),
        None => {
            let (r, size, id) = source
                .open()
                .map_err(|e| format!("cannot open {}: {e}", source.display()))?;
            (Input::Stream(r), size, id)
        }
    };
    if let Some(f) = &failed_path {
        check_not_input(f, "failed file", input_id, &source)?;
        check_not_input(&reasons_path(f), "reasons file", input_id, &source)?;
    }

    // The client (or the emulator and a client for it).
    let ua = user_agent();
    let mut server = None;
    let client = if args.dry_run {
        None
    } else if args.local {
        let s = local::start().map_err(|e| format!("cannot start the local emulator: {e}"))?;
        let c = local::client(&s, global.region.as_deref(), args.max_attempts, &ua)
            .map_err(|e| e.to_string())?;
        server = Some(s);
        Some(c)
    } else {
        let opts = aws::AwsOptions {
            region: global.region.clone(),
            profile: global.profile.clone(),
            endpoint_url: global.endpoint_url.clone(),
            max_attempts: args.max_attempts,
            ca_bundle: args.ca_bundle.clone(),
        };
        Some(aws::client(&opts, &ua).map_err(|e| e.to_string())?)
    };

    let failed = failed_path.map(|p| Arc::new(FailedOut::new(p, input_id)));
    let interrupt = interrupt_flag();
    let progress = progress::Progress::new(size, args.quiet, !global.debug);
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
    let done = failed.as_ref().map(|f| f.finish()).unwrap_or_default();
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
        failed_lines: done.lines,
        lost: done.lost,
        failed_out_error: done.error,
        csv_input: format == Format::Csv,
        reasons_out: failed.as_ref().map(|f| f.reasons().display().to_string()),
        reasons_error: done.reasons_error,
        output_closed: outcome.output_closed,
        stopped: outcome.stopped,
        read_error: outcome.read_error,
        interrupted_at: outcome.interrupted_at,
        local,
    };
    if !(args.quiet && global.output == Output::Json) {
        print::err(&summary.text());
    }
    if global.output == Output::Json {
        print::out_line(&summary.json().to_string());
    }
    Ok(if summary.complete() {
        EXIT_OK
    } else {
        EXIT_SOME_FAILED
    })
}

fn run_local(args: &local::LocalArgs, debug: bool) -> ExitCode {
    if let Err(e) = attempts::install(debug) {
        print::err_line(&format!("error: {e}"));
        return ExitCode::from(EXIT_USAGE);
    }
    let builder = match args.builder() {
        Ok(b) => b,
        Err(e) => {
            print::err_line(&format!("error: {e}"));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match local::serve(builder) {
        Ok(_) => ExitCode::from(EXIT_OK),
        Err(e) => {
            print::err_line(&format!("error: {e}"));
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
            default_failed_path(&Source::File("examples/events.jsonl".into()), Format::Jsonl),
            PathBuf::from("examples/events.jsonl.failed.jsonl")
        );
        assert_eq!(
            default_failed_path(&Source::Stdin, Format::Jsonl),
            PathBuf::from("failed.jsonl")
        );
        assert_eq!(
            default_failed_path(&Source::File("items.csv".into()), Format::Csv),
            PathBuf::from("items.csv.failed.csv")
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
    }

    #[test]
    fn aws_cli_options_go_before_or_after_the_subcommand() {
        for args in [
            &[
                "personalize-events",
                "--region",
                "eu-west-1",
                "--debug",
                "--output",
                "json",
                "put-items",
                "x",
            ][..],
            &[
                "personalize-events",
                "put-items",
                "--region",
                "eu-west-1",
                "x",
                "--debug",
                "--output",
                "json",
            ][..],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            assert_eq!(cli.global.region.as_deref(), Some("eu-west-1"), "{args:?}");
            assert!(cli.global.debug);
            assert_eq!(cli.global.output, Output::Json);
        }
        assert!(Cli::try_parse_from([
            "personalize-events",
            "put-events",
            "x",
            "--cli-input-json",
            "-"
        ])
        .is_err());
    }

    #[test]
    fn a_request_fills_in_from_flags_and_is_validated() {
        let d = Defaults {
            tracking_id: Some("t".into()),
            ..Defaults::default()
        };
        let body = br#"{"sessionId":"s","eventList":[{"eventType":"c","sentAt":1},{"eventType":"d","sentAt":2}]}"#;
        assert_eq!(request_records(Kind::Events, &d, body).unwrap().len(), 2);
        let e = request_records(Kind::Events, &Defaults::default(), body).unwrap_err();
        assert!(e.contains("trackingId"), "{e}");
        let e = request_records(
            Kind::Events,
            &d,
            br#"{"sessionId":"s","eventList":[{"eventType":"c","sentAt":1,"eventValue":"x"}]}"#,
        )
        .unwrap_err();
        assert!(e.starts_with("eventList[0].eventValue"), "{e}");
        let e =
            request_records(Kind::Events, &d, br#"{"sessionId":"s","eventList":[]}"#).unwrap_err();
        assert!(e.contains("eventList"), "{e}");
    }
}
