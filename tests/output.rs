//! Output safety: drgen never touches files it did not write, a failure at any step leaves
//! either the old output or the new one, `--check` never writes, and unwritable or full
//! destinations give a one-line error and exit 1.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use drgen::config::Config;
use drgen::model::Topology;
use drgen::output::{self, FileSet, Step};

fn render(suffix: &str) -> FileSet {
    drgen::render::render(&Topology::from_config(&Config::default(), Some(suffix)).unwrap())
}

/// Every file under `dir` with its bytes (symlinks as their targets).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return out;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let kind = e.file_type().unwrap();
            let rel = e.path().strip_prefix(dir).unwrap().to_path_buf();
            if kind.is_dir() {
                stack.push(e.path());
            } else if kind.is_symlink() {
                out.insert(rel, fs::read_link(e.path()).unwrap().into_os_string().into_encoded_bytes());
            } else {
                out.insert(rel, fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

fn drgen(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_drgen")).args(args).output().unwrap()
}

fn leftovers(parent: &Path) -> Vec<String> {
    fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".drgen-staging-"))
        .collect()
}

#[test]
fn files_drgen_did_not_write_are_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("terraform");
    output::write(&render("prod"), &out).unwrap();
    fs::write(out.join("notes.md"), "mine").unwrap();
    fs::create_dir_all(out.join(".terraform/providers")).unwrap();
    fs::write(out.join(".terraform/providers/big.bin"), vec![7u8; 4096]).unwrap();
    fs::write(out.join("bootstrap/terraform.tfstate"), "{\"version\": 4}").unwrap();
    std::os::unix::fs::symlink("notes.md", out.join("link")).unwrap();
    let before = snapshot(&out);

    output::write(&render("staging"), &out).unwrap();
    let after = snapshot(&out);
    for path in ["notes.md", ".terraform/providers/big.bin", "bootstrap/terraform.tfstate", "link"] {
        assert_eq!(before[Path::new(path)], after[Path::new(path)], "{path}");
    }
    assert_eq!(
        fs::read_to_string(out.join("terraform.tfvars")).unwrap(),
        "environment_suffix = \"staging\"\n"
    );
    assert!(leftovers(tmp.path()).is_empty());
}

#[test]
fn a_foreign_file_where_drgen_would_write_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("terraform");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("versions.tf"), "# hand-written\n").unwrap();
    let err = output::write(&render("prod"), &out).unwrap_err();
    assert!(err.to_string().contains("was not written by drgen"), "{err}");
    assert_eq!(fs::read_to_string(out.join("versions.tf")).unwrap(), "# hand-written\n");
    assert_eq!(snapshot(&out).len(), 1);
}

#[test]
fn files_drgen_no_longer_renders_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("terraform");
    let mut old = render("prod");
    old.add("obsolete.tf", "locals {}\n");
    output::write(&old, &out).unwrap();
    output::write(&render("prod"), &out).unwrap();
    assert!(!out.join("obsolete.tf").exists());
}

#[test]
fn a_failure_before_the_swap_leaves_the_old_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("terraform");
    output::write(&render("prod"), &out).unwrap();
    let before = snapshot(&out);
    let err = output::write_with(&render("staging"), &out, &mut |step| {
        if step == Step::Staged {
            Err(io::Error::other("killed"))
        } else {
            Ok(())
        }
    })
    .unwrap_err();
    assert!(err.to_string().contains("killed"));
    assert_eq!(snapshot(&out), before);
    assert!(leftovers(tmp.path()).is_empty());
}

#[test]
fn a_failure_after_the_swap_leaves_the_new_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("terraform");
    output::write(&render("prod"), &out).unwrap();
    let _ = output::write_with(&render("staging"), &out, &mut |step| {
        if step == Step::Swapped {
            Err(io::Error::other("killed"))
        } else {
            Ok(())
        }
    });
    let mut expected = render("staging");
    let manifest = fs::read(out.join(output::MANIFEST)).unwrap();
    expected.files.insert(output::MANIFEST.into(), manifest);
    let on_disk: BTreeMap<String, Vec<u8>> =
        snapshot(&out).into_iter().map(|(k, v)| (k.to_string_lossy().into_owned(), v)).collect();
    assert_eq!(on_disk, expected.files);
}

