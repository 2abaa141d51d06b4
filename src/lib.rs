//! drgen: renders a two-region RDS PostgreSQL disaster-recovery topology as Terraform.
//!
//! Data flows one way: `cli` → `config` → `model` → `render` → `output`.

pub mod calls;
pub mod canonical;
pub mod cli;
mod commands;
pub mod config;
pub mod docs;
pub mod error;
pub mod explain;
pub mod health;
pub mod lambda_zip;
pub mod manpage;
pub mod model;
pub mod naming;
pub mod output;
pub mod package;
pub mod region;
pub mod render;
pub mod rto;
pub mod side;
pub mod starter;
pub mod syntax;

use std::process::ExitCode;

use clap::Parser;

pub use commands::load_model;

/// Parses the command line, runs the command and maps the outcome to an exit code:
/// 0 success, 1 invalid input or differences found by `--check`, 2 usage error.
pub fn run() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match commands::dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            for line in e.to_string().lines() {
                eprintln!("error: {line}");
            }
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(1)
        }
    }
}
