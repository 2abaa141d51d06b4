//! drgen's man page and shell completions, generated from the same clap definitions as the
//! command line itself, so that neither can name a flag the CLI does not have.

use std::fmt::Write as _;
use std::io::Write;

use clap::CommandFactory;
use roff::{bold, italic, roman, Roff};

use crate::cli::{Cli, Shell};

/// The man page, section 1: clap_mangen's page of the top-level command, then one subsection per
/// subcommand with its usage and every argument.
pub fn man(out: &mut dyn Write) -> std::io::Result<()> {
    let mut command = Cli::command();
    command.build();
    let page = clap_mangen::Man::new(command.clone());
    page.render_title(out)?;
    page.render_name_section(out)?;
    page.render_synopsis_section(out)?;
    page.render_description_section(out)?;
    page.render_options_section(out)?;
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS IN DETAIL"]);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        let name = format!("drgen {}", sub.get_name());
        roff.control("SS", [name.as_str()]);
        if let Some(about) = sub.get_about() {
            roff.text([roman(about.to_string())]);
        }
        let usage = sub.clone().bin_name(&name).render_usage().to_string();
        roff.control("PP", []);
        roff.text([roman(usage.trim_start_matches("Usage: ").to_string())]);
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            roff.control("TP", []);
            let mut term = Vec::new();
            if let Some(long) = arg.get_long() {
                term.push(bold(format!("--{long}")));
            }
            let value = arg.get_value_names().map(|v| v.iter().map(ToString::to_string).collect::<Vec<_>>());
            match (arg.get_long(), value) {
                (Some(_), Some(names)) if arg.get_action().takes_values() => {
                    term.push(roman(" "));
                    term.push(italic(names.join(" ")));
                }
                (None, names) => {
                    let shown =
                        names.map_or_else(|| arg.get_id().to_string().to_uppercase(), |n| n.join(" "));
                    term.push(italic(shown));
                }
                _ => {}
            }
            roff.text(term);
            let mut help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let values: Vec<String> =
                arg.get_possible_values().iter().map(|v| v.get_name().to_string()).collect();
            if !values.is_empty() {
                let _ = write!(help, " One of: {}.", values.join(", "));
            }
            roff.text([roman(help)]);
        }
    }
    roff.to_writer(out)?;
    page.render_version_section(out)
}

/// A completion script for the shell.
pub fn completions(shell: Shell, out: &mut dyn Write) {
    let mut command = Cli::command();
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    clap_complete::generate(shell, &mut command, "drgen", out);
}
