//! Property tests over random and mutated configs: drgen never panics; it either refuses the
//! input with messages that name a field, or renders files that parse; the binary exits 0 or 1
//! and never leaves a partial output directory.

use std::process::Command;

use drgen::config::{Config, Format};
use drgen::model::Topology;
use proptest::prelude::*;
use serde_json::{json, Value};

/// Strings that have broken parsers, templates and quoting before.
const NASTY: &[&str] = &[
    "",
    " ",
    "\"",
    "\\",
    "\n",
    "\r\n",
    "\t",
    "${var.x}",
    "%{ if true }",
    "$${x}",
    "%%{x}",
    "}",
    "{",
    "'",
    "`",
    "Ω≈ç√",
    "😀",
    "\u{0}",
    "a\u{202e}b",
    "us-east-1",
    "10.0.0.0/16",
    "10.0.0.1/16",
    "db.r6g.large",
    "prod",
    "-",
    "a--b",
    "x-",
    "python3.9",
    "cron(0 5 * * ? *)",
    "endpoint",
    "cloudwatch",
    "a@b.co",
];

fn nasty() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(NASTY).prop_map(str::to_string),
        "[a-z0-9-]{0,80}",
        "\\PC{0,20}",
        prop::collection::vec(prop::sample::select(NASTY), 0..4).prop_map(|v| v.concat()),
    ]
}

/// Any JSON value, nested up to a few levels.
fn junk() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1.0e12f64..1.0e12).prop_map(Value::from),
        prop::sample::select(vec![0i64, 1, 2, 5, 7, 10, 30, 35, 36, 60, 65, 120, 365, 5432, 65_536, -1])
            .prop_map(Value::from),
        nasty().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(nasty(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every setting's path, from the JSON Schema.
fn paths() -> Vec<String> {
    drgen::starter::settings().into_iter().map(|s| s.path).collect()
}

fn set(root: &mut Value, path: &str, value: Value) {
    let mut node = root;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        if !node.get(*part).is_some_and(Value::is_object) {
            node[*part] = json!({});
        }
        node = node.get_mut(*part).unwrap();
    }
    node[parts[parts.len() - 1]] = value;
}

/// A config: the defaults (as JSON) with up to eight settings replaced by junk, sometimes an
/// unknown key, sometimes entirely junk.
fn config() -> impl Strategy<Value = Value> {
    let mutations = prop::collection::vec((prop::sample::select(paths()), junk()), 0..8);
    prop_oneof![
        8 => (mutations, prop::option::of((nasty(), junk()))).prop_map(|(changes, unknown)| {
            let mut root = serde_json::to_value(Config::default()).unwrap();
            for (path, value) in changes {
                set(&mut root, &path, value);
            }
            if let Some((key, value)) = unknown {
                root[key] = value;
            }
            root
        }),
        1 => junk(),
    ]
}

fn check_problems(problems: &drgen::error::Problems) {
    assert!(!problems.0.is_empty());
    for p in &problems.0 {
        assert!(!p.field.is_empty(), "a problem without a field: {p:?}");
        assert!(!p.message.is_empty());
        assert!(!p.to_string().contains('\n'), "a problem spans lines: {p}");
    }
}

fn exercise(text: &str, format: Format, suffix: &str) {
    let config = match Config::parse(text, format) {
        Ok(c) => c,
        Err(problems) => return check_problems(&problems),
    };
    match Topology::from_config(&config, Some(suffix)) {
        Err(problems) => check_problems(&problems),
        Ok(model) => {
            let files = drgen::render::render(&model);
            for (path, bytes) in &files.files {
                if std::path::Path::new(path).extension().is_some_and(|e| e == "tf") {
                    let text = std::str::from_utf8(bytes).unwrap();
                    hcl::parse(text).unwrap_or_else(|e| panic!("{path} does not parse: {e}"));
                }
            }
        }
    }
}

fn suffix() -> impl Strategy<Value = String> {
    prop_oneof![4 => Just("prod".to_string()), 1 => nasty()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn json_configs_are_refused_with_a_field_or_rendered(value in config(), suffix in suffix()) {
        exercise(&value.to_string(), Format::Json, &suffix);
    }

    #[test]
    fn hcl_configs_are_refused_with_a_field_or_rendered(value in config(), suffix in suffix()) {
        if let Ok(text) = hcl::to_string(&value) {
            exercise(&text, Format::Hcl, &suffix);
        }
    }

    #[test]
    fn arbitrary_text_is_refused_with_a_field(text in "\\PC{0,200}") {
        exercise(&text, Format::Hcl, "prod");
        exercise(&text, Format::Json, "prod");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_binary_exits_0_or_1_and_never_leaves_a_partial_directory(value in config(), suffix in suffix()) {
        // A command line cannot carry a NUL byte.
        prop_assume!(!suffix.contains('\0'));
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("drgen.json");
        std::fs::write(&path, value.to_string()).unwrap();
        let out = tmp.path().join("out");
        let result = Command::new(env!("CARGO_BIN_EXE_drgen"))
            .args(["render", "--config", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--env-suffix"])
            .arg(&suffix)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&result.stderr);
        match result.status.code() {
            Some(0) => prop_assert!(out.join(".drgen-manifest").exists()),
            Some(1) => {
                prop_assert!(!out.exists(), "partial output after: {}", stderr);
                for line in stderr.lines().filter(|l| !l.starts_with("warning: ")) {
                    prop_assert!(line.starts_with("error: ") && line[7..].contains(": "), "{}", line);
                }
            }
            // clap refuses some suffixes (a leading `-` reads as a flag): a usage error.
            Some(2) => prop_assert!(suffix.starts_with('-'), "{}", stderr),
            other => prop_assert!(false, "exit {:?}: {}", other, stderr),
        }
    }
}
