//! The account's physics, checked on every rendering: each AWS call a function's code makes
//! (`lambda/calls.json`) has a network path from inside its VPC — an endpoint of the service in
//! the function's VPC and an egress rule that admits the traffic (the service's prefix list for a
//! gateway endpoint) — and every AWS service that uses a KMS key as itself finds a key-policy
//! statement whose conditions that service supplies. The check reads the rendered `.tf` files
//! only; it does not ask the renderer what it meant to render.

use std::collections::BTreeMap;
use std::path::Path;

use drgen::calls::{declaration, CallRegion};
use drgen::config::Config;
use hcl::{Block, Expression, ObjectKey};

/// Condition keys each service principal supplies when it uses a customer managed key as itself,
/// for the use drgen puts it to. A statement for the principal may use only these.
const SUPPORTED_CONDITIONS: &[(&str, &[&str])] = &[
    // Alarms and rules publishing to an encrypted SNS topic: SNS asks KMS with the topic's ARN as
    // encryption context; aws:SourceAccount and aws:SourceArn are not supplied for EventBridge
    // delivering to encrypted topics (SNS developer guide, "Key management":
    // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
    ("cloudwatch.amazonaws.com", &["kms:EncryptionContext:aws:sns:topicArn"]),
    ("events.amazonaws.com", &["kms:EncryptionContext:aws:sns:topicArn"]),
    // CloudWatch Logs encrypting a log group: the log group's ARN as encryption context
    // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
    ("logs.*", &["kms:EncryptionContext:aws:logs:arn"]),
    // Vended log delivery (Step Functions execution logs): the source account and ARN
    // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-and-resource-policy.html).
    ("delivery.logs.amazonaws.com", &["aws:SourceAccount", "aws:SourceArn"]),
];

struct Rendering {
    name: String,
    blocks: Vec<Block>,
    /// Services the configuration says an existing VPC already has endpoints for, per alias.
    existing: BTreeMap<String, Vec<String>>,
}

fn rendering(config: Option<&str>) -> Rendering {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = config.map_or_else(Config::default, |p| Config::load(&root.join(p)).unwrap());
    let model = drgen::model::Topology::from_config(&loaded, Some("prod")).unwrap();
    let files = drgen::render::render(&model).files;
    let blocks = files
        .iter()
        .filter(|(path, _)| !path.contains('/') && Path::new(path).extension().is_some_and(|e| e == "tf"))
        .flat_map(|(_, bytes)| hcl::parse(&String::from_utf8_lossy(bytes)).unwrap().into_blocks())
        .collect();
    let mut existing = BTreeMap::new();
    for (alias, region) in [("primary", &model.primary), ("dr", &model.dr)] {
        if let drgen::model::Network::Existing { existing_endpoints, .. } = &region.network {
            existing.insert(alias.to_string(), existing_endpoints.clone());
        }
    }
    Rendering { name: config.unwrap_or("default").to_string(), blocks, existing }
}

fn renderings() -> Vec<Rendering> {
    let mut configs = vec![None];
    let mut examples: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hcl" || e == "json"))
        .map(|p| format!("examples/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    examples.sort();
    assert!(
        examples.iter().any(|e| e.contains("after-failover")),
        "the primary_retired rendering is checked"
    );
    configs.extend(examples.iter().map(|e| Some(e.as_str())));
    configs.into_iter().map(rendering).collect()
}

/// An expression as text without white space.
fn text(e: &Expression) -> String {
    e.to_string().split_whitespace().collect()
}

fn attr<'a>(block: &'a Block, key: &str) -> Option<&'a Expression> {
    block.body().attributes().find(|a| a.key() == key).map(hcl::Attribute::expr)
}

fn attr_text(block: &Block, key: &str) -> Option<String> {
    attr(block, key).map(text)
}

