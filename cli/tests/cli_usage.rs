//! Usage and configuration errors exit with 2 and say what is wrong.

mod common;

use common::*;

#[test]
fn usage_errors_exit_2() {
    let dir = TempDir::new("usage");
    let events = dir.write("events.jsonl", &events(2, 1));
    let csv = dir.write("events.csv", "a,b\n1,2\n");
    let missing = dir.join("missing.jsonl");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![], "Usage"),
        (vec!["put-everything"], "unrecognized subcommand"),
        (vec!["put-events", "--bogus"], "unexpected argument"),
        (vec!["put-events", "--concurrency", "0"], "--concurrency"),
        (vec!["put-events", "--output", "yaml"], "--output"),
        (
            vec![
                "put-events",
                "--local",
                "--endpoint-url",
                "http://127.0.0.1:1",
            ],
            "cannot be used with",
        ),
        (
            vec!["put-events", "--local", "--profile", "p"],
            "cannot be used with",
        ),
        (vec!["put-items", "--format", "xml"], "--format"),
        (vec!["local", "--faults", "boom"], "unknown fault"),
        (vec!["local", "--failure-rate", "2"], "between 0 and 1"),
    ];
    for (args, want) in cases {
        let out = run(bin(&dir).args(&args));
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
    }
    // Errors found after parsing exit 2 as well.
    let checks: Vec<(Vec<&std::ffi::OsStr>, &str)> = vec![
        (
            vec![
                "put-events".as_ref(),
                "--tracking-id".as_ref(),
                "t".as_ref(),
                csv.as_os_str(),
            ],
            "reads JSON lines only",
        ),
        (
            vec![
                "put-events".as_ref(),
                "--dry-run".as_ref(),
                missing.as_os_str(),
            ],
            "cannot open",
        ),
        (
            vec![
                "put-events".as_ref(),
                "--failed-out".as_ref(),
                events.as_os_str(),
                events.as_os_str(),
            ],
            "would overwrite the input",
        ),
        (vec!["put-events".as_ref(), events.as_os_str()], "no region"),
    ];
    for (args, want) in checks {
        let out = run(bin(&dir).args(&args));
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
    }
    let out = run(bin(&dir).arg("--help"));
    assert_eq!(out.code, 0);
    for cmd in [
        "put-events",
        "put-items",
        "put-users",
        "put-actions",
        "put-action-interactions",
        "local",
    ] {
        assert!(out.stdout.contains(cmd), "{cmd}: {}", out.stdout);
    }
}
