//! What `terraform validate` cannot see: each test here fails on an output that would fail at
//! apply time or work wrongly once applied.

use std::path::Path;

use drgen::config::Config;
use drgen::model::Topology;
use hcl::{Block, Body, Expression};

fn render(config: Option<&str>) -> Vec<(String, Body)> {
    let config = config.map_or_else(Config::default, |p| {
        Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(p)).unwrap()
    });
    let model = Topology::from_config(&config, Some("prod")).unwrap();
    drgen::render::render(&model)
        .files
        .iter()
        .filter(|(path, _)| !path.contains('/') && Path::new(path).extension().is_some_and(|e| e == "tf"))
        .map(|(path, bytes)| (path.clone(), hcl::parse(&String::from_utf8_lossy(bytes)).unwrap()))
        .collect()
}

/// Every block of the given kind (`resource`/`data`/`locals`) and type label.
fn blocks(files: &[(String, Body)], ident: &str, kind: &str) -> Vec<Block> {
    files
        .iter()
        .flat_map(|(_, b)| b.blocks())
        .filter(|b| b.identifier() == ident && b.labels().first().is_some_and(|l| l.as_str() == kind))
        .cloned()
        .collect()
}

fn named(files: &[(String, Body)], kind: &str, name: &str) -> Block {
    blocks(files, "resource", kind)
        .into_iter()
        .find(|b| b.labels().get(1).is_some_and(|l| l.as_str() == name))
        .unwrap_or_else(|| panic!("no {kind}.{name}"))
}

/// An attribute's expression as text, without white space.
fn attr(block: &Block, key: &str) -> Option<String> {
    block
        .body()
        .attributes()
        .find(|a| a.key() == key)
        .map(|a| a.expr().to_string().split_whitespace().collect())
}

fn text(files: &[(String, Body)], file: &str) -> String {
    files.iter().find(|(p, _)| p == file).map(|(_, b)| hcl::to_string(b).unwrap()).unwrap()
}

const EXAMPLES: [Option<&str>; 5] = [
    None,
    Some("examples/cloudwatch-health-checks.hcl"),
    Some("examples/eu-regions.hcl"),
    Some("examples/existing-network.hcl"),
    Some("examples/protected.json"),
];

#[test]
fn observers_sit_behind_api_gateway_limited_to_route53_checkers() {
    let files = render(None);
    assert!(blocks(&files, "resource", "aws_lambda_function_url").is_empty(), "function URLs answer 403");
    for side in ["primary", "dr"] {
        let label = format!("{side}_observer");
        let path = named(&files, "aws_api_gateway_resource", &label);
        assert_eq!(attr(&path, "path_part").unwrap(), "aws_ssm_parameter.probe_token.value");
        let permission = named(&files, "aws_lambda_permission", &format!("{label}_api"));
        assert_eq!(attr(&permission, "principal").unwrap(), "\"apigateway.amazonaws.com\"");
        assert!(attr(&permission, "source_arn")
            .unwrap()
            .contains(&format!("aws_api_gateway_rest_api.{label}.execution_arn")));
        let deployment = named(&files, "aws_api_gateway_deployment", &label);
        assert!(attr(&deployment, "triggers").unwrap().contains(&format!("local.{label}_api_policy")));
        let settings = named(&files, "aws_api_gateway_method_settings", &label);
        let settings_text = hcl::to_string(settings.body()).unwrap();
        assert!(settings_text.contains("throttling_burst_limit = 100"), "{settings_text}");
        let check = named(&files, "aws_route53_health_check", &label);
        assert!(attr(&check, "fqdn").unwrap().contains(".execute-api."));
    }
    let observers = text(&files, "observers.tf");
    assert!(observers.contains("route53_healthchecks"));
    assert!(observers.contains("aws:SourceIp"));
    // Nothing may invoke an observer but API Gateway and its schedule.
    for p in blocks(&files, "resource", "aws_lambda_permission") {
        assert_ne!(attr(&p, "principal").unwrap(), "\"*\"");
    }
}

