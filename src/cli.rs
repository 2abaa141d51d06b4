//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Renders a two-region RDS PostgreSQL disaster-recovery topology as Terraform.
#[derive(Debug, Parser)]
#[command(
    name = "drgen",
    version,
    propagate_version = true,
    after_help = "Example:\n  drgen render --env-suffix prod"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render the Terraform configuration, the bootstrap root and the Lambda packages.
    #[command(
        after_help = "Examples:\n  drgen render --env-suffix prod\n  drgen render --config drgen.hcl --env-suffix prod --out infra/ --check"
    )]
    Render(RenderArgs),
    /// Run every check on the model and print a summary; write nothing.
    #[command(after_help = "Example:\n  drgen validate --config drgen.hcl --env-suffix prod")]
    Validate(ModelArgs),
    /// Explain the topology: resources per region, RTO budget, RPO, warnings.
    #[command(after_help = "Example:\n  drgen explain --env-suffix prod --format json")]
    Explain(ExplainArgs),
    /// Write a commented starter drgen.hcl listing every setting with its default.
    #[command(after_help = "Example:\n  drgen init infra/drgen.hcl")]
    Init(InitArgs),
    /// Print the JSON Schema of the config file.
    #[command(after_help = "Example:\n  drgen schema > drgen.schema.json")]
    Schema,
    /// Print a shell completion script for drgen.
    #[command(
        after_help = "Example:\n  drgen completions bash > ~/.local/share/bash-completion/completions/drgen"
    )]
    Completions(CompletionsArgs),
    /// Print drgen's man page (roff).
    #[command(after_help = "Example:\n  drgen man > ~/.local/share/man/man1/drgen.1")]
    Man,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Config file (.hcl or .json); without it the defaults are used.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Environment suffix of every resource name; overrides the config's environment_suffix.
    #[arg(long, value_name = "SUFFIX")]
    pub env_suffix: Option<String>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Output directory.
    #[arg(long, value_name = "DIR", default_value = "terraform")]
    pub out: PathBuf,
    /// Compare with the output directory instead of writing; exit 1 when anything differs.
    #[arg(long)]
    pub check: bool,
    /// With --check: print a unified diff of every changed text file (and, for the Lambda
    /// packages, which files inside them differ).
    #[arg(long, requires = "check")]
    pub diff: bool,
    /// root: a root module with its backend and providers; module: a child module that your
    /// root calls with the providers aws.primary and aws.dr (the bootstrap root stays a root).
    #[arg(long, value_enum, default_value = "root")]
    pub layout: Layout,
    /// With --check: how to report the differences (json: one object, for bots).
    #[arg(long, value_enum, default_value = "text", requires = "check")]
    pub format: OutputFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Layout {
    Root,
    Module,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the starter config.
    #[arg(default_value = "drgen.hcl")]
    pub path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}
