//! The tool never opens for writing a file that is its input: not the
//! default failed file of stdin (`< failed.jsonl`), not a `--failed-out`
//! that is the input under another name (a hard or symbolic link), not the
//! reasons file. It refuses with exit 2 before reading anything, and the
//! input is left as it was.

mod common;

use common::*;
use personalize_events_local::LocalServer;

#[test]
fn the_input_is_never_the_failed_file() {
    let dir = TempDir::new("never-overwritten");
    let server = LocalServer::builder().start_blocking().unwrap();
    // One bad line near the top, then many good ones: the run that ate its
    // input created the failed file at the first bad line.
    let text = format!("{{\"bad\n{}", events(2000, 7));
    let input = dir.write("failed.jsonl", &text);

    let out = run_with_stdin_file(
        bin_for(&dir, &server, "put-events").args(["--tracking-id", "t"]),
        &input,
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("would overwrite the input (stdin is read from it)"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&input).unwrap(), text);
    assert!(server.records().is_empty(), "nothing is sent");

    #[cfg(unix)]
    {
        std::fs::hard_link(&input, dir.join("hard.jsonl")).unwrap();
        std::os::unix::fs::symlink(&input, dir.join("soft.jsonl")).unwrap();
        for other in ["hard.jsonl", "soft.jsonl", "./failed.jsonl"] {
            let out = run(bin_for(&dir, &server, "put-events")
                .args(["--tracking-id", "t", "--failed-out", other])
                .arg(&input));
            assert_eq!(out.code, 2, "{other}: {out:?}");
            assert!(
                out.stderr.contains("would overwrite the input"),
                "{other}: {}",
                out.stderr
            );
            let out = run_with_stdin_file(
                bin_for(&dir, &server, "put-events").args([
                    "--tracking-id",
                    "t",
                    "--failed-out",
                    other,
                ]),
                &input,
            );
            assert_eq!(out.code, 2, "{other} from stdin: {out:?}");
        }
    }
    // The reasons file beside the failed file is checked too.
    let reasons_input = dir.write("out.reasons.jsonl", &text);
    let out = run(bin_for(&dir, &server, "put-events")
        .args(["--tracking-id", "t", "--failed-out", "out.jsonl"])
        .arg(&reasons_input));
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("the reasons file"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&reasons_input).unwrap(), text);
    assert_eq!(std::fs::read_to_string(&input).unwrap(), text);
    assert!(server.records().is_empty());

    // Under another name, the same input goes through, and only its one
    // bad line is in the failed file.
    let out = run_with_stdin_file(
        bin_for(&dir, &server, "put-events").args([
            "--tracking-id",
            "t",
            "--failed-out",
            "rest.jsonl",
            "-q",
        ]),
        &input,
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(server.records().len(), 2000);
    assert_eq!(
        std::fs::read_to_string(dir.join("rest.jsonl")).unwrap(),
        "{\"bad\n"
    );
    assert_eq!(std::fs::read_to_string(&input).unwrap(), text);
}
