//! The binary as a user meets it: help, exit codes, and the commands end to end.

use std::process::{Command, Output};

use crate::common::{fixtures, kefu_binary};

fn kefu(args: &[&str]) -> Output {
    Command::new(kefu_binary())
        .args(args)
        .env_remove("KEFU_DATA")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_lists_every_verb_of_the_design() {
    let output = kefu(&["--help"]);
    assert!(output.status.success());
    let help = stdout(&output);
    for verb in [
        "demo",
        "gen",
        "import",
        "serve",
        "pull",
        "run",
        "qa",
        "sql",
        "tags",
        "export",
        "retention",
        "forget",
        "check",
        "status",
        "bench",
    ] {
        assert!(
            help.lines().any(|line| line.trim_start().starts_with(verb)),
            "{verb} in\n{help}"
        );
    }
}

#[test]
fn verbs_of_later_issues_say_so_and_exit_2() {
    let output = kefu(&["check", "pipelines/nightly.toml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not yet available"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn usage_mistakes_exit_2_and_runtime_failures_exit_1() {
    assert_eq!(kefu(&["gen", "--days"]).status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    // No dataset yet: a usage error that says how to make one.
    let output = kefu(&["--data", data, "sql", "-e", "SELECT 1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("kefu gen"));
    // Nothing importable: exit 1, and the bad file is named.
    let broken = fixtures().join("callback/bad_truncated.xml");
    let output = kefu(&["--data", data, "import", broken.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stdout(&output).contains("1 quarantined"));
    let output = kefu(&["--data", data, "import", "/no/such/file.jsonl"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("/no/such/file.jsonl"));
    // Another zone than the dataset's is refused.
    let output = kefu(&[
        "--data",
        data,
        "import",
        "--timezone",
        "Europe/Paris",
        broken.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("Asia/Shanghai"));
}

#[test]
fn gen_import_and_sql_work_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let output = kefu(&[
        "--data", data, "gen", "--days", "10", "--users", "200", "--seed", "3",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("generated"));
    for name in ["users.jsonl", "qa.jsonl", "spikes.jsonl", "gen.json"] {
        assert!(
            dir.path().join("data/truth").join(name).exists(),
            "truth/{name}"
        );
    }
    let conversation = fixtures().join("import/conversation.jsonl");
    let output = kefu(&["--data", data, "import", conversation.to_str().unwrap()]);
    assert!(output.status.success());
    assert_eq!(
        stdout(&output).lines().next().unwrap(),
        "imported 16 events from 1 files; 1 duplicates; 0 quarantined"
    );

    let output = kefu(&[
        "--data",
        data,
        "sql",
        "--format",
        "json",
        "-e",
        "SELECT count(*) AS imported FROM events WHERE source = 'import'",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), r#"[{"imported":16}]"#);
    let query = dir.path().join("roles.sql");
    std::fs::write(&query, "-- events by role\nSELECT role, count(*) > 0 AS present FROM events GROUP BY role ORDER BY role").unwrap();
    let output = kefu(&[
        "--data",
        data,
        "sql",
        "--format",
        "csv",
        query.to_str().unwrap(),
    ]);
    assert_eq!(
        stdout(&output),
        "role,present\nagent,true\nbot,true\nsystem,true\nuser,true\n"
    );
    let output = kefu(&["--data", data, "status"]);
    assert!(stdout(&output).contains("events"), "{}", stdout(&output));
}

#[test]
fn demo_makes_a_fresh_folder_and_prints_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let output = kefu(&["demo", "--out", out.to_str().unwrap(), "--users", "150"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    assert_eq!(printed.lines().last().unwrap(), out.to_str().unwrap());
    assert!(out.join("data/kefu.json").exists());
    // A second run replaces its own earlier demo, and refuses a folder it did not make.
    assert!(
        kefu(&["demo", "--out", out.to_str().unwrap(), "--users", "50"])
            .status
            .success()
    );
    let foreign = dir.path().join("mine");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "keep me").unwrap();
    let output = kefu(&["demo", "--out", foreign.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(foreign.join("notes.txt").exists());
}