fn string(block: &Block, key: &str) -> Option<String> {
    match attr(block, key) {
        Some(Expression::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn nested<'a>(block: &'a Block, ident: &str) -> Option<&'a Block> {
    block.body().blocks().find(|b| b.identifier() == ident)
}

impl Rendering {
    fn of(&self, ident: &str, kind: &str) -> impl Iterator<Item = &Block> {
        let kind = kind.to_string();
        let ident = ident.to_string();
        self.blocks.iter().filter(move |b| {
            b.identifier() == ident && b.labels().first().is_some_and(|l| l.as_str() == kind)
        })
    }

    fn resources(&self, kind: &str) -> impl Iterator<Item = &Block> {
        self.of("resource", kind)
    }

    fn region(&self, alias: &str) -> String {
        self.blocks
            .iter()
            .filter(|b| b.identifier() == "provider")
            .find(|b| string(b, "alias").as_deref() == Some(alias))
            .and_then(|b| string(b, "region"))
            .unwrap_or_else(|| panic!("{}: no provider {alias}", self.name))
    }

    fn local(&self, name: &str) -> Option<&Expression> {
        self.blocks
            .iter()
            .filter(|b| b.identifier() == "locals")
            .flat_map(|b| b.body().attributes())
            .find(|a| a.key() == name)
            .map(hcl::Attribute::expr)
    }
}

fn label(block: &Block) -> String {
    block.labels().get(1).map(|l| l.as_str().to_string()).unwrap_or_default()
}

fn alias(block: &Block) -> String {
    attr_text(block, "provider").unwrap_or_default().trim_start_matches("aws.").to_string()
}

fn strings(e: &Expression) -> Vec<String> {
    match e {
        Expression::Array(items) => items.iter().flat_map(strings).collect(),
        Expression::String(s) => vec![s.clone()],
        other => vec![text(other)],
    }
}

/// The services of an interface endpoint resource: its `for_each` set or its one service name.
fn endpoint_services(block: &Block, region: &str) -> Vec<String> {
    let prefix = format!("com.amazonaws.{region}.");
    if let Some(Expression::FuncCall(call)) = attr(block, "for_each") {
        return call.args.iter().flat_map(strings).collect();
    }
    string(block, "service_name")
        .and_then(|s| s.strip_prefix(&prefix).map(str::to_string))
        .into_iter()
        .collect()
}

/// Whether a rule admits TCP 443.
fn admits_https(rule: &Block) -> bool {
    let port = |k| match attr(rule, k) {
        Some(Expression::Number(n)) => n.as_u64(),
        _ => None,
    };
    string(rule, "ip_protocol").as_deref() == Some("tcp")
        && port("from_port").is_some_and(|p| p <= 443)
        && port("to_port").is_some_and(|p| p >= 443)
}

/// Whether a function's environment makes the declared call happen (its `when` variable set).
fn happens(environment: &BTreeMap<String, Expression>, when: Option<&String>) -> bool {
    let Some(variable) = when else { return true };
    match environment.get(variable) {
        None => false,
        Some(Expression::String(s)) => !(s.is_empty() || s == "false"),
        Some(_) => true,
    }
}

/// Every path finding of one rendering.
fn path_findings(r: &Rendering) -> Vec<String> {
    let d = declaration();
    let mut findings = Vec::new();
    for function in r.resources("aws_lambda_function") {
        let Some(vpc) = nested(function, "vpc_config") else { continue };
        let handler = string(function, "handler").unwrap();
        let module = handler.split('.').nth(1).unwrap().to_string();
        let name = match module.as_str() {
            "observer" => "observer",
            "guard_run" => "guard",
            "monitor" => "monitor",
            "workflow" => "failover",
            other => panic!("{}: unknown handler module {other}", r.name),
        };
        let who = format!("{}: aws_lambda_function.{}", r.name, label(function));
        let side = alias(function);
        let region = r.region(&side);
        let environment: BTreeMap<String, Expression> = nested(function, "environment")
            .and_then(|e| attr(e, "variables"))
            .and_then(|v| match v {
                Expression::Object(o) => Some(
                    o.iter()
                        .map(|(k, v)| {
                            let key = match k {
                                ObjectKey::Identifier(i) => i.to_string(),
                                ObjectKey::Expression(e) => text(e).trim_matches('"').to_string(),
                                _ => String::new(),
                            };
                            (key, v.clone())
                        })
                        .collect(),
                ),
                _ => None,
            })
            .unwrap_or_default();
        let groups: Vec<String> = attr(vpc, "security_group_ids").map(strings).unwrap_or_default();
        let egress: Vec<&Block> = r
            .resources("aws_vpc_security_group_egress_rule")
            .filter(|rule| attr_text(rule, "security_group_id").is_some_and(|g| groups.contains(&g)))
            .filter(|rule| admits_https(rule))
            .collect();
        let vpc_ids: Vec<String> = r
            .resources("aws_security_group")
            .filter(|g| groups.contains(&format!("aws_security_group.{}.id", label(g))))
            .filter_map(|g| attr_text(g, "vpc_id"))
            .collect();
        let existing = r.existing.get(&side).cloned().unwrap_or_default();
        for call in d.functions[name].iter().filter(|c| c.is_call()) {
            if !happens(&environment, call.when.as_ref()) {
                continue;
            }
            if call.region == CallRegion::Cluster || (call.region != CallRegion::Own && side != "primary") {
                findings.push(format!(
                    "{who}: {} calls another region from inside a VPC, which has no path there",
                    call.sid
                ));
                continue;
            }
            let service = &d.services[&call.service];
            let endpoint = &service.endpoint;
            let service_name = format!("com.amazonaws.{region}.{endpoint}");
            if service.gateway {
                let through_endpoint = r.resources("aws_vpc_endpoint").any(|e| {
                    string(e, "vpc_endpoint_type").as_deref() == Some("Gateway")
                        && alias(e) == side
                        && string(e, "service_name").as_deref() == Some(service_name.as_str())
                        && attr_text(e, "vpc_id").is_some_and(|v| vpc_ids.contains(&v))
                        && attr(e, "route_table_ids").is_some_and(|t| !strings(t).is_empty())
                        && egress.iter().any(|rule| {
                            attr_text(rule, "prefix_list_id").as_deref()
                                == Some(format!("aws_vpc_endpoint.{}.prefix_list_id", label(e)).as_str())
                        })
                });
                let through_existing = existing.contains(endpoint)
                    && r.of("data", "aws_prefix_list").any(|p| {
                        alias(p) == side
                            && string(p, "name").as_deref() == Some(service_name.as_str())
                            && egress.iter().any(|rule| {
                                attr_text(rule, "prefix_list_id").as_deref()
                                    == Some(format!("data.aws_prefix_list.{}.id", label(p)).as_str())
                            })
                    });
                if !(through_endpoint || through_existing) {
                    findings.push(format!(
                        "{who}: {}:{} needs the {endpoint} gateway endpoint in its VPC and HTTPS egress to that endpoint's prefix list",
                        call.service,
                        call.actions.join(",")
                    ));
                }
            } else {
                let endpoint_ok = r.resources("aws_vpc_endpoint").any(|e| {
                    string(e, "vpc_endpoint_type").as_deref() == Some("Interface")
                        && alias(e) == side
                        && attr_text(e, "vpc_id").is_some_and(|v| vpc_ids.contains(&v))
                        && attr_text(e, "private_dns_enabled").as_deref() == Some("true")
                        && endpoint_services(e, &region).contains(endpoint)
                        && {
                            // The endpoint's group admits HTTPS from a range the function's egress
                            // sends HTTPS to.
                            let endpoint_groups =
                                attr(e, "security_group_ids").map(strings).unwrap_or_default();
                            r.resources("aws_vpc_security_group_ingress_rule")
                                .filter(|i| {
                                    attr_text(i, "security_group_id")
                                        .is_some_and(|g| endpoint_groups.contains(&g))
                                })
                                .filter(|i| admits_https(i))
                                .filter_map(|i| attr_text(i, "cidr_ipv4"))
                                .any(|cidr| {
                                    egress
                                        .iter()
                                        .any(|rule| attr_text(rule, "cidr_ipv4") == Some(cidr.clone()))
                                })
                        }
                });
                let existing_ok = existing.contains(endpoint)
                    && egress.iter().any(|rule| attr(rule, "cidr_ipv4").is_some());
                if !(endpoint_ok || existing_ok) {
                    findings.push(format!(
                        "{who}: {}:{} needs the {endpoint} interface endpoint in its VPC (private DNS, HTTPS admitted) and HTTPS egress to it",
                        call.service,
                        call.actions.join(",")
                    ));
                }
            }
        }
    }
    findings
}

/// The statements of a key policy kept in a local (`jsonencode(local.X)`).
fn key_statements<'a>(r: &'a Rendering, key: &Block) -> Vec<&'a hcl::Object<ObjectKey, Expression>> {
    let policy = attr_text(key, "policy").unwrap();
    let local = policy.trim_start_matches("jsonencode(local.").trim_end_matches(')');
    let Some(Expression::Object(document)) = r.local(local) else {
        panic!("{}: no key policy {local}", r.name)
    };
    let statements = document
        .iter()
        .find(|(k, _)| matches!(k, ObjectKey::Identifier(i) if i.as_str() == "Statement"))
        .map(|(_, v)| v)
        .unwrap();
    match statements {
        Expression::Array(items) => items
            .iter()
            .filter_map(|s| match s {
                Expression::Object(o) => Some(o),
                _ => None,
            })
            .collect(),
        _ => panic!("{}: key policy statements are not a list", r.name),
    }
}