#[test]
fn the_secret_names_the_instance_with_tls_and_survives_a_promotion() {
    let files = render(None);
    let secrets = text(&files, "secrets.tf");
    assert!(secrets.contains("host = aws_db_instance.primary.address"), "{secrets}");
    assert!(secrets.contains("ssl = true"));
    assert!(
        secrets.contains("dns_name = \"writer.trading-db-${var.environment_suffix}.internal\""),
        "{secrets}"
    );
    let secret = named(&files, "aws_secretsmanager_secret", "master");
    let lifecycle = secret.body().blocks().find(|b| b.identifier() == "lifecycle").unwrap();
    assert_eq!(attr(lifecycle, "ignore_changes").unwrap(), "[replica]");
    named(&files, "aws_serverlessapplicationrepository_cloudformation_stack", "dr_rotation");
    let workflow = named(&files, "aws_lambda_function", "dr_failover");
    assert!(hcl::to_string(workflow.body()).unwrap().contains("dr_rotation.outputs.RotationLambdaARN"));
}

#[test]
fn both_databases_admit_the_clients_of_both_regions() {
    for example in EXAMPLES {
        let files = render(example);
        for side in ["primary", "dr"] {
            let rule =
                named(&files, "aws_vpc_security_group_ingress_rule", &format!("{side}_db_from_networks"));
            let for_each = attr(&rule, "for_each").unwrap();
            let model = {
                let config = example.map_or_else(Config::default, |p| {
                    Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(p)).unwrap()
                });
                Topology::from_config(&config, Some("prod")).unwrap()
            };
            for region in [&model.primary, &model.dr] {
                for client in &region.clients {
                    // An existing VPC's own range comes from its data source (checked against
                    // the config by a postcondition).
                    let expected = if region.clients_are_vpc && !region.is_managed() {
                        format!("data.aws_vpc.{}.cidr_block", region.side)
                    } else {
                        client.to_string()
                    };
                    assert!(
                        for_each.contains(&expected),
                        "{example:?} {side}: {expected} missing in {for_each}"
                    );
                }
            }
        }
    }
}

#[test]
fn service_principals_in_key_policies_are_bound_to_the_account_and_log_delivery_may_use_the_key() {
    let files = render(None);
    let kms = text(&files, "kms.tf");
    assert!(kms.contains("delivery.logs.amazonaws.com"));
    for (_, body) in &files {
        for block in body.blocks().filter(|b| b.identifier() == "locals") {
            for attribute in block.body().attributes() {
                let Expression::Object(policy) = attribute.expr() else { continue };
                let Some(Expression::Array(statements)) =
                    policy.iter().find(|(k, _)| k.to_string() == "Statement").map(|(_, v)| v)
                else {
                    continue;
                };
                for statement in statements {
                    let s = statement.to_string();
                    if s.contains("Service =") {
                        assert!(s.contains("Condition"), "a service principal without a condition: {s}");
                    }
                }
            }
        }
    }
}

#[test]
fn no_concurrency_is_reserved_by_default() {
    let files = render(None);
    for f in blocks(&files, "resource", "aws_lambda_function") {
        assert!(attr(&f, "reserved_concurrent_executions").is_none(), "{:?}", f.labels());
    }
}

#[test]
fn parameter_groups_can_be_replaced_and_the_replica_never_takes_a_final_snapshot() {
    for example in EXAMPLES {
        let files = render(example);
        for g in blocks(&files, "resource", "aws_db_parameter_group") {
            assert!(attr(&g, "name").is_none() && attr(&g, "name_prefix").is_some());
        }
        let replica = named(&files, "aws_db_instance", "dr");
        assert_eq!(attr(&replica, "skip_final_snapshot").unwrap(), "true", "{example:?}");
        assert!(attr(&replica, "final_snapshot_identifier").is_none());
    }
}

#[test]
fn every_named_resource_carries_the_suffix() {
    let files = render(None);
    let selection = named(&files, "aws_backup_selection", "primary");
    assert!(attr(&selection, "name").unwrap().contains("var.environment_suffix"));
    for p in blocks(&files, "resource", "aws_iam_role_policy") {
        assert!(attr(&p, "name").unwrap().contains("var.environment_suffix"), "{:?}", p.labels());
    }
    let zone = named(&files, "aws_route53_zone", "main");
    assert_eq!(attr(&zone, "name").unwrap(), "\"trading-db-${var.environment_suffix}.internal\"");
}

