//! The rendered file set, and how it reaches the disk.
//!
//! Writing is atomic at the directory level: the new output is assembled in a sibling staging
//! directory (files drgen did not write are hard-linked into it unchanged), and then swapped
//! with the old directory in one `renameat2(RENAME_EXCHANGE)`. A crash before the swap leaves
//! the old output, after it the new one. drgen never overwrites or deletes a file that its
//! manifest does not list.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::OutputError;

/// The file listing what drgen wrote, relative to the output directory.
pub const MANIFEST: &str = ".drgen-manifest";

/// The steps of a write, for tests that inject a failure between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Staged,
    Swapped,
}

/// Rendered files: relative path to bytes, in a stable order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FileSet {
    pub files: BTreeMap<String, Vec<u8>>,
}

impl FileSet {
    pub fn add(&mut self, path: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        let path = path.into();
        let previous = self.files.insert(path.clone(), bytes.into());
        assert!(previous.is_none(), "{path} rendered twice");
    }

    fn manifest(&self) -> Vec<u8> {
        let mut text =
            String::from("# Files written by drgen. drgen replaces exactly these and nothing else.\n");
        for path in self.files.keys() {
            text.push_str(path);
            text.push('\n');
        }
        text.into_bytes()
    }
}

/// What `--check` found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Differences {
    pub changed: Vec<String>,
    pub missing: Vec<String>,
    pub stale: Vec<String>,
}

impl Differences {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.stale.is_empty()
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OutputError + '_ {
    move |error| OutputError::Io { path: path.display().to_string(), error }
}

/// The files the manifest in `dir` lists (empty when there is none).
fn read_manifest(dir: &Path) -> Result<BTreeSet<String>, OutputError> {
    let path = dir.join(MANIFEST);
    match fs::read_to_string(&path) {
        Ok(text) => {
            Ok(text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).map(str::to_string).collect())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(io_err(&path)(e)),
    }
}

