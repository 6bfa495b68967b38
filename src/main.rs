//! The `nodeport-watch` binary: parse the command line and hand over to [`nodeport_watch::cli`].

use std::process::ExitCode;

use clap::Parser;
use nodeport_watch::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
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
