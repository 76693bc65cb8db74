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

/// A fresh dataset under `dir` holding one fixture file, imported through the CLI.
fn imported(dir: &std::path::Path, fixture: &str) -> std::path::PathBuf {
    let data = dir.join("data");
    let file = fixtures().join(fixture);
    let output = kefu(&[
        "--data",
        data.to_str().unwrap(),
        "import",
        file.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    data
}

/// `dir/repo/` holding copies of the repository's files in `folders` (not their
/// subfolders), for tests that edit a rule file or a query.
fn repo_copy(dir: &std::path::Path, folders: &[&str]) -> std::path::PathBuf {
    let repo = dir.join("repo");
    for folder in folders {
        std::fs::create_dir_all(repo.join(folder)).unwrap();
        for entry in std::fs::read_dir(crate::common::repo_file(folder)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, repo.join(folder).join(path.file_name().unwrap())).unwrap();
            }
        }
    }
    repo
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
fn wechat_verbs_name_what_is_missing_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    kefu::store::Dataset::open_or_create(&data, None).unwrap();
    let data = data.to_str().unwrap();
    let output = kefu(&["--data", data, "tags", "push", "--date", "2026-10-16"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no tags snapshot for 2026-10-16: run `kefu run"),
        "{}",
        stderr(&output)
    );
    let output = std::process::Command::new(kefu_binary())
        .args([
            "--data",
            data,
            "pull",
            "--from",
            "2026-10-16",
            "--to",
            "2026-10-16",
        ])
        .env_remove("KEFU_WECHAT_APPID")
        .env_remove("KEFU_WECHAT_SECRET")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("set KEFU_WECHAT_APPID and KEFU_WECHAT_SECRET"),
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
fn demo_makes_a_fresh_folder_and_prints_its_report_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let output = kefu(&["demo", "--out", out.to_str().unwrap(), "--users", "150"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    let report = std::path::PathBuf::from(printed.lines().last().unwrap());
    assert!(
        report.starts_with(out.join("reports")),
        "{}",
        report.display()
    );
    assert!(report.ends_with("index.html") && report.exists());
    for beside in ["summary.md", "report.json", "qa_flags.csv"] {
        assert!(report.with_file_name(beside).exists(), "{beside}");
    }
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

#[test]
fn qa_check_explains_a_reply_and_its_cancelled_matches() {
    let output = kefu(&[
        "qa",
        "check",
        "不好意思，我们保 证 终身免費！您说的“全网最低”不是我们说的",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    for expected in [
        "normalised  不好意思,我们保证终身免费!您说的“全网最低”不是我们说的",
        "match       promise.guarantee [promise, high] chars 7..10: 保 证 (inserted symbols removed)",
        "match       promise.lifetime [promise, high] chars 11..15: 终身免費 (traditional folded)",
        "cancelled   absolute.superlative on 全网最低: inside quotation marks",
        "verdict     flagged: promise",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    let clean = stdout(&kefu(&["qa", "check", "第一步先重启，最晚明天到"]));
    assert!(clean.contains("verdict     clean"), "{clean}");
}

#[test]
fn a_broken_rule_file_stops_with_file_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("qa.toml");
    let shipped = std::fs::read_to_string(crate::common::repo_file("pipelines/rules/qa.toml"))
        .unwrap()
        .replacen("category = \"rude\"", "category = \"rudeness\"", 1);
    std::fs::write(&rules, shipped).unwrap();
    let output = kefu(&["qa", "check", "--rules", rules.to_str().unwrap(), "好的"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("qa.toml:") && err.contains("unknown category `rudeness`"),
        "{err}"
    );
    assert!(stdout(&output).is_empty(), "nothing ran");
}

/// A backtest of a rule file that drops a phrase and adds one lists both sides.
#[test]
fn qa_backtest_lists_what_a_changed_rule_file_adds_and_drops() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let conversation = fixtures().join("qa/job/conversations.jsonl");
    let output = kefu(&["--data", data, "import", conversation.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let shipped =
        std::fs::read_to_string(crate::common::repo_file("pipelines/rules/qa.toml")).unwrap();
    let changed = shipped
        .replacen("\"催什么催\", \"催什么\", ", "", 1)
        .replacen("\"爱买不买\",", "\"爱买不买\", \"仓库又不是\",", 1);
    assert_ne!(changed, shipped);
    let candidate = dir.path().join("candidate.toml");
    std::fs::write(&candidate, changed).unwrap();
    let output = kefu(&[
        "--data",
        data,
        "qa",
        "backtest",
        candidate.to_str().unwrap(),
        "--from",
        "2026-10-12",
        "--to",
        "2026-10-13",
        "--current",
        crate::common::repo_file("pipelines/rules/qa.toml")
            .to_str()
            .unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("6 replies from 2026-10-12 to 2026-10-13"),
        "{out}"
    );
    let (added, dropped) = out.split_once("the change drops these").unwrap();
    assert!(added.contains("would flag: 1\n"), "{out}");
    assert!(
        added.contains("rude.taboo") && added.contains("仓库又不是 |"),
        "{out}"
    );
    assert!(dropped.starts_with("): 1\n"), "{out}");
    assert!(
        dropped.contains("rude.impatience") && dropped.contains("催什么催 |"),
        "{out}"
    );
}

/// Timestamp columns are UTC-zoned Arrow timestamps; every output format prints them.
#[test]
fn sql_prints_whole_rows_with_their_timestamps_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let conversation = fixtures().join("import/conversation.jsonl");
    assert!(
        kefu(&["--data", data, "import", conversation.to_str().unwrap()])
            .status
            .success()
    );
    for format in ["table", "csv", "json"] {
        let output = kefu(&[
            "--data",
            data,
            "sql",
            "-e",
            "SELECT * FROM events ORDER BY ts LIMIT 1",
            "--format",
            format,
        ]);
        assert!(output.status.success(), "{format}: {}", stderr(&output));
        assert!(
            stdout(&output).contains("2026-10-12T11:58:02"),
            "{format}: {}",
            stdout(&output)
        );
    }
}

/// `kefu run` over a day: every job's table is written, with one summary line per job;
/// a mistake in what it was asked is exit 2 before any job runs.
#[test]
fn run_writes_each_jobs_tables_and_refuses_mistakes_before_starting() {
    let dir = tempfile::tempdir().unwrap();
    let data = imported(dir.path(), "sla/conversations.jsonl");
    let data_arg = data.to_str().unwrap();
    let pipeline = crate::common::repo_file("pipelines/nightly.toml");
    let pipeline = pipeline.to_str().unwrap();

    let unknown = kefu(&[
        "--data",
        data_arg,
        "run",
        pipeline,
        "--date",
        "2026-10-16",
        "--jobs",
        "qa,topicz",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("unknown job `topicz`"),
        "{}",
        stderr(&unknown)
    );
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[qa]\nrules = \"missing.toml\"\n").unwrap();
    let missing = kefu(&[
        "--data",
        data_arg,
        "run",
        broken.to_str().unwrap(),
        "--date",
        "2026-10-16",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    let err = stderr(&missing);
    assert!(
        err.contains("[qa] rules = ") && err.contains("missing.toml does not exist"),
        "{err}"
    );
    assert!(
        err.contains("[segment] userdict"),
        "every missing file at once: {err}"
    );
    assert!(!data.join("derived").exists(), "nothing ran");

    let output = kefu(&[
        "--data",
        data_arg,
        "run",
        pipeline,
        "--from",
        "2026-10-16",
        "--to",
        "2026-10-17",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let log = stderr(&output);
    for line in [
        "  segment",
        "  qa",
        "  sla ",
        "  topics",
        "  tags",
        "kefu run: jobs done in",
        "report(s)",
    ] {
        assert!(log.contains(line), "{line} in:\n{log}");
    }
    assert!(log.contains("3 sessions, 4 turns, 1 breaches"), "{log}");
    let printed = stdout(&output);
    let reports: Vec<&str> = printed.lines().map(str::trim).collect();
    assert_eq!(reports.len(), 2, "one report per day: {reports:?}");
    assert!(
        reports[1].ends_with("reports/2026-10-17/index.html")
            && std::path::Path::new(reports[1]).exists()
    );
    let status = stdout(&kefu(&["--data", data_arg, "status"]));
    assert!(
        status.contains("over 2026-10-16..2026-10-17: ok [segment"),
        "{status}"
    );
    for table in ["tokens", "qa_flags", "sessions", "turns", "sla_daily"] {
        for day in ["2026-10-16", "2026-10-17"] {
            assert!(
                data.join(format!("derived/{table}/dt={day}/part-0.parquet"))
                    .exists(),
                "{table} {day}"
            );
        }
    }
}

#[test]
fn check_validates_everything_a_run_reads_and_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let data = imported(dir.path(), "sla/conversations.jsonl");
    let data_arg = data.to_str().unwrap();
    let shipped = crate::common::repo_file("pipelines/nightly.toml");
    let pipeline = shipped.to_str().unwrap();
    assert!(kefu(&[
        "--data",
        data_arg,
        "run",
        pipeline,
        "--from",
        "2026-10-16",
        "--to",
        "2026-10-19"
    ])
    .status
    .success());
    let output = kefu(&["--data", data_arg, "check", pipeline]);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let report = stdout(&output);
    assert!(report.contains("no problems"), "{report}");
    assert!(
        report.contains("day_agents.sql"),
        "the SQL is planned: {report}"
    );

    // A copy of the repository's pipelines/ and sql/ with a broken tag file and a
    // query naming a column that does not exist: both are reported, exit 2.
    let repo = repo_copy(
        dir.path(),
        &["pipelines", "pipelines/rules", "pipelines/dict", "sql"],
    );
    std::fs::write(
        repo.join("pipelines/rules/tags.toml"),
        "[semantics]\nclause_ends = 3\n",
    )
    .unwrap();
    std::fs::write(
        repo.join("sql/mine.sql"),
        "SELECT no_such_column FROM events",
    )
    .unwrap();
    let pipeline = repo.join("pipelines/nightly.toml");
    let output = kefu(&["--data", data_arg, "check", pipeline.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("2 problem(s)"), "{err}");
    assert!(err.contains("tags.toml:2"), "{err}");
    assert!(
        err.contains("mine.sql") && err.contains("no_such_column"),
        "{err}"
    );
}

#[test]
fn retention_removes_old_partitions_and_keeps_the_recent_ones() {
    let dir = tempfile::tempdir().unwrap();
    let data = imported(dir.path(), "sla/conversations.jsonl");
    let data_arg = data.to_str().unwrap();
    // A report folder from long ago and one from today, beside the data.
    let today = chrono::Utc::now().date_naive();
    let reports = dir.path().join("reports");
    std::fs::create_dir_all(reports.join("2020-01-01")).unwrap();
    std::fs::create_dir_all(reports.join(today.to_string())).unwrap();
    let before = std::fs::read_dir(data.join("events")).unwrap().count();
    assert!(before >= 2);

    let keep_all = kefu(&["--data", data_arg, "retention", "--keep", "100000d"]);
    assert!(keep_all.status.success(), "{}", stderr(&keep_all));
    assert_eq!(
        std::fs::read_dir(data.join("events")).unwrap().count(),
        before
    );
    assert!(reports.join("2020-01-01").exists());

    // The fixture's October 2026 events are older than a day before "now".
    let output = kefu(&["--data", data_arg, "retention", "--keep", "1d"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("removed"), "{}", stdout(&output));
    assert_eq!(std::fs::read_dir(data.join("events")).unwrap().count(), 0);
    assert!(!reports.join("2020-01-01").exists());
    assert!(reports.join(today.to_string()).exists());
    assert_eq!(
        kefu(&["--data", data_arg, "retention", "--keep", "soon"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn forget_erases_a_user_everywhere_and_audits_without_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = imported(dir.path(), "sla/conversations.jsonl");
    let data_arg = data.to_str().unwrap();
    let pipeline = crate::common::repo_file("pipelines/nightly.toml");
    let run = kefu(&[
        "--data",
        data_arg,
        "run",
        pipeline.to_str().unwrap(),
        "--from",
        "2026-10-16",
        "--to",
        "2026-10-17",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let count = |openid: &str| {
        let query = format!(
            "SELECT (SELECT count(*) FROM events WHERE openid = '{openid}') + \
             (SELECT count(*) FROM sessions WHERE openid = '{openid}') + \
             (SELECT count(*) FROM turns WHERE openid = '{openid}') AS n"
        );
        let output = kefu(&["--data", data_arg, "sql", "-e", &query, "--format", "csv"]);
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    assert!(count("oNight") > 0);
    let others = count("oShift");
    assert!(others > 0);

    let output = kefu(&["--data", data_arg, "forget", "oNight"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("events"), "{}", stdout(&output));
    assert_eq!(count("oNight"), 0);
    assert_eq!(count("oShift"), others, "nobody else is touched");
    let audit = std::fs::read_to_string(data.join("audit.jsonl")).unwrap();
    assert!(
        audit.contains("\"command\":\"forget\"") && !audit.contains("oNight"),
        "{audit}"
    );
    // The reports that quoted the user are gone, to be rebuilt.
    for day in ["2026-10-16", "2026-10-17"] {
        let report = dir.path().join("reports").join(day);
        if report.exists() {
            for entry in std::fs::read_dir(&report).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    assert!(!std::fs::read_to_string(&path).unwrap().contains("oNight"));
                }
            }
        }
    }
}

#[test]
fn a_pipeline_may_erase_users_unsubscribed_long_ago_at_the_end_of_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let gen = kefu(&["--data", data_arg, "gen", "--users", "400", "--days", "30"]);
    assert!(gen.status.success(), "{}", stderr(&gen));
    let repo = repo_copy(
        dir.path(),
        &["pipelines", "pipelines/rules", "pipelines/dict"],
    );
    let shipped =
        std::fs::read_to_string(crate::common::repo_file("pipelines/nightly.toml")).unwrap();
    let pipeline = repo.join("pipelines/nightly.toml");
    std::fs::write(
        &pipeline,
        shipped.replace(
            "# forget_unsubscribed_after_days = 30",
            "forget_unsubscribed_after_days = 10",
        ),
    )
    .unwrap();
    // Generated unsubscribes fall in October and November 2026; "10 days ago" is
    // measured from today, so count what should go before running.
    let cutoff = (chrono::Utc::now() - chrono::Duration::days(10)).to_rfc3339();
    let old_unsubscribes = format!(
        "SELECT count(*) FROM events WHERE event = 'unsubscribe' AND ts < TIMESTAMPTZ '{cutoff}'"
    );
    let count = |query: &str| {
        let output = kefu(&["--data", data_arg, "sql", "-e", query, "--format", "csv"]);
        stdout(&output)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    let before = count(&old_unsubscribes);
    let run = kefu(&[
        "--data",
        data_arg,
        "run",
        pipeline.to_str().unwrap(),
        "--date",
        "2026-11-01",
        "--jobs",
        "tags",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(count(&old_unsubscribes), 0);
    if before > 0 {
        assert!(
            stderr(&run).contains("unsubscribed more than 10 days ago"),
            "{}",
            stderr(&run)
        );
        let audit = std::fs::read_to_string(data.join("audit.jsonl")).unwrap();
        assert!(audit.contains(&format!("\"users\":{before}")), "{audit}");
    }
}
