//! The man page and every shell's completion script name every subcommand and every flag of the
//! CLI, because all three come from the same clap definitions.

use clap::CommandFactory;
use drgen::cli::{Cli, Shell};

/// (subcommand, its long flags) of the CLI as clap defines it.
fn surface() -> Vec<(String, Vec<String>)> {
    let mut command = Cli::command();
    command.build();
    command
        .get_subcommands()
        .filter(|s| s.get_name() != "help")
        .map(|s| {
            let flags = s
                .get_arguments()
                .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                .filter(|f| f != "--help" && f != "--version")
                .collect();
            (s.get_name().to_string(), flags)
        })
        .collect()
}

fn man_text() -> String {
    let mut out = Vec::new();
    drgen::manpage::man(&mut out).unwrap();
    // roff escapes the hyphen.
    String::from_utf8(out).unwrap().replace("\\-", "-")
}

#[test]
fn the_surface_is_not_empty() {
    let s = surface();
    assert!(s.len() >= 7, "{s:?}");
    assert!(s.iter().any(|(name, flags)| name == "render" && flags.contains(&"--check".to_string())));
}

#[test]
fn the_man_page_names_every_subcommand_and_flag() {
    let man = man_text();
    for (sub, flags) in surface() {
        let heading = format!(".SS \"drgen {sub}\"");
        let start = man.find(&heading).unwrap_or_else(|| panic!("no section for {sub}"));
        let section = &man[start..];
        let end = section[heading.len()..].find(".SS").map_or(section.len(), |e| e + heading.len());
        let section = &section[..end];
        for flag in flags {
            assert!(section.contains(&format!("\\fB{flag}\\fR")), "man: drgen {sub} {flag}");
        }
    }
}

#[test]
fn every_completion_script_names_every_subcommand_and_flag() {
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::Powershell] {
        let mut out = Vec::new();
        drgen::manpage::completions(shell, &mut out);
        let script = String::from_utf8(out).unwrap();
        for (sub, flags) in surface() {
            assert!(script.contains(&sub), "{shell:?}: {sub}");
            for flag in flags {
                // fish names long flags without their dashes (`-l check`).
                let bare = flag.trim_start_matches("--");
                assert!(
                    script.contains(&flag) || script.contains(&format!("-l {bare}")),
                    "{shell:?}: drgen {sub} {flag}"
                );
            }
        }
    }
}