#[test]
fn a_first_render_that_fails_leaves_no_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("terraform");
    let _ = output::write_with(&render("prod"), &out, &mut |_| Err(io::Error::other("killed")));
    assert!(!out.exists());
    assert!(leftovers(tmp.path()).is_empty());
}

#[test]
fn check_never_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("terraform");
    output::write(&render("prod"), &out).unwrap();
    fs::write(out.join("versions.tf"), "changed\n").unwrap();
    fs::remove_file(out.join("kms.tf")).unwrap();
    let before = snapshot(&out);
    let result = drgen(&["render", "--env-suffix", "prod", "--out", out.to_str().unwrap(), "--check"]);
    assert_eq!(result.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(stdout.contains("changed: ") && stdout.contains("versions.tf"), "{stdout}");
    assert!(stdout.contains("missing: ") && stdout.contains("kms.tf"), "{stdout}");
    assert_eq!(snapshot(&out), before);

    output::write(&render("prod"), &out).unwrap();
    let result = drgen(&["render", "--env-suffix", "prod", "--out", out.to_str().unwrap(), "--check"]);
    assert_eq!(result.status.code(), Some(0));
}

fn one_line_error(result: &std::process::Output, text: &str) {
    assert_eq!(result.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: ") && stderr.contains(text), "{stderr}");
}

#[test]
fn an_output_path_that_is_a_file_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("terraform");
    fs::write(&file, "x").unwrap();
    one_line_error(
        &drgen(&["render", "--env-suffix", "prod", "--out", file.to_str().unwrap()]),
        "not a directory",
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn an_output_path_under_a_file_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("file"), "x").unwrap();
    let out = tmp.path().join("file/terraform");
    one_line_error(
        &drgen(&["render", "--env-suffix", "prod", "--out", out.to_str().unwrap()]),
        "Not a directory",
    );
}

/// Runs drgen with its output on a fresh tmpfs mounted with `options`, in a private mount
/// namespace (needs root, as the project's machines run tests).
fn on_tmpfs(options: &str) -> (std::process::Output, bool) {
    let tmp = tempfile::tempdir().unwrap();
    let mount = tmp.path().join("mnt");
    fs::create_dir(&mount).unwrap();
    let script = format!(
        "mount -t tmpfs -o {options} tmpfs {m} && {bin} render --env-suffix prod --out {m}/out; code=$?; \
         if [ -e {m}/out ] || ls -a {m} | grep -q drgen-staging; then echo PARTIAL >&2; fi; exit $code",
        m = mount.display(),
        bin = env!("CARGO_BIN_EXE_drgen"),
    );
    let result = Command::new("unshare").args(["-m", "sh", "-c", &script]).output().unwrap();
    let partial = String::from_utf8_lossy(&result.stderr).contains("PARTIAL");
    (result, partial)
}

#[test]
fn a_full_disk_is_a_one_line_error_and_leaves_nothing() {
    let (result, partial) = on_tmpfs("size=64k");
    one_line_error(&result, "No space left on device");
    assert!(!partial);
}

#[test]
fn a_read_only_destination_is_a_one_line_error() {
    let (result, partial) = on_tmpfs("ro,size=1m");
    one_line_error(&result, "Read-only file system");
    assert!(!partial);
}

#[test]
fn a_render_of_an_identical_output_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out_arg = out.to_str().unwrap();
    assert!(drgen(&["render", "--env-suffix", "prod", "--out", out_arg]).status.success());
    let times = |dir: &Path| -> BTreeMap<PathBuf, std::time::SystemTime> {
        let mut m = BTreeMap::new();
        for path in snapshot(dir).keys() {
            m.insert(path.clone(), fs::metadata(dir.join(path)).unwrap().modified().unwrap());
        }
        m.insert(PathBuf::from("."), fs::metadata(dir).unwrap().modified().unwrap());
        m
    };
    let before = times(&out);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let again = drgen(&["render", "--env-suffix", "prod", "--out", out_arg]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("up to date, nothing written"));
    assert_eq!(times(&out), before, "a no-op render touched files");
    assert!(leftovers(dir.path()).is_empty());
}
