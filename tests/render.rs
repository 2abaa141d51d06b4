//! Every generated file of every example, as insta snapshots; plus parse-back, determinism,
//! and the texts derived from the config type.

use std::path::{Path, PathBuf};

use drgen::config::Config;
use drgen::model::Topology;
use drgen::output::FileSet;

/// The default topology and every config in `examples/`.
fn examples() -> Vec<(String, Option<PathBuf>)> {
    let mut list = vec![("default".to_string(), None)];
    let mut paths: Vec<PathBuf> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hcl" || e == "json"))
        .collect();
    paths.sort();
    for p in paths {
        list.push((p.file_stem().unwrap().to_string_lossy().into_owned(), Some(p)));
    }
    list
}

fn model(config: Option<&Path>) -> Topology {
    let config = config.map_or_else(Config::default, |p| Config::load(p).unwrap());
    Topology::from_config(&config, Some("prod")).unwrap()
}

fn has_extension(path: &str, ext: &str) -> bool {
    Path::new(path).extension().is_some_and(|e| e == ext)
}

fn render(config: Option<&Path>) -> FileSet {
    drgen::render::render(&model(config))
}

#[test]
fn every_generated_file_matches_its_snapshot() {
    let module = ("module-layout".to_string(), None);
    for (name, config) in examples().into_iter().chain([module]) {
        let files = if name == "module-layout" {
            drgen::render::render_layout(&model(None), drgen::render::Layout::Module)
        } else {
            render(config.as_deref())
        };
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path("snapshots/render");
        settings.set_prepend_module_to_snapshot(false);
        settings.bind(|| {
            for (path, bytes) in &files.files {
                let key = format!("{name}__{}", path.replace('/', "__"));
                match std::str::from_utf8(bytes) {
                    Ok(text) => insta::assert_snapshot!(key, text),
                    Err(_) => insta::assert_snapshot!(key, format!("{} bytes, binary", bytes.len())),
                }
            }
        });
    }
}

#[test]
fn every_rendered_file_parses_back() {
    for (name, config) in examples() {
        for (path, bytes) in &render(config.as_deref()).files {
            if has_extension(path, "tf") || has_extension(path, "tfvars") {
                let text = std::str::from_utf8(bytes).unwrap();
                let body: hcl::Body = hcl::parse(text).unwrap_or_else(|e| panic!("{name}/{path}: {e}"));
                assert!(body.iter().next().is_some(), "{name}/{path} is empty");
                assert!(text.ends_with('\n') && !text.ends_with("\n\n"), "{name}/{path}: one final newline");
            }
        }
    }
}

#[test]
fn rendering_is_deterministic() {
    for (name, config) in examples() {
        assert_eq!(render(config.as_deref()), render(config.as_deref()), "{name}");
    }
}

#[test]
fn the_suffix_changes_only_the_suffix_bearing_files() {
    let config = Config::default();
    let a = drgen::render::render(&Topology::from_config(&config, Some("prod")).unwrap());
    let b = drgen::render::render(&Topology::from_config(&config, Some("staging")).unwrap());
    let differing: Vec<&String> = a.files.keys().filter(|k| a.files[*k] != b.files[*k]).collect();
    assert!(
        differing.iter().all(|k| k.ends_with("terraform.tfvars")
            || k.ends_with("backend.tf")
            || k.ends_with("backend-dr.hcl")
            || k.ends_with("README.md")
            || k.ends_with("RUNBOOK.md")),
        "{differing:?}"
    );
}

#[test]
fn every_resource_in_the_main_root_names_its_provider() {
    for (name, config) in examples() {
        for (path, bytes) in &render(config.as_deref()).files {
            if !has_extension(path, "tf") {
                continue;
            }
            let body: hcl::Body = hcl::parse(std::str::from_utf8(bytes).unwrap()).unwrap();
            for block in body.blocks().filter(|b| b.identifier() == "resource" || b.identifier() == "data") {
                let provider = block.body().attributes().find(|a| a.key() == "provider");
                assert!(provider.is_some(), "{name}/{path}: {:?} has no provider", block.labels());
            }
        }
    }
}

#[test]
fn the_json_schema_matches_its_snapshot() {
    insta::assert_snapshot!("config_schema", drgen::starter::schema_json());
}

#[test]
fn the_starter_config_matches_its_snapshot_and_parses_to_the_defaults() {
    let text = drgen::starter::starter_hcl();
    insta::assert_snapshot!("starter_drgen_hcl", text);
    let parsed = Config::parse(&text, drgen::config::Format::Hcl).unwrap();
    assert_eq!(parsed, Config::default());
}

#[test]
fn the_readme_config_reference_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let begin = "<!-- config-reference:begin -->\n";
    let end = "<!-- config-reference:end -->";
    let start = readme.find(begin).expect("README.md has the config reference markers") + begin.len();
    let stop = readme.find(end).unwrap();
    let fresh = drgen::starter::reference_markdown();
    if std::env::var_os("DRGEN_BLESS").is_some() {
        std::fs::write(&path, format!("{}{fresh}{}", &readme[..start], &readme[stop..])).unwrap();
        return;
    }
    assert_eq!(
        &readme[start..stop],
        fresh,
        "README.md's config reference is stale: run DRGEN_BLESS=1 cargo test --test render"
    );
}
