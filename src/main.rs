use clap::Parser;
use tracing_subscriber::EnvFilter;

use kefu::cli::Cli;
use kefu::error::{exit_code, exit_code_for};

/// mimalloc for the whole binary: the text jobs make millions of small allocations
/// from rayon workers, where glibc's allocator showed as a fifth of the profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = Cli::parse();
    // A long-running server's operator wants its roll and replay lines; a one-shot
    // command's user wants only problems.
    let serving = matches!(cli.command, kefu::cli::Command::Serve(_));
    let default_level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) if serving => "info",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("kefu={default_level},warn")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();

    match kefu::commands::dispatch(cli) {
        Ok(()) => std::process::exit(exit_code::OK),
        Err(err) => {
            eprintln!("kefu: {err:#}");
            std::process::exit(exit_code_for(&err));
        }
    }
}
