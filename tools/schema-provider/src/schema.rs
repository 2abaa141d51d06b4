//! Reads a schema file in the format of `terraform providers schema -json` and converts it
//! into the plugin protocol's `GetProviderSchema` response.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use serde_json::Value;

use crate::tfplugin6::get_provider_schema::Response;
use crate::tfplugin6::schema::{self, nested_block, object};
use crate::tfplugin6::Schema;

/// The provider whose schema the file must hold.
pub const PROVIDER: &str = "registry.terraform.io/hashicorp/aws";

/// Loads the schema file (plain or gzip-compressed JSON).
pub fn load(path: &Path) -> Result<Response, String> {
    let raw = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut s = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut s)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        s
    } else {
        raw
    };
    let doc: Value = serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    convert(&doc).map_err(|e| format!("{}: {e}", path.display()))
}

/// Converts the parsed JSON document.
pub fn convert(doc: &Value) -> Result<Response, String> {
    let provider = doc
        .get("provider_schemas")
        .and_then(|p| p.get(PROVIDER))
        .ok_or_else(|| format!("no provider_schemas[\"{PROVIDER}\"]"))?;
    let schemas = |key: &str| -> Result<HashMap<String, Schema>, String> {
        provider.get(key).and_then(Value::as_object).map_or_else(
            || Ok(HashMap::new()),
            |m| m.iter().map(|(name, s)| Ok((name.clone(), to_schema(s)?))).collect(),
        )
    };
    Ok(Response {
        provider: Some(match provider.get("provider") {
            Some(p) => to_schema(p)?,
            None => Schema { version: 0, block: Some(schema::Block::default()) },
        }),
        resource_schemas: schemas("resource_schemas")?,
        data_source_schemas: schemas("data_source_schemas")?,
        diagnostics: Vec::new(),
        provider_meta: None,
    })
}

fn to_schema(v: &Value) -> Result<Schema, String> {
    Ok(Schema {
        version: v.get("version").and_then(Value::as_i64).unwrap_or(0),
        block: Some(to_block(v.get("block").ok_or("a schema without block")?)?),
    })
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn int(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn to_block(v: &Value) -> Result<schema::Block, String> {
    let mut attributes = Vec::new();
    if let Some(attrs) = v.get("attributes").and_then(Value::as_object) {
        for (name, a) in attrs {
            attributes.push(to_attribute(name, a)?);
        }
    }
    let mut block_types = Vec::new();
    if let Some(blocks) = v.get("block_types").and_then(Value::as_object) {
        for (name, b) in blocks {
            let nesting = match b.get("nesting_mode").and_then(Value::as_str) {
                Some("single") => nested_block::NestingMode::Single,
                Some("list") => nested_block::NestingMode::List,
                Some("set") => nested_block::NestingMode::Set,
                Some("map") => nested_block::NestingMode::Map,
                Some("group") => nested_block::NestingMode::Group,
                other => return Err(format!("block {name}: unknown nesting_mode {other:?}")),
            };
            block_types.push(schema::NestedBlock {
                type_name: name.clone(),
                block: Some(to_block(b.get("block").ok_or_else(|| format!("block {name} has no block"))?)?),
                nesting: nesting.into(),
                min_items: int(b, "min_items"),
                max_items: int(b, "max_items"),
            });
        }
    }
    Ok(schema::Block {
        version: 0,
        attributes,
        block_types,
        description: String::new(),
        description_kind: 0,
        deprecated: flag(v, "deprecated"),
    })
}

fn to_attribute(name: &str, a: &Value) -> Result<schema::Attribute, String> {
    let nested_type = match a.get("nested_type") {
        Some(n) => {
            let mut attributes = Vec::new();
            for (inner, av) in
                n.get("attributes").and_then(Value::as_object).ok_or("nested_type without attributes")?
            {
                attributes.push(to_attribute(inner, av)?);
            }
            let nesting = match n.get("nesting_mode").and_then(Value::as_str) {
                Some("single") => object::NestingMode::Single,
                Some("list") => object::NestingMode::List,
                Some("set") => object::NestingMode::Set,
                Some("map") => object::NestingMode::Map,
                other => return Err(format!("attribute {name}: unknown nesting_mode {other:?}")),
            };
            Some(schema::Object {
                attributes,
                nesting: nesting.into(),
                min_items: int(n, "min_items"),
                max_items: int(n, "max_items"),
            })
        }
        None => None,
    };
    let r#type = match (a.get("type"), &nested_type) {
        (Some(t), _) => serde_json::to_vec(t).map_err(|e| e.to_string())?,
        (None, Some(_)) => Vec::new(),
        (None, None) => return Err(format!("attribute {name} has neither type nor nested_type")),
    };
    Ok(schema::Attribute {
        name: name.to_string(),
        r#type,
        description: String::new(),
        required: flag(a, "required"),
        optional: flag(a, "optional"),
        computed: flag(a, "computed"),
        sensitive: flag(a, "sensitive"),
        description_kind: 0,
        deprecated: flag(a, "deprecated"),
        nested_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_attributes_blocks_and_nested_types() {
        let doc = serde_json::json!({
            "format_version": "1.0",
            "provider_schemas": { PROVIDER: {
                "provider": { "version": 0, "block": { "attributes": { "region": { "type": "string", "optional": true } } } },
                "resource_schemas": { "aws_thing": { "version": 2, "block": {
                    "attributes": {
                        "name": { "type": "string", "required": true },
                        "tags": { "type": ["map", "string"], "optional": true },
                        "spec": { "nested_type": { "nesting_mode": "list", "attributes": { "k": { "type": "number", "computed": true } } }, "optional": true }
                    },
                    "block_types": { "rule": { "nesting_mode": "set", "max_items": 1, "block": { "attributes": {} } } }
                } } }
            } }
        });
        let r = convert(&doc).unwrap();
        let thing = &r.resource_schemas["aws_thing"];
        assert_eq!(thing.version, 2);
        let block = thing.block.as_ref().unwrap();
        let tags = block.attributes.iter().find(|a| a.name == "tags").unwrap();
        assert_eq!(tags.r#type, br#"["map","string"]"#);
        let spec = block.attributes.iter().find(|a| a.name == "spec").unwrap();
        assert_eq!(spec.nested_type.as_ref().unwrap().nesting, object::NestingMode::List as i32);
        assert!(spec.r#type.is_empty());
        assert_eq!(block.block_types[0].nesting, nested_block::NestingMode::Set as i32);
        assert_eq!(block.block_types[0].max_items, 1);
        assert!(r.provider.unwrap().block.unwrap().attributes[0].optional);
    }

    #[test]
    fn rejects_a_file_for_another_provider() {
        let doc = serde_json::json!({ "provider_schemas": { "registry.terraform.io/hashicorp/random": {} } });
        assert!(convert(&doc).unwrap_err().contains(PROVIDER));
    }
}