#[test]
fn the_fence_cannot_be_undone_by_an_apply() {
    let files = render(None);
    let primary = named(&files, "aws_db_instance", "primary");
    assert!(hcl::to_string(primary.body()).unwrap().contains("vpc_security_group_ids"));
    let lifecycle = primary.body().blocks().find(|b| b.identifier() == "lifecycle").unwrap();
    assert!(attr(lifecycle, "ignore_changes").unwrap().contains("vpc_security_group_ids"));
}

#[test]
fn an_existing_network_uses_its_real_range_and_its_own_endpoints() {
    let files = render(Some("examples/existing-network.hcl"));
    let network = text(&files, "network.tf");
    assert!(network.contains("postcondition"), "the plan must fail when vpc_cidr is wrong");
    assert!(network.contains("self.cidr_block == \"10.40.0.0/16\""));
    // Private DNS of the interface endpoints needs both DNS attributes on the existing VPC.
    assert!(network.contains("self.enable_dns_support && self.enable_dns_hostnames"), "{network}");
    let rule = named(&files, "aws_vpc_security_group_ingress_rule", "primary_db_from_networks");
    let admitted = attr(&rule, "for_each").unwrap();
    assert!(
        admitted.contains("data.aws_vpc.dr.cidr_block") && admitted.contains("192.168.10.0/24"),
        "{admitted}"
    );
    named(&files, "aws_vpc_security_group_ingress_rule", "primary_db_from_client_group_0");
    let endpoints = named(&files, "aws_vpc_endpoint", "primary");
    let services = attr(&endpoints, "for_each").unwrap();
    assert!(!services.contains("\"logs\""), "the VPC already has a logs endpoint: {services}");
    let route = blocks(&files, "resource", "aws_route")
        .into_iter()
        .find(|b| attr(b, "destination_cidr_block").is_some())
        .unwrap();
    assert!(attr(&route, "destination_cidr_block").unwrap().starts_with("data.aws_vpc."));
}

#[test]
fn a_retired_primary_is_no_longer_declared_and_the_writer_name_follows_the_dr_instance() {
    let files = render(Some("examples/after-failover.hcl"));
    let instances: Vec<String> = blocks(&files, "resource", "aws_db_instance")
        .iter()
        .map(|b| b.labels()[1].as_str().to_string())
        .collect();
    assert_eq!(instances, ["dr"]);
    for (path, body) in &files {
        let text = hcl::to_string(body).unwrap();
        assert!(!text.contains("aws_db_instance.primary"), "{path} still refers to the retired primary");
        assert!(!text.contains("dr_monitor"), "{path} still has the monitor");
    }
    for record in ["writer_primary", "writer_dr"] {
        assert_eq!(
            attr(&named(&files, "aws_route53_record", record), "records").unwrap(),
            "[aws_db_instance.dr.address]"
        );
    }
    // The fence still names the old primary, by identifier.
    let workflow = named(&files, "aws_lambda_function", "dr_failover");
    assert!(hcl::to_string(workflow.body())
        .unwrap()
        .contains("trading-db-primary-${var.environment_suffix}"));
}

#[test]
fn a_silent_monitor_pages_and_cannot_move_dns_back() {
    let files = render(None);
    // The authority alarm keeps its state when the monitor stops publishing...
    let authority = named(&files, "aws_cloudwatch_metric_alarm", "writer_authority");
    assert_eq!(attr(&authority, "treat_missing_data").unwrap(), "\"ignore\"");
    let check = named(&files, "aws_route53_health_check", "writer_authority");
    assert_eq!(attr(&check, "insufficient_data_health_status").unwrap(), "\"LastKnownStatus\"");
    // ...and the monitor's own metric going missing counts as failing, which pages.
    let silent = named(&files, "aws_cloudwatch_metric_alarm", "dr_probe_failures");
    assert_eq!(attr(&silent, "treat_missing_data").unwrap(), "\"breaching\"");
    assert_eq!(attr(&silent, "metric_name").unwrap(), "\"PrimaryReachable\"");
    assert!(attr(&silent, "alarm_actions").unwrap().contains("aws_sns_topic.dr_alerts.arn"));
}
