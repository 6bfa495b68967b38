//! `completions`, `man` and `config-schema`: generated from the definitions the binary itself
//! uses (clap's command line, the configuration file's serde mirror through schemars), so they
//! can never disagree with what it accepts.
//!
//! All print to standard output, for packagers, editors and people:
//! `nodeport-watch completions bash > /etc/bash_completion.d/nodeport-watch`,
//! `nodeport-watch man > nodeport-watch.1`,
//! `nodeport-watch config-schema > nodeport-watch.schema.json`.

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

#[derive(Debug, clap::Args)]
pub struct ConfigSchemaArgs {}

/// The JSON Schema (draft 2020-12) of the configuration file, for editors' TOML plugins
/// (Taplo, Even Better TOML): key names, types, allowed `type` values, unknown keys refused.
/// What only `validate` can judge (a duration's text, a file that must exist) is left to it.
pub fn config_schema(_args: ConfigSchemaArgs) -> anyhow::Result<ExitCode> {
    let mut schema = schemars::schema_for!(crate::config::RawConfig);
    schema.insert(
        "title".to_owned(),
        "nodeport-watch configuration file".into(),
    );
    let mut text = serde_json::to_vec_pretty(&schema)?;
    text.push(b'\n');
    Output::stdout().bytes(&text)?;
    Ok(ExitCode::SUCCESS)
}

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
