//! The subcommands.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::{Command, ExplainArgs, InitArgs, ModelArgs, RenderArgs};
use crate::config::Config;
use crate::model::Topology;
use crate::{explain, output, render, starter};

/// Reads the config (or the defaults) and builds the validated model.
pub fn load_model(args: &ModelArgs) -> Result<Topology, crate::error::Problems> {
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    Topology::from_config(&config, args.env_suffix.as_deref())
}

pub fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Render(args) => render_command(&args),
        Command::Validate(args) => validate(&args),
        Command::Explain(args) => explain_command(&args),
        Command::Init(args) => init(&args),
        Command::Schema => {
            println!("{}", starter::schema_json());
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions(args) => {
            crate::manpage::completions(args.shell, &mut std::io::stdout().lock());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            crate::manpage::man(&mut std::io::stdout().lock()).context("writing the man page")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn warn(model: &Topology) {
    for w in &model.warnings {
        eprintln!("warning: {w}");
    }
}

fn render_command(args: &RenderArgs) -> Result<ExitCode> {
    let model = load_model(&args.model)?;
    warn(&model);
    let layout = match args.layout {
        crate::cli::Layout::Root => render::Layout::Root,
        crate::cli::Layout::Module => render::Layout::Module,
    };
    let files = render::render_layout(&model, layout);
    let diff = output::compare(&files, &args.out)?;
    if args.check && matches!(args.format, crate::cli::OutputFormat::Json) {
        let report = check_report(args, &files, &diff)?;
        println!("{report}");
        return Ok(if diff.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    if args.check {
        if diff.is_empty() {
            println!("{}: up to date ({} files)", args.out.display(), files.files.len());
            return Ok(ExitCode::SUCCESS);
        }
        let mut out = std::io::stdout().lock();
        for (what, list) in [("changed", &diff.changed), ("missing", &diff.missing), ("stale", &diff.stale)] {
            for path in list {
                writeln!(out, "{what}: {}", args.out.join(path).display())?;
                if args.diff && what == "changed" {
                    write!(out, "{}", output::file_diff(&args.out, path, &files.files[path])?)?;
                }
            }
        }
        writeln!(out, "{}: out of date; run drgen render without --check", args.out.display())?;
        return Ok(ExitCode::from(1));
    }
    if output::up_to_date(&files, &args.out)? {
        println!("{}: up to date, nothing written ({} files)", args.out.display(), files.files.len());
        return Ok(ExitCode::SUCCESS);
    }
    output::write(&files, &args.out)?;
    let changed = diff.changed.len() + diff.missing.len();
    let removed =
        if diff.stale.is_empty() { String::new() } else { format!(", {} removed", diff.stale.len()) };
    println!(
        "wrote {} files ({changed} changed, {} unchanged{removed}) to {}",
        files.files.len(),
        files.files.len() - changed,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `render --check --format json`: one object with every changed, missing and stale file and,
/// with `--diff`, each changed file's unified diff. The schema is in README.md.
fn check_report(args: &RenderArgs, files: &output::FileSet, diff: &output::Differences) -> Result<String> {
    let path = |p: &String| serde_json::Value::String(args.out.join(p).display().to_string());
    let mut changed = Vec::new();
    for p in &diff.changed {
        let mut entry = serde_json::Map::new();
        entry.insert("path".into(), path(p));
        if args.diff {
            entry.insert("diff".into(), output::file_diff(&args.out, p, &files.files[p])?.into());
        }
        changed.push(serde_json::Value::Object(entry));
    }
    let report = serde_json::json!({
        "version": 1,
        "out": args.out.display().to_string(),
        "up_to_date": diff.is_empty(),
        "files": files.files.len(),
        "changed": changed,
        "missing": diff.missing.iter().map(path).collect::<Vec<_>>(),
        "stale": diff.stale.iter().map(path).collect::<Vec<_>>(),
    });
    Ok(serde_json::to_string_pretty(&report)?)
}

fn validate(args: &ModelArgs) -> Result<ExitCode> {
    let model = load_model(args)?;
    warn(&model);
    let files = render::render(&model);
    let e = explain::Explanation::new(&model, &files);
    println!(
        "ok: {} ({} -> {}), {} files, {} resources",
        model.names.regional(crate::model::Side::Primary).with_suffix(model.suffix.as_str()),
        model.primary.region,
        model.dr.region,
        files.files.len(),
        e.total_resources(),
    );
    println!(
        "dns reroute: {} s worst case ({}), target {} s",
        model.rto.reroute_seconds(),
        model.rto.reroute_formula(),
        model.rto_target_seconds
    );
    println!(
        "promotion starts: within {} s while the primary region speaks ({}); within {} s once it is silent ({}), target {} s",
        model.rto.long_path_seconds(),
        model.rto.long_path_formula(),
        model.rto.short_path_seconds(),
        model.rto.short_path_formula(),
        model.rto_target_seconds
    );
    Ok(ExitCode::SUCCESS)
}

fn explain_command(args: &ExplainArgs) -> Result<ExitCode> {
    let model = load_model(&args.model)?;
    let files = render::render(&model);
    let e = explain::Explanation::new(&model, &files);
    match args.format {
        crate::cli::OutputFormat::Text => print!("{}", e.text()),
        crate::cli::OutputFormat::Json => println!("{}", e.json()),
    }
    Ok(ExitCode::SUCCESS)
}

fn init(args: &InitArgs) -> Result<ExitCode> {
    if args.path.exists() && !args.force {
        anyhow::bail!("{}: already exists; pass --force to overwrite it", args.path.display());
    }
    let text = starter::starter_hcl();
    let dir = match args.path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("{}: cannot create the directory", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("{}: cannot write here", dir.display()))?;
    tmp.write_all(text.as_bytes()).with_context(|| format!("{}", args.path.display()))?;
    tmp.persist(&args.path).with_context(|| format!("{}", args.path.display()))?;
    println!("wrote {}", args.path.display());
    Ok(ExitCode::SUCCESS)
}
