//! The `nodeport-watch` binary: parse the command line and hand over to [`nodeport_watch::cli`].

use std::process::ExitCode;

use clap::Parser;
use nodeport_watch::cli::{self, Cli};

/// The most threads tokio may start for blocking work: file reads and stats, SQLite
/// transactions, DNS look-ups. tokio's default (512) let 1,000 idle `file` sources hold over 500
/// threads, because every poll and commit took one for a moment and SQLite's single connection
/// made most of them wait. The work queues instead; 16 keeps a slow file system from starving
/// the rest while staying far below what a pod's thread or memory limits notice.
const BLOCKING_THREADS: usize = 16;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("nodeport-watch: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nodeport-watch: {e:#}");
            ExitCode::FAILURE
        }
    }
}
