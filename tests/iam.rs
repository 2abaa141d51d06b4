//! Least privilege in every rendered IAM policy: no wildcard action in an Allow statement,
//! and `"*"` as a resource only for the APIs that have no resource-level permissions.

use std::collections::BTreeSet;
use std::path::Path;

use drgen::config::Config;
use drgen::model::Topology;
use hcl::{Block, Body, Expression};

/// Every action allowed on `"*"`, with the reason it cannot be scoped.
const STAR_ALLOWLIST: &[(&str, &str)] = &[
    (
        "ec2:DescribeSubnets",
        "Describe calls have no resource-level permissions (AWSLambdaVPCAccessExecutionRole)",
    ),
    ("cloudwatch:GetMetricData", "no resource-level permissions"),
    (
        "rds:DescribeEvents",
        "no resource-level permissions (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html); the guard names its instance in the call",
    ),
    ("cloudwatch:PutMetricData", "no resource-level permissions; conditioned on drgen's namespace"),
    ("ec2:DescribeNetworkInterfaces", "Describe calls have no resource-level permissions"),
    ("xray:PutTraceSegments", "no resource-level permissions"),
    ("xray:PutTelemetryRecords", "no resource-level permissions"),
    ("xray:GetSamplingRules", "no resource-level permissions"),
    ("xray:GetSamplingTargets", "no resource-level permissions"),
    ("logs:CreateLogDelivery", "vended log delivery for Step Functions has no resource-level permissions"),
    ("logs:GetLogDelivery", "as above"),
    ("logs:UpdateLogDelivery", "as above"),
    ("logs:DeleteLogDelivery", "as above"),
    ("logs:ListLogDeliveries", "as above"),
    ("logs:PutResourcePolicy", "as above"),
    ("logs:DescribeResourcePolicies", "as above"),
    ("logs:DescribeLogGroups", "as above"),
];

fn strings(e: &Expression) -> Vec<String> {
    match e {
        Expression::Array(items) => items.iter().flat_map(strings).collect(),
        Expression::String(s) => vec![s.clone()],
        other => vec![other.to_string()],
    }
}

fn attr(block: &Block, key: &str) -> Option<Expression> {
    block.body().attributes().find(|a| a.key() == key).map(|a| a.expr().clone())
}

fn statements(body: &Body) -> Vec<Block> {
    body.blocks()
        .filter(|b| {
            b.identifier() == "data"
                && b.labels().first().is_some_and(|l| l.as_str() == "aws_iam_policy_document")
        })
        .flat_map(|doc| {
            doc.body().blocks().filter(|b| b.identifier() == "statement").cloned().collect::<Vec<_>>()
        })
        .collect()
}

fn rendered(config: Option<&Path>) -> Vec<Body> {
    let config = config.map_or_else(Config::default, |p| Config::load(p).unwrap());
    let model = Topology::from_config(&config, Some("prod")).unwrap();
    drgen::render::render(&model)
        .files
        .iter()
        .filter(|(path, _)| Path::new(path).extension().is_some_and(|e| e == "tf"))
        .map(|(_, bytes)| hcl::parse(std::str::from_utf8(bytes).unwrap()).unwrap())
        .collect()
}

fn configs() -> Vec<Option<std::path::PathBuf>> {
    let mut list = vec![None];
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "hcl" || e == "json") {
            list.push(Some(path));
        }
    }
    list
}

#[test]
fn no_allow_statement_has_a_wildcard_action() {
    for config in configs() {
        for body in rendered(config.as_deref()) {
            for s in statements(&body) {
                if attr(&s, "effect").map(|e| strings(&e)) == Some(vec!["Deny".into()]) {
                    continue;
                }
                for action in strings(&attr(&s, "actions").unwrap()) {
                    assert!(!action.contains('*'), "{config:?}: wildcard action {action}");
                }
            }
        }
    }
}

#[test]
fn star_resources_are_only_for_apis_without_resource_level_permissions() {
    let allowed: BTreeSet<&str> = STAR_ALLOWLIST.iter().map(|(a, _)| *a).collect();
    let mut seen = BTreeSet::new();
    for config in configs() {
        for body in rendered(config.as_deref()) {
            for s in statements(&body) {
                let Some(resources) = attr(&s, "resources") else { continue };
                if attr(&s, "effect").map(|e| strings(&e)) == Some(vec!["Deny".into()]) {
                    continue;
                }
                if strings(&resources).iter().any(|r| r == "*") {
                    for action in strings(&attr(&s, "actions").unwrap()) {
                        assert!(
                            allowed.contains(action.as_str()),
                            "{config:?}: {action} on \"*\" is not in the allowlist"
                        );
                        seen.insert(action);
                    }
                }
            }
        }
    }
    // The allowlist names nothing that is never used.
    for (action, _) in STAR_ALLOWLIST {
        assert!(seen.contains(*action), "{action} is allowlisted but no policy uses it");
    }
}

#[test]
fn put_metric_data_is_conditioned_on_drgens_namespace() {
    for config in configs() {
        for body in rendered(config.as_deref()) {
            for s in statements(&body) {
                if strings(&attr(&s, "actions").unwrap()).iter().any(|a| a == "cloudwatch:PutMetricData") {
                    let condition =
                        s.body().blocks().find(|b| b.identifier() == "condition").expect("a condition");
                    assert_eq!(
                        strings(&attr(condition, "variable").unwrap()),
                        vec!["cloudwatch:namespace".to_string()]
                    );
                }
            }
        }
    }
}

#[test]
fn promotion_is_allowed_on_the_replica_only() {
    for config in configs() {
        for body in rendered(config.as_deref()) {
            for s in statements(&body) {
                if strings(&attr(&s, "actions").unwrap()).iter().any(|a| a == "rds:PromoteReadReplica") {
                    assert_eq!(
                        strings(&attr(&s, "resources").unwrap()),
                        vec!["aws_db_instance.dr.arn".to_string()]
                    );
                }
            }
        }
    }
}

#[test]
fn the_primary_record_is_guarded_by_the_calculated_check() {
    let dns = rendered(None)
        .into_iter()
        .find(|b| b.blocks().any(|blk| blk.labels().iter().any(|l| l.as_str() == "aws_route53_record")))
        .unwrap();
    let record = |name: &str| {
        dns.blocks()
            .find(|b| {
                b.labels().iter().map(hcl::BlockLabel::as_str).collect::<Vec<_>>()
                    == ["aws_route53_record", name]
            })
            .unwrap()
            .clone()
    };
    let primary = record("writer_primary");
    assert_eq!(
        attr(&primary, "health_check_id").unwrap().to_string(),
        "aws_route53_health_check.primary_alive.id"
    );
    let secondary = record("writer_dr");
    assert!(attr(&secondary, "health_check_id").is_none());
    let calculated = dns
        .blocks()
        .find(|b| {
            b.labels().iter().map(hcl::BlockLabel::as_str).collect::<Vec<_>>()
                == ["aws_route53_health_check", "primary_alive"]
        })
        .unwrap();
    assert_eq!(strings(&attr(calculated, "type").unwrap()), vec!["CALCULATED".to_string()]);
    // The writer authority (three checks) and at least one of the two observers.
    assert_eq!(attr(calculated, "child_health_threshold").unwrap().to_string(), "4");
    let Some(Expression::Array(children)) = attr(calculated, "child_healthchecks") else {
        panic!("children")
    };
    assert_eq!(children.len(), 5);
}
