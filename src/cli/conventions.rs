//! `completions` and `man`: generated from the command-line definition itself (clap's own
//! generators), so they can never disagree with what the binary accepts.
//!
//! Both print to standard output, for packagers and for people:
//! `nodeport-watch completions bash > /etc/bash_completion.d/nodeport-watch`,
//! `nodeport-watch man > nodeport-watch.1`.

use std::process::ExitCode;

use clap::{CommandFactory, ValueEnum};
use clap_complete::Shell;
use roff::{Roff, roman};

use super::Cli;
use super::output::Output;

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// The shells the issue asks for, plus the two others clap supports, under their usual names.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    #[value(name = "powershell")]
    PowerShell,
}

impl From<CompletionShell> for Shell {
    fn from(shell: CompletionShell) -> Self {
        match shell {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
            CompletionShell::Elvish => Shell::Elvish,
            CompletionShell::PowerShell => Shell::PowerShell,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {}

/// The binary's name as users type it (completions register under it).
fn command() -> clap::Command {
    Cli::command().bin_name("nodeport-watch")
}

pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(
        Shell::from(args.shell),
        &mut command(),
        "nodeport-watch",
        &mut script,
    );
    Output::stdout().bytes(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// One page, `nodeport-watch(1)`, with every subcommand's options in its own section.
pub fn man(_args: ManArgs) -> anyhow::Result<ExitCode> {
    let command = command();
    let mut page = Vec::new();
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = sub.get_name();
        // roff escapes the text (a leading `.` or a backslash would be read as markup).
        let mut heading = Roff::new();
        heading.control("SH", [name.to_uppercase().as_str()]);
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            heading.control("PP", []).text([roman(about.to_string())]);
        }
        heading.to_writer(&mut page)?;
        let sub_man = clap_mangen::Man::new(sub.clone().bin_name(format!("nodeport-watch {name}")));
        sub_man.render_synopsis_section(&mut page)?;
        sub_man.render_options_section(&mut page)?;
    }
    man.render_version_section(&mut page)?;
    Output::stdout().bytes(&page)?;
    Ok(ExitCode::SUCCESS)
}
