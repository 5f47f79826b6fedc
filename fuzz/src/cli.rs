//! Fuzz targets for the command-line tool's readers
//! (`personalize_events_cli::input`): its JSON-lines reader and its strict
//! CSV reader, driven exactly as a run drives them, over arbitrary bytes.

use std::io::Cursor;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::sync_channel;
use std::sync::Arc;

use personalize_events_cli::csvrow::{quote_into, split, CsvLines, Row};
use personalize_events_cli::input::{Format, Input, Message, Parsed, Reader};
use personalize_events_cli::record::{from_json_line, to_json_line, Defaults, Kind};

const ARN: &str = "arn:aws:personalize:us-east-1:123456789012:dataset/d/ITEMS";

fn defaults() -> Defaults {
    Defaults {
        tracking_id: Some("tid".into()),
        dataset_arn: Some(ARN.into()),
        session_id: Some("s".into()),
        user_id: None,
    }
}

/// Runs the reader over `data`; checks what every run relies on.
fn read(kind: Kind, format: Format, data: &[u8]) -> Vec<Parsed> {
    let (tx, rx) = sync_channel(1 << 16);
    Reader {
        input: Input::Stream(Box::new(Cursor::new(data.to_vec()))),
        format,
        kind,
        defaults: defaults(),
        failed: None,
        progress: Arc::default(),
        stop: Arc::new(AtomicBool::new(false)),
    }
    .run(tx);
    let out: Vec<Message> = rx.try_iter().collect();
    // Line numbers only grow, and never pass the lines there are; how far
    // the reader had read (what an interrupted run reports) only grows,
    // never passes them, and covers every line handed on.
    let lines = data.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let (mut last, mut through) = (0, 0);
    for m in &out {
        assert!(
            m.through >= through && m.through <= lines,
            "read through {} after {through} of {lines}",
            m.through
        );
        through = m.through;
        let line = match &m.parsed {
            Parsed::Invalid { line, .. } => *line,
            Parsed::ReadError { line, .. } => {
                assert!(*line <= through + 1, "read error at {line} after {through}");
                *line
            }
            Parsed::Record(_) => continue,
        };
        assert!(
            line > last && line <= lines,
            "line {line} after {last} of {lines}"
        );
        if let Parsed::Invalid { .. } = m.parsed {
            assert!(
                line <= through,
                "line {line} handed on as read through {through}"
            );
        }
        last = line;
    }
    out.into_iter().map(|m| m.parsed).collect()
}

/// The CLI's JSON-lines reader, for events and for items: no panic; line
/// numbers grow; a refused line goes to the failed file as it was read; a
/// record written to the failed file reads back as the same record (the
/// failed file is re-runnable).
pub fn cli_json_lines(data: &[u8]) {
    for kind in [Kind::Events, Kind::Items] {
        for p in read(kind, Format::Jsonl, data) {
            match p {
                Parsed::Record(r) => {
                    let line = to_json_line((*r).clone());
                    let back = from_json_line(kind, &Defaults::default(), line.as_bytes())
                        .unwrap_or_else(|e| panic!("the failed line does not read back: {e}"));
                    assert!(back == *r, "the failed line reads back as another record");
                }
                Parsed::Invalid {
                    failed: Some(bytes),
                    ..
                } => assert!(bytes.len() <= data.len()),
                _ => {}
            }
        }
    }
}

/// The CLI's strict CSV reader: no panic; line numbers grow; every record
/// it splits quotes back into text that splits into the same fields; a
/// refused row goes to the failed file as it was read.
pub fn cli_csv(data: &[u8]) {
    for p in read(Kind::Items, Format::Csv, data) {
        if let Parsed::Invalid {
            failed: Some(raw), ..
        } = p
        {
            assert!(raw.len() <= data.len());
        }
    }
    let mut rows = CsvLines::new(data);
    for _ in 0..100_000 {
        match rows.next_row() {
            Ok(Row::End) | Err(_) => break,
            Ok(Row::Overlong { .. }) => {
                let _ = rows.copy_rest_of_line(&mut std::io::sink());
            }
            Ok(Row::Malformed { .. }) => {}
            Ok(Row::Fields { fields, raw, .. }) => {
                assert_eq!(split(&raw).as_ref(), Ok(&fields));
                let Ok(text) = fields
                    .iter()
                    .map(|f| std::str::from_utf8(f))
                    .collect::<Result<Vec<_>, _>>()
                else {
                    continue;
                };
                let mut again = Vec::new();
                for (i, f) in text.iter().enumerate() {
                    if i > 0 {
                        again.push(b',');
                    }
                    quote_into(f, &mut again);
                }
                assert_eq!(split(&again).as_ref(), Ok(&fields), "quoting round trip");
            }
        }
    }
}

/// Seeds for [`cli_json_lines`].
pub fn cli_json_lines_seeds() -> Vec<Vec<u8>> {
    [
        &b"{\"sessionId\":\"s1\",\"eventType\":\"click\",\"sentAt\":1795953540,\"itemId\":\"i\",\"properties\":{\"a\":\"1\"}}\n{\"itemId\":\"x\",\"properties\":\"{}\"}\n"[..],
        b"\xef\xbb\xbf{\"eventType\":\"c\",\"sentAt\":\"2026-11-29T11:59:00Z\",\"eventValue\":1.5,\"impression\":[\"a\",\"b\"]}\r\n\n{\"bad\n",
        b"{\"itemId\":\"i1\"}\n{\"sessionId\":5}\n[1]\n{\"eventType\":\"c\",\"sentAt\":1700000000123}\n",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect()
}

/// Seeds for [`cli_csv`].
pub fn cli_csv_seeds() -> Vec<Vec<u8>> {
    [
        &b"ITEM_ID,TITLE,NUMBER_OF_RATINGS\ni1,\"Hats, Scarves\",12\ni2,\"Two\nlines, \"\"q\"\"\",\n,no id,3\n"[..],
        b"\xef\xbb\xbfitemId,genres\r\nx1,a|b\r\nx2\r\n\"x3,unterminated\n",
        b"ITEM_ID\n\"a\"b\n5'11\"\n\n",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect()
}