fn field<'a>(object: &'a hcl::Object<ObjectKey, Expression>, name: &str) -> Option<&'a Expression> {
    object
        .iter()
        .find(|(k, _)| match k {
            ObjectKey::Identifier(i) => i.as_str() == name,
            ObjectKey::Expression(Expression::String(s)) => s == name,
            _ => false,
        })
        .map(|(_, v)| v)
}

fn keys_of(e: &Expression) -> Vec<String> {
    match e {
        Expression::Object(o) => o
            .iter()
            .map(|(k, _)| match k {
                ObjectKey::Identifier(i) => i.to_string(),
                ObjectKey::Expression(Expression::String(s)) => s.clone(),
                ObjectKey::Expression(other) => text(other),
                _ => String::new(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn supported(principal: &str) -> &'static [&'static str] {
    SUPPORTED_CONDITIONS
        .iter()
        .find(|(p, _)| {
            *p == principal
                || (p.ends_with(".*")
                    && principal.starts_with(p.trim_end_matches('*'))
                    && principal.ends_with(".amazonaws.com"))
        })
        .map_or(&[], |(_, c)| *c)
}

/// Every key-use finding of one rendering.
fn key_findings(r: &Rendering) -> Vec<String> {
    let mut findings = Vec::new();
    for key in r.resources("aws_kms_key") {
        let key_ref = format!("aws_kms_key.{}.arn", label(key));
        let region = r.region(&alias(key));
        // The services that use this key as themselves.
        let mut users: Vec<(String, String)> = Vec::new();
        for topic in r.resources("aws_sns_topic") {
            if attr_text(topic, "kms_master_key_id").as_deref() != Some(key_ref.as_str()) {
                continue;
            }
            let topic_ref = format!("aws_sns_topic.{}.arn", label(topic));
            let alarms = r.resources("aws_cloudwatch_metric_alarm").filter(|a| {
                ["alarm_actions", "ok_actions", "insufficient_data_actions"]
                    .iter()
                    .any(|k| attr(a, k).is_some_and(|v| strings(v).contains(&topic_ref)))
            });
            if alarms.count() > 0 {
                users.push(("cloudwatch.amazonaws.com".into(), format!("alarms publishing to {topic_ref}")));
            }
            if r.resources("aws_cloudwatch_event_target")
                .any(|t| attr_text(t, "arn").as_deref() == Some(topic_ref.as_str()))
            {
                users.push(("events.amazonaws.com".into(), format!("rules publishing to {topic_ref}")));
            }
        }
        let groups: Vec<String> = r
            .resources("aws_cloudwatch_log_group")
            .filter(|g| attr_text(g, "kms_key_id").as_deref() == Some(key_ref.as_str()))
            .map(label)
            .collect();
        if !groups.is_empty() {
            users.push((format!("logs.{region}.amazonaws.com"), "encrypted log groups".into()));
        }
        let vended = r.resources("aws_sfn_state_machine").any(|m| {
            nested(m, "logging_configuration").and_then(|l| attr_text(l, "log_destination")).is_some_and(
                |d| groups.iter().any(|g| d.contains(&format!("aws_cloudwatch_log_group.{g}.arn"))),
            )
        });
        if vended {
            users.push(("delivery.logs.amazonaws.com".into(), "Step Functions execution logs".into()));
        }
        let statements = key_statements(r, key);
        for (principal, purpose) in users {
            let allowing: Vec<_> = statements
                .iter()
                .filter(|s| field(s, "Effect").is_some_and(|e| strings(e) == ["Allow"]))
                .filter(|s| {
                    field(s, "Principal")
                        .and_then(|p| match p {
                            Expression::Object(o) => field(o, "Service").map(strings),
                            _ => None,
                        })
                        .is_some_and(|services| services.contains(&principal))
                })
                .filter(|s| {
                    let actions = field(s, "Action").map(strings).unwrap_or_default();
                    let covers = |wanted: &str| {
                        actions.iter().any(|a| {
                            a == wanted || (a.ends_with('*') && wanted.starts_with(a.trim_end_matches('*')))
                        })
                    };
                    covers("kms:GenerateDataKey") && covers("kms:Decrypt")
                })
                .collect();
            let who = format!("{}: {key_ref} used by {principal} ({purpose})", r.name);
            if allowing.is_empty() {
                findings.push(format!("{who}: no statement allows it kms:GenerateDataKey and kms:Decrypt"));
                continue;
            }
            let allowed = supported(&principal);
            let usable = allowing.iter().any(|s| {
                let conditions = field(s, "Condition").map(|c| match c {
                    Expression::Object(tests) => {
                        tests.iter().flat_map(|(_, vars)| keys_of(vars)).collect::<Vec<_>>()
                    }
                    _ => Vec::new(),
                });
                conditions.unwrap_or_default().iter().all(|c| allowed.contains(&c.as_str()))
            });
            if !usable {
                findings.push(format!(
                    "{who}: its statement is conditioned on keys the service does not supply (it supplies: {})",
                    allowed.join(", ")
                ));
            }
        }
    }
    findings
}

#[test]
fn every_declared_call_has_a_path_and_every_key_user_a_usable_statement() {
    let mut findings = Vec::new();
    for r in renderings() {
        findings.extend(path_findings(&r));
        findings.extend(key_findings(&r));
    }
    assert!(findings.is_empty(), "{} findings:\n{}", findings.len(), findings.join("\n"));
}

/// The output before this check existed: the function security groups admitted HTTPS only to the
/// VPC range (no egress to DynamoDB's prefix list), and the key statement for the services
/// publishing to topics was conditioned on aws:SourceAccount.
fn as_before(mut r: Rendering) -> Rendering {
    r.blocks.retain(|b| {
        !(b.labels().first().is_some_and(|l| l.as_str() == "aws_vpc_security_group_egress_rule")
            && label(b).ends_with("_to_dynamodb"))
    });
    for block in &mut r.blocks {
        if block.identifier() != "locals" {
            continue;
        }
        let body = hcl::to_string(block.body()).unwrap();
        if body.contains("kms:EncryptionContext:aws:sns:topicArn") {
            let start = body.find("\"kms:EncryptionContext:aws:sns:topicArn\"").unwrap();
            let end = start + body[start..].find('\n').unwrap();
            let mut old = body.clone();
            old.replace_range(start..end, "\"aws:SourceAccount\" = \"123456789012\"");
            *block = Block::builder("locals").add_structures(hcl::parse(&old).unwrap()).build();
        }
    }
    r
}

#[test]
fn the_check_finds_the_missing_dynamodb_path_and_the_unsupported_key_condition() {
    let r = as_before(rendering(None));
    let paths = path_findings(&r);
    for function in ["primary_observer", "dr_observer", "dr_monitor"] {
        assert!(
            paths.iter().any(|f| f.contains(function) && f.contains("dynamodb gateway endpoint")),
            "{function}: {paths:#?}"
        );
    }
    let keys = key_findings(&r);
    for principal in ["events.amazonaws.com", "cloudwatch.amazonaws.com"] {
        assert!(
            keys.iter().any(|f| f.contains(principal) && f.contains("does not supply")),
            "{principal}: {keys:#?}"
        );
    }
}

#[test]
fn a_call_from_a_vpc_to_another_region_or_without_an_endpoint_is_found() {
    // The monitor loses its interface endpoints: every interface call it makes is a finding.
    let mut r = rendering(None);
    r.blocks.retain(|b| {
        !(b.labels().first().is_some_and(|l| l.as_str() == "aws_vpc_endpoint") && label(b) == "dr")
    });
    let findings = path_findings(&r);
    for service in ["rds", "sns", "states", "events", "secretsmanager", "monitoring"] {
        assert!(
            findings.iter().any(|f| f.contains("dr_monitor") && f.contains(&format!("the {service} interface endpoint"))),
            "{service}: {findings:#?}"
        );
    }
}
