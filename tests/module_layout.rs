//! `render --layout module`: the same topology as a child module. It has no backend and no
//! provider configuration, declares the two aliases, tags every resource that takes tags (the
//! list is checked against the AWS provider schema), keeps the root layout's outputs, and its
//! bootstrap root is the root layout's.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use drgen::config::Config;
use drgen::model::Topology;
use drgen::output::FileSet;
use drgen::render::{render_layout, Layout};

const CONFIGS: [Option<&str>; 7] = [
    None,
    Some("examples/after-failover.hcl"),
    Some("examples/arc-authority.hcl"),
    Some("examples/cloudwatch-health-checks.hcl"),
    Some("examples/eu-regions.hcl"),
    Some("examples/existing-network.hcl"),
    Some("examples/protected.json"),
];

fn model(config: Option<&str>) -> Topology {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = config.map_or_else(Config::default, |p| Config::load(&root.join(p)).unwrap());
    Topology::from_config(&config, Some("prod")).unwrap()
}

fn tf(files: &FileSet) -> Vec<(String, hcl::Body)> {
    files
        .files
        .iter()
        .filter(|(p, _)| Path::new(p).extension().is_some_and(|e| e == "tf") && !p.contains('/'))
        .map(|(p, b)| (p.clone(), hcl::parse(std::str::from_utf8(b).unwrap()).unwrap()))
        .collect()
}

fn resource_types(files: &FileSet) -> BTreeSet<String> {
    tf(files)
        .iter()
        .flat_map(|(_, b)| b.blocks().cloned().collect::<Vec<_>>())
        .filter(|b| b.identifier() == "resource")
        .map(|b| b.labels()[0].as_str().to_string())
        .collect()
}

#[test]
fn the_configs_listed_here_are_every_example() {
    let on_disk = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_file())
        .count();
    assert_eq!(on_disk, CONFIGS.len() - 1);
}

#[test]
fn the_module_has_no_backend_no_provider_and_declares_both_aliases() {
    for config in CONFIGS {
        let files = render_layout(&model(config), Layout::Module);
        for absent in ["backend.tf", "providers.tf", "terraform.tfvars", "backend-dr.hcl"] {
            assert!(!files.files.contains_key(absent), "{config:?}: {absent}");
        }
        for (path, body) in tf(&files) {
            assert!(body.blocks().all(|b| b.identifier() != "provider"), "{config:?}: provider in {path}");
            let text = hcl::to_string(&body).unwrap();
            assert!(!text.contains("backend \"s3\""), "{config:?}: backend in {path}");
        }
        let versions = String::from_utf8(files.files["versions.tf"].clone()).unwrap();
        assert!(versions.contains("configuration_aliases = [aws.primary, aws.dr]"), "{versions}");
        let variables = String::from_utf8(files.files["variables.tf"].clone()).unwrap();
        assert!(
            variables.contains("variable \"environment_suffix\"") && variables.contains("variable \"tags\"")
        );
        let data = String::from_utf8(files.files["data.tf"].clone()).unwrap();
        assert!(data.contains("data \"aws_region\" \"primary\"") && data.contains("postcondition"), "{data}");
    }
}

#[test]
fn every_taggable_resource_is_tagged_and_the_root_layout_is_unchanged() {
    for config in CONFIGS {
        let m = model(config);
        let module = render_layout(&m, Layout::Module);
        let root = render_layout(&m, Layout::Root);
        for (path, body) in tf(&module) {
            for block in body.blocks().filter(|b| b.identifier() == "resource") {
                let kind = block.labels()[0].as_str();
                let tags =
                    block.body().attributes().find(|a| a.key() == "tags").map(|a| a.expr().to_string());
                if drgen::render::TAGGABLE.contains(&kind) {
                    let tags = tags.unwrap_or_else(|| panic!("{config:?}: {path}: {kind} has no tags"));
                    assert!(tags.starts_with("merge(local.drgen_tags, var.tags"), "{kind}: {tags}");
                }
            }
        }
        for (path, body) in tf(&root) {
            let text = hcl::to_string(&body).unwrap();
            assert!(!text.contains("var.tags") && !text.contains("local.drgen_tags"), "{config:?}: {path}");
        }
        assert_eq!(module.files["outputs.tf"], root.files["outputs.tf"], "{config:?}: outputs");
        for (path, bytes) in
            root.files.iter().filter(|(p, _)| p.starts_with("bootstrap/") || p.starts_with("lambda/"))
        {
            assert_eq!(module.files.get(path), Some(bytes), "{config:?}: {path}");
        }
    }
}

/// The provider schema beside the repository (CI lays `../shared` there).
fn schema() -> serde_json::Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/schemas/aws-provider-5.100.0.schema.json.gz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        panic!("{}: {e}; the AWS provider schema must lie beside the repository", path.display())
    });
    let mut text = String::new();
    flate2::read::GzDecoder::new(file).read_to_string(&mut text).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_taggable_list_is_what_the_provider_schema_says_of_every_rendered_type() {
    let schema = schema();
    let resources = schema["provider_schemas"].as_object().unwrap().values().next().unwrap()
        ["resource_schemas"]
        .as_object()
        .unwrap()
        .clone();
    let mut rendered = BTreeSet::new();
    for config in CONFIGS {
        rendered.extend(resource_types(&render_layout(&model(config), Layout::Root)));
    }
    for kind in &rendered {
        let has_tags = resources[kind.as_str()]["block"]["attributes"].get("tags").is_some();
        assert_eq!(
            has_tags,
            drgen::render::TAGGABLE.contains(&kind.as_str()),
            "{kind}: the schema says tags {}",
            if has_tags { "exist" } else { "do not exist" }
        );
    }
    for kind in drgen::render::TAGGABLE {
        assert!(rendered.contains(kind), "{kind} is listed as taggable but never rendered");
    }
}
