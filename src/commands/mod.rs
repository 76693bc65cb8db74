//! The imperative shell: one file per verb, each turning parsed arguments into calls
//! on the library and a short report on stdout.

mod bench;
mod bench_audience;
mod bench_collector;
mod bench_run;
mod bench_sla;
mod bench_text;
mod check;
mod demo;
mod export;
mod forget;
mod gen;
mod import;
mod pull;
mod qa;
mod retention;
mod run;
mod serve;
mod sql;
mod status;
mod tags;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use crate::cli::{Cli, Command};

pub use gen::generate_into;

/// How long a writer waits for another writer's lock before giving up.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// What every command gets besides its own arguments.
pub struct Context {
    pub data: PathBuf,
    /// Progress bars only on a terminal and when not `--quiet`; cron gets plain lines.
    pub progress: bool,
}

impl Context {
    /// `reports/` beside the data folder: where `kefu run` writes reports by default,
    /// and what retention and forget clean.
    pub fn reports_dir(&self) -> PathBuf {
        self.data
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join("reports")
    }
}

pub fn dispatch(cli: Cli) -> Result<()> {
    let cli_data = cli.data.clone();
    let context = Context {
        data: cli.data.clone().unwrap_or_else(|| PathBuf::from("data")),
        progress: !cli.quiet && std::io::stderr().is_terminal(),
    };
    match cli.command {
        Command::Demo(args) => demo::run(&context, &args),
        Command::Gen(args) => gen::run(&context, &args),
        Command::Import(args) => import::run(&context, &args),
        Command::Sql(args) => sql::run(&context, &args),
        Command::Status => status::run(&context),
        Command::Bench(args) => bench::run(&context, &args),
        Command::Serve(args) => serve::run(cli_data.as_deref(), &args),
        Command::Pull(args) => pull::run(&context, &args),
        Command::Run(args) => run::run(&context, &args),
        Command::Qa(command) => qa::run(&context, &command),
        Command::Tags(command) => tags::run(&context, &command),
        Command::Export(command) => export::run(&context, &command),
        Command::Retention(args) => retention::run(&context, &args),
        Command::Forget(args) => forget::run(&context, &args),
        Command::Check(args) => check::run(&context, &args),
    }
}
