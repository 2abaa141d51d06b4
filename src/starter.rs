//! Texts derived from the config type: its JSON Schema, the commented starter `drgen.hcl`,
//! and the config reference in README.md. All three come from the same doc comments and
//! defaults, so they cannot drift apart.

use std::fmt::Write;

use serde_json::{Map, Value};

use crate::canonical;
use crate::config::Config;

/// The JSON Schema of the config file.
pub fn schema() -> Value {
    serde_json::to_value(schemars::schema_for!(Config)).expect("schema serialises")
}

pub fn schema_json() -> String {
    serde_json::to_string_pretty(&schema()).expect("schema serialises")
}

/// Examples for settings that have no default value.
fn example(path: &str) -> Option<&'static str> {
    match path {
        "environment_suffix" => Some("environment_suffix = \"prod\""),
        "state.bucket" => Some("bucket = \"trading-db-tfstate-prod-123456789012\""),
        // Derived settings: the value shown is what the defaults derive.
        "primary.availability_zones" => Some("availability_zones = [\"us-east-1a\", \"us-east-1b\", \"us-east-1c\"]"),
        "dr.availability_zones" => Some("availability_zones = [\"us-west-2a\", \"us-west-2b\", \"us-west-2c\"]"),
        "primary.client_cidrs" => Some("client_cidrs = [\"10.0.0.0/16\"]"),
        "dr.client_cidrs" => Some("client_cidrs = [\"10.1.0.0/16\"]"),
        "dns.zone_name" => Some("zone_name = \"trading-db-prod.internal\""),
        "failover.observer_reserved_concurrency" => Some("observer_reserved_concurrency = 5"),
        "failover.arc" => Some("arc {\n  lease_seconds = 30\n}"),
        "primary.existing_network" | "dr.existing_network" => Some(
            "existing_network {\n  vpc_id          = \"vpc-0123456789abcdef0\"\n  subnet_ids      = [\"subnet-0123456789abcdef0\", \"subnet-0123456789abcdef1\"]\n  route_table_ids = [\"rtb-0123456789abcdef0\"]\n}",
        ),
        _ => None,
    }
}

/// One setting of the schema, flattened: dotted path, description, default value, and
/// whether it is a nested block.
pub struct Setting {
    pub path: String,
    pub description: String,
    pub default: Value,
    pub block: bool,
}

/// Every setting in declaration order.
pub fn settings() -> Vec<Setting> {
    let schema = schema();
    let defaults = serde_json::to_value(Config::default()).expect("defaults serialise");
    let mut out = Vec::new();
    walk(&schema, &schema, &defaults, "", &mut out);
    out
}

fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or_default();
        return &root["$defs"][name];
    }
    if let Some(any) = node.get("anyOf").and_then(Value::as_array) {
        if let Some(inner) = any.iter().find(|v| v.get("type") != Some(&Value::from("null"))) {
            return resolve(root, inner);
        }
    }
    node
}

fn walk(root: &Value, node: &Value, defaults: &Value, prefix: &str, out: &mut Vec<Setting>) {
    let empty = Map::new();
    let props = resolve(root, node).get("properties").and_then(Value::as_object).unwrap_or(&empty);
    for (key, prop) in props {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        let target = resolve(root, prop);
        let description = prop
            .get("description")
            .or_else(|| target.get("description"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .replace('\n', " ");
        let default = defaults.get(key).cloned().unwrap_or(Value::Null);
        let block = target.get("properties").is_some();
        out.push(Setting { path: path.clone(), description, default: default.clone(), block });
        if block {
            walk(root, prop, &default, &path, out);
        }
    }
}

fn hcl_value(v: &Value) -> String {
    use hcl::format::Format;
    let value: hcl::Value = serde_json::from_value(v.clone()).expect("JSON maps onto HCL values");
    let mut formatter = hcl::format::Formatter::builder().compact_arrays(true).build(Vec::new());
    hcl::Expression::from(value).format_string(&mut formatter).expect("values format")
}

/// The commented starter config: every setting with its default.
pub fn starter_hcl() -> String {
    let mut text = String::from(
        "# drgen configuration. Every setting is listed with its default; delete what you do not change.\n# Reference: drgen schema (JSON Schema) and README.md.\n",
    );
    let settings = settings();
    let mut depth = 0usize;
    let mut open: Vec<String> = Vec::new();
    let mut first_in_block = false;
    let mut unset_blocks: Vec<String> = Vec::new();
    for s in &settings {
        if unset_blocks.iter().any(|b| s.path.starts_with(&format!("{b}."))) {
            continue;
        }
        let parent = s.path.rsplit_once('.').map(|(p, _)| p.to_string());
        while let Some(last) = open.last() {
            if parent.as_deref().is_some_and(|p| p == last || p.starts_with(&format!("{last}."))) {
                break;
            }
            open.pop();
            depth -= 1;
            let _ = writeln!(text, "{}}}", "  ".repeat(depth));
        }
        let indent = "  ".repeat(depth);
        let key = s.path.rsplit('.').next().unwrap_or(&s.path);
        if !std::mem::take(&mut first_in_block) {
            text.push('\n');
        }
        for line in wrap(&s.description, 96 - indent.len()) {
            let _ = writeln!(text, "{indent}# {line}");
        }
        if s.default.is_null() {
            if s.block {
                unset_blocks.push(s.path.clone());
            }
            if let Some(ex) = example(&s.path) {
                for line in ex.lines() {
                    let _ = writeln!(text, "{indent}# {line}");
                }
            }
        } else if s.block {
            let _ = writeln!(text, "{indent}{key} {{");
            open.push(s.path.clone());
            depth += 1;
            first_in_block = true;
        } else {
            let _ = writeln!(text, "{indent}{key} = {}", hcl_value(&s.default));
        }
    }
    while open.pop().is_some() {
        depth -= 1;
        let _ = writeln!(text, "{}}}", "  ".repeat(depth));
    }
    canonical::format(&text)
}

pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line");
        if !line.is_empty() && line.len() + word.len() + 1 > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

/// The config reference table of README.md.
pub fn reference_markdown() -> String {
    let mut text = String::from("| setting | default | meaning and limits |\n|---|---|---|\n");
    for s in settings() {
        let default = match &s.default {
            Value::Null => "—".to_string(),
            _ if s.block => "(block)".to_string(),
            v => format!("`{}`", hcl_value(v).replace('|', "\\|").replace('\n', " ")),
        };
        let _ = writeln!(text, "| `{}` | {default} | {} |", s.path, s.description.replace('|', "\\|"));
    }
    text
}
