//! The command line: clap types only. Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::sql::OutputFormat;

/// kefu turns the customer-service conversations of a WeChat Official Account (公众号)
/// into nightly reports, QA flags on bad agent replies, and user tags pushed back to WeChat.
///
/// Start with `kefu demo`: it generates a sample month and shows what kefu makes of it.
#[derive(Debug, Parser)]
#[command(name = "kefu", version, max_term_width = 100)]
pub struct Cli {
    /// The dataset folder [default: the pipeline file's `data`, else ./data]
    #[arg(long, global = true, env = "KEFU_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// More log detail on stderr (-v info, -vv debug); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr; no progress bars
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a realistic sample month into a fresh folder, run the jobs, and show the results
    Demo(DemoArgs),
    /// Generate realistic synthetic conversations, with the ground truth of what was planted
    Gen(GenArgs),
    /// Import JSON Lines or WeChat callback XML files (or folders of them) into the store
    Import(ImportArgs),
    /// Run the WeChat callback collector (the 公众号's server URL)
    Serve(ServeArgs),
    /// Pull customer-service chat records (agent replies included) from WeChat's
    /// msgrecord API into the store; needs KEFU_WECHAT_APPID and KEFU_WECHAT_SECRET
    Pull(PullArgs),
    /// Run the pipeline's jobs and the report for a day or a range
    Run(RunArgs),
    /// Explain one reply, or backtest a changed rule file over history
    #[command(subcommand)]
    Qa(QaCommand),
    /// Query the dataset with DuckDB (views: events, tokens, qa_flags, sessions, turns, …)
    Sql(SqlArgs),
    /// Sync kefu's tags to WeChat
    #[command(subcommand)]
    Tags(TagsCommand),
    /// Export a tag's users as Excel-friendly CSV
    #[command(subcommand)]
    Export(ExportCommand),
    /// Delete partitions older than the retention period
    Retention(RetentionArgs),
    /// Erase users from every table
    Forget(ForgetArgs),
    /// Validate a pipeline file, its rules, dictionaries and SQL, reporting every problem
    Check(CheckArgs),
    /// Show what the dataset holds: partitions, rows, last write, last run, pull and push, quarantine
    Status,
    /// Measure throughput and memory (same build as everything else)
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to put the demo dataset; replaced if it already holds an earlier demo
    #[arg(long, value_name = "DIR", default_value = "kefu-demo")]
    pub out: PathBuf,
    /// Number of users in the sample month
    #[arg(long, default_value_t = 2000)]
    pub users: u32,
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Number of days to generate
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Number of users who talk to the account
    #[arg(long, default_value_t = 2000)]
    pub users: u32,
    /// Random seed: the same seed gives the same data
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// First local day of the data
    #[arg(long, value_name = "YYYY-MM-DD", default_value = "2026-10-12")]
    pub start: chrono::NaiveDate,
    /// Share of human agent replies that are bad (promise, rude, absolute, privacy, deflection)
    #[arg(long, default_value_t = 0.03)]
    pub bad_reply_share: f64,
    /// Share of human agent replies that look bad but are fine (negated promises, masked numbers…)
    #[arg(long, default_value_t = 0.03)]
    pub hard_negative_share: f64,
    /// Time zone of a new dataset (IANA name); an existing dataset keeps its own
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// JSON Lines files, WeChat callback XML files, or folders holding them
    #[arg(required = true, value_name = "FILE|DIR")]
    pub inputs: Vec<PathBuf>,
    /// Time zone of a new dataset (IANA name); an existing dataset keeps its own
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
    /// Lines parsed and stored per step (memory is bounded by this, not by file size)
    #[arg(long, default_value_t = 50_000, hide = true)]
    pub batch_lines: usize,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The collector's config file (listen, path, token, encoding_aes_key, …)
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// First local day to pull
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: chrono::NaiveDate,
    /// Last local day to pull (inclusive)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: chrono::NaiveDate,
    /// Pull again the days an earlier pull completed (by default they are skipped;
    /// an interrupted day resumes where it stopped either way)
    #[arg(long)]
    pub refresh: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline file (pipelines/nightly.toml is the documented default)
    pub pipeline: PathBuf,
    /// The one day to run
    #[arg(long, value_name = "YYYY-MM-DD", conflicts_with_all = ["from", "to"])]
    pub date: Option<chrono::NaiveDate>,
    /// First day of a range
    #[arg(long, value_name = "YYYY-MM-DD", requires = "to")]
    pub from: Option<chrono::NaiveDate>,
    /// Last day of a range (inclusive)
    #[arg(long, value_name = "YYYY-MM-DD", requires = "from")]
    pub to: Option<chrono::NaiveDate>,
    /// The data end for censoring (RFC 3339); default: the latest event in the dataset
    #[arg(long, value_name = "TS")]
    pub as_of: Option<String>,
    /// Only these jobs, in pipeline order: segment, qa, sla, topics, tags (topics reads
    /// the words segment wrote for its days, and says so if they are missing)
    #[arg(long, value_delimiter = ',', value_name = "JOB,…")]
    pub jobs: Vec<String>,
    /// Where the report goes [default: reports/ beside the data]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum QaCommand {
    /// Explain what the QA rules make of one reply: the normalised text, its tokens,
    /// every match, the negations and quotations that cancelled one, and the verdict
    Check {
        /// The reply text, as the agent wrote it
        text: String,
        /// The rule file [default: pipelines/rules/qa.toml if present, else the built-in rules]
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
        /// Check it as a reply from this role
        #[arg(long, default_value = "agent", value_parser = ["agent", "bot"])]
        role: String,
    },
    /// Run a changed rule file over stored replies and print what it would flag that
    /// the current rules do not, and the other way round; nothing is written
    Backtest {
        /// The rule file to try
        rules: PathBuf,
        #[arg(long, value_name = "YYYY-MM-DD")]
        from: chrono::NaiveDate,
        #[arg(long, value_name = "YYYY-MM-DD")]
        to: chrono::NaiveDate,
        /// The rules to compare against [default: pipelines/rules/qa.toml if present, else the built-in rules]
        #[arg(long, value_name = "FILE")]
        current: Option<PathBuf>,
        /// Show at most this many differing flags per side
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// A SQL file to run (one statement)
    #[arg(
        value_name = "FILE.sql",
        required_unless_present = "execute",
        conflicts_with = "execute"
    )]
    pub file: Option<PathBuf>,
    /// A query to run instead of a file
    #[arg(short = 'e', long = "execute", value_name = "QUERY")]
    pub execute: Option<String>,
    /// The day the `sql/day_*.sql` queries read, as `getvariable('report_date')`
    /// [default: the latest day with events]
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<chrono::NaiveDate>,
    /// How to print the result
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum TagsCommand {
    /// Explain what the tag rules make of user messages: each tag a phrase points at,
    /// and whether it is earned or why not (negated, past, someone else's, asked for
    /// someone else), and whether the message opts the user out
    Check {
        /// User messages, as written
        #[arg(required = true)]
        texts: Vec<String>,
        /// The tag rule file [default: pipelines/rules/tags.toml if present, else the built-in rules]
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
    },
    /// Make WeChat's tags match kefu's tags snapshot for a day: create the tags kefu
    /// manages, tag new users, untag lapsed ones (expired, opted out, forgotten). Tags
    /// kefu did not create are never touched. Without --apply, print the plan only;
    /// with it, every call is logged in data/push_log/ and a rerun repeats nothing
    /// that succeeded. Needs KEFU_WECHAT_APPID and KEFU_WECHAT_SECRET with --apply
    Push {
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: chrono::NaiveDate,
        /// Make the calls; without it, print the plan only
        #[arg(long)]
        apply: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// One tag's users as Excel-friendly CSV (UTF-8 with BOM), or Parquet when FILE
    /// ends in .parquet: openid, tag, first_seen, last_seen and the evidence message
    /// with phone, ID and card numbers masked
    Tag {
        /// The tag name, e.g. 敏感肌
        tag: String,
        /// Where to write [default: stdout, as CSV]
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The snapshot to export [default: the latest the tags job wrote]
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<chrono::NaiveDate>,
    },
}

#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// How long to keep partitions, e.g. 180d
    #[arg(long, value_name = "DAYS")]
    pub keep: String,
}

