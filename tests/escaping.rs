//! Strings from the config that reach the output (tag values, email addresses) either are
//! refused by the model with a message naming the field, or come back unchanged when the
//! rendered HCL is parsed and evaluated: no template injection.

use drgen::config::Config;
use drgen::model::Topology;
use hcl::eval::{Context, Evaluate};
use proptest::prelude::*;

fn tricky() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a", "Z", "0", " ", "\"", "\\", "\n", "${", "%{", "$${", "%%{", "}", "$", "%", "'", "`", "@", ":",
        "/", "=", "+", "-", "_", ".", "Ω", "ü", "😀", "\t", "*", "#", "~",
    ]);
    prop::collection::vec(piece, 1..12).prop_map(|v| v.concat())
}

/// The value a rendered file assigns to `key` inside the first object that has it.
fn find_value(body: &hcl::Body, key: &str) -> Option<hcl::Expression> {
    fn in_expr(e: &hcl::Expression, key: &str) -> Option<hcl::Expression> {
        match e {
            hcl::Expression::Object(o) => o.iter().find_map(|(k, v)| {
                let name = match k {
                    hcl::ObjectKey::Identifier(i) => i.to_string(),
                    hcl::ObjectKey::Expression(hcl::Expression::String(s)) => s.clone(),
                    hcl::ObjectKey::Expression(other) => other.to_string(),
                    _ => String::new(),
                };
                if name == key {
                    Some(v.clone())
                } else {
                    in_expr(v, key)
                }
            }),
            _ => None,
        }
    }
    for structure in body {
        match structure {
            hcl::Structure::Attribute(a) => {
                if let Some(v) = in_expr(a.expr(), key) {
                    return Some(v);
                }
            }
            hcl::Structure::Block(b) => {
                if let Some(v) = find_value(b.body(), key) {
                    return Some(v);
                }
            }
        }
    }
    None
}

fn evaluate(e: &hcl::Expression) -> String {
    match e.evaluate(&Context::new()).expect("a literal evaluates without context") {
        hcl::Value::String(s) => s,
        other => panic!("not a string: {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn tag_values_are_refused_or_round_trip(value in tricky()) {
        let mut config = Config::default();
        config.tags.insert("Team".into(), value.clone());
        match Topology::from_config(&config, Some("prod")) {
            Err(problems) => prop_assert!(problems.0.iter().any(|p| p.field == "tags.Team"), "{}", problems),
            Ok(model) => {
                let files = drgen::render::render(&model);
                let text = std::str::from_utf8(&files.files["providers.tf"]).unwrap();
                let body = hcl::parse(text).unwrap();
                let rendered = find_value(&body, "Team").expect("the tag is rendered");
                prop_assert_eq!(evaluate(&rendered), value);
            }
        }
    }

    #[test]
    fn email_addresses_are_refused_or_round_trip(local in tricky()) {
        let address = format!("{local}@example.com");
        let mut config = Config::default();
        config.monitoring.alarm_emails = vec![address.clone()];
        match Topology::from_config(&config, Some("prod")) {
            Err(problems) => prop_assert!(
                problems.0.iter().any(|p| p.field == "monitoring.alarm_emails[0]"),
                "{}", problems
            ),
            Ok(model) => {
                let files = drgen::render::render(&model);
                let text = std::str::from_utf8(&files.files["alerts.tf"]).unwrap();
                let body = hcl::parse(text).unwrap();
                let endpoint = body
                    .blocks()
                    .filter(|b| b.labels().first().is_some_and(|l| l.as_str() == "aws_sns_topic_subscription"))
                    .map(|b| b.body().attributes().find(|a| a.key() == "endpoint").unwrap().expr().clone())
                    .next()
                    .expect("a subscription");
                prop_assert_eq!(evaluate(&endpoint), address);
            }
        }
    }
}

#[test]
fn a_value_that_looks_like_a_template_is_refused_at_parse_time() {
    for text in ["tags = { Team = \"${var.x}\" }", "tags = { Team = \"%{ if x }y%{ endif }\" }"] {
        let problems = Config::parse(text, drgen::config::Format::Hcl).unwrap_err();
        assert_eq!(problems.0[0].field, "tags.Team", "{text}");
    }
    // An escaped sequence reads as the literal text `${x}`, which is refused the same way.
    let problems = Config::parse("tags = { Team = \"$${x}\" }", drgen::config::Format::Hcl).unwrap_err();
    assert_eq!(problems.0[0].field, "tags.Team");
}