fn check_dir(out: &Path) -> Result<bool, OutputError> {
    match fs::symlink_metadata(out) {
        Ok(m) if m.is_dir() => Ok(true),
        Ok(_) => Err(OutputError::NotADirectory { path: out.display().to_string() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(out)(e)),
    }
}

/// Whether `out` already holds exactly this rendering, manifest included: a render then writes
/// nothing and leaves every modification time alone.
pub fn up_to_date(files: &FileSet, out: &Path) -> Result<bool, OutputError> {
    if !compare(files, out)?.is_empty() {
        return Ok(false);
    }
    match fs::read(out.join(MANIFEST)) {
        Ok(bytes) => Ok(bytes == files.manifest()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(&out.join(MANIFEST))(e)),
    }
}

/// A unified diff of one changed file, or for a zip the entries that differ.
pub fn file_diff(out: &Path, path: &str, new: &[u8]) -> Result<String, OutputError> {
    let on_disk = fs::read(out.join(path)).map_err(io_err(&out.join(path)))?;
    let old_name = format!("a/{path}");
    let new_name = format!("b/{path}");
    if std::path::Path::new(path).extension().is_some_and(|e| e == "zip") {
        return Ok(zip_diff(path, &on_disk, new));
    }
    match (std::str::from_utf8(&on_disk), std::str::from_utf8(new)) {
        (Ok(old), Ok(new)) => Ok(similar::TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(3)
            .header(&old_name, &new_name)
            .to_string()),
        _ => Ok(format!("Binary files {old_name} and {new_name} differ\n")),
    }
}

fn zip_diff(path: &str, old: &[u8], new: &[u8]) -> String {
    let (Some(old), Some(new)) = (crate::lambda_zip::entries(old), crate::lambda_zip::entries(new)) else {
        return format!("{path}: not a readable zip on disk\n");
    };
    let mut text = String::new();
    for name in old.keys().chain(new.keys()).collect::<BTreeSet<_>>() {
        let what = match (old.get(name), new.get(name)) {
            (Some(a), Some(b)) if a == b => continue,
            (Some(_), Some(_)) => "differs",
            (None, Some(_)) => "added",
            _ => "removed",
        };
        let _ = writeln!(text, "{path}: {name} {what}");
    }
    text
}

/// Compares the rendering with `out` without writing anything.
pub fn compare(files: &FileSet, out: &Path) -> Result<Differences, OutputError> {
    let mut diff = Differences::default();
    let exists = check_dir(out)?;
    let previous = if exists { read_manifest(out)? } else { BTreeSet::new() };
    for (path, bytes) in &files.files {
        match fs::read(out.join(path)) {
            Ok(on_disk) if &on_disk == bytes => {}
            Ok(_) => diff.changed.push(path.clone()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => diff.missing.push(path.clone()),
            Err(e) => return Err(io_err(&out.join(path))(e)),
        }
    }
    diff.stale = previous.into_iter().filter(|p| !files.files.contains_key(p)).collect();
    Ok(diff)
}

/// Writes the file set to `out` atomically.
pub fn write(files: &FileSet, out: &Path) -> Result<(), OutputError> {
    write_with(files, out, &mut |_| Ok(()))
}

/// `write`, calling `after` at each step; an error from it aborts the write there.
pub fn write_with(
    files: &FileSet,
    out: &Path,
    after: &mut dyn FnMut(Step) -> io::Result<()>,
) -> Result<(), OutputError> {
    let exists = check_dir(out)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let previous = if exists { read_manifest(out)? } else { BTreeSet::new() };
    if exists {
        refuse_foreign(files, out, &previous)?;
    } else {
        fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    }

    let staging =
        tempfile::Builder::new().prefix(".drgen-staging-").tempdir_in(&parent).map_err(io_err(&parent))?;
    let stage = staging.path();
    if exists {
        link_foreign(out, stage, Path::new(""), &previous, files)?;
    }
    for (rel, bytes) in
        files.files.iter().map(|(p, b)| (p.as_str(), b.as_slice())).chain([(MANIFEST, &files.manifest()[..])])
    {
        let path = stage.join(rel);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        // No fsync: the swap is atomic against a crash or kill of drgen, which is what the
        // output needs; it can always be rendered again.
        fs::write(&path, bytes).map_err(io_err(&path))?;
    }
    after(Step::Staged).map_err(io_err(stage))?;

    if exists {
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            stage,
            rustix::fs::CWD,
            out,
            rustix::fs::RenameFlags::EXCHANGE,
        )
        .map_err(|e| io_err(out)(e.into()))?;
        // `staging` now holds the old output and is removed when it drops.
    } else {
        let stage = staging.keep();
        fs::rename(&stage, out).map_err(io_err(out))?;
    }
    after(Step::Swapped).map_err(io_err(out))?;
    Ok(())
}

/// Refuses to replace a file that exists in `out` but that drgen's manifest does not list.
fn refuse_foreign(files: &FileSet, out: &Path, previous: &BTreeSet<String>) -> Result<(), OutputError> {
    for path in files.files.keys().map(String::as_str).chain([MANIFEST]) {
        let target = out.join(path);
        let listed = previous.contains(path) || (path == MANIFEST && !previous.is_empty());
        if !listed && fs::symlink_metadata(&target).is_ok() {
            return Err(OutputError::Foreign { path: target.display().to_string() });
        }
    }
    Ok(())
}

/// Hard-links (or re-creates, for symlinks) every entry of `out` that drgen did not write into
/// the staging directory, so the swap keeps it as it was.
fn link_foreign(
    out: &Path,
    stage: &Path,
    rel: &Path,
    previous: &BTreeSet<String>,
    files: &FileSet,
) -> Result<(), OutputError> {
    let dir = out.join(rel);
    for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
        let entry = entry.map_err(io_err(&dir))?;
        let rel_path = rel.join(entry.file_name());
        let key = rel_path.to_string_lossy().replace('\\', "/");
        let from = entry.path();
        let to = stage.join(&rel_path);
        let kind = entry.file_type().map_err(io_err(&from))?;
        if kind.is_dir() {
            fs::create_dir_all(&to).map_err(io_err(&to))?;
            link_foreign(out, stage, &rel_path, previous, files)?;
        } else if key == MANIFEST || previous.contains(&key) {
            // drgen's own file: replaced by the new rendering, or dropped when no longer rendered.
        } else if kind.is_symlink() {
            let target = fs::read_link(&from).map_err(io_err(&from))?;
            std::os::unix::fs::symlink(target, &to).map_err(io_err(&to))?;
        } else if !files.files.contains_key(&key) {
            fs::hard_link(&from, &to).map_err(io_err(&to))?;
        }
    }
    Ok(())
}