#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// The openids to erase
    #[arg(required = true)]
    pub openids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The pipeline file to validate
    pub pipeline: PathBuf,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Events to generate, write and import
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Scratch folder for the benchmark's datasets [default: a temporary folder]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Benchmark the callback collector instead: a load client against `kefu serve` on
    /// loopback, safe mode, write-ahead log with fsync on
    #[arg(long, conflicts_with = "text")]
    pub collector: bool,
    /// Benchmark the text jobs instead: normalise + segment + qa over the generated
    /// events' messages against bare jieba-rs `cut` of the same text, on all cores
    #[arg(long)]
    pub text: bool,
    /// Benchmark the sla job instead: generate the events into a dataset, then run
    /// the job over every day in a child process and report its time and peak memory
    #[arg(long, conflicts_with_all = ["text", "collector"])]
    pub sla: bool,
    /// Benchmark the audience jobs instead: generate the events into a dataset, segment
    /// it, then time the topics job and the tags job over every day
    #[arg(long, conflicts_with_all = ["text", "collector", "sla"])]
    pub audience: bool,
    /// Benchmark the whole night instead: `kefu run pipelines/nightly.toml` over every
    /// day of a generated dataset (all jobs and the reports) in a child process; wall
    /// time per job and in total, and peak memory. Run from the repository
    #[arg(long, conflicts_with_all = ["text", "collector", "sla", "audience"])]
    pub run: bool,
    /// With --sla: only run the job over the dataset given with --data (used by the
    /// benchmark's child process; also handy to time a real dataset)
    #[arg(long, requires = "sla", hide = true)]
    pub job_only: bool,
    /// Rounds of the text benchmark; the median round is reported
    #[arg(long, default_value_t = 3, requires = "text")]
    pub rounds: usize,
    /// Callbacks the collector benchmark sends
    #[arg(long, default_value_t = 50_000, requires = "collector")]
    pub requests: u64,
    /// Requests in flight at once in the collector benchmark
    #[arg(long, default_value_t = 64, requires = "collector")]
    pub concurrency: usize,
}
