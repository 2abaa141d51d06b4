//! The module layout: the same topology as a child module that a root of the user's own calls.
//! The root keeps the backend and the providers; the module declares the two provider aliases it
//! needs, takes the suffix and the tags as inputs, tags every resource that can carry tags, and
//! refuses at plan time a provider configured for another region than the model's.

use hcl::expr::{BinaryOp, BinaryOperator, Expression};
use hcl::{Block, Body, Structure};

use super::Doc;
use crate::model::{Side, Topology};
use crate::naming::SUFFIX_VAR;
use crate::syntax::{arr, call, data, labelled, obj, postcondition, provider, r};

/// The resource types drgen renders that take `tags` (per the AWS provider 5.x schema; a test
/// compares this list with the schema and with every rendering).
pub const TAGGABLE: [&str; 33] = [
    "aws_api_gateway_rest_api",
    "aws_api_gateway_stage",
    "aws_backup_plan",
    "aws_backup_vault",
    "aws_cloudwatch_event_rule",
    "aws_cloudwatch_log_group",
    "aws_cloudwatch_metric_alarm",
    "aws_db_instance",
    "aws_db_parameter_group",
    "aws_db_subnet_group",
    "aws_default_security_group",
    "aws_dynamodb_table",
    "aws_flow_log",
    "aws_iam_role",
    "aws_kms_key",
    "aws_lambda_function",
    "aws_route53_health_check",
    "aws_route53_zone",
    "aws_route_table",
    "aws_secretsmanager_secret",
    "aws_security_group",
    "aws_serverlessapplicationrepository_cloudformation_stack",
    "aws_sfn_state_machine",
    "aws_sns_topic",
    "aws_sqs_queue",
    "aws_ssm_parameter",
    "aws_subnet",
    "aws_vpc",
    "aws_vpc_endpoint",
    "aws_vpc_peering_connection",
    "aws_vpc_peering_connection_accepter",
    "aws_vpc_security_group_egress_rule",
    "aws_vpc_security_group_ingress_rule",
];

/// The `terraform` block of a child module: the provider and the two aliases the caller passes.
fn versions() -> Block {
    let aliases = arr(Side::BOTH.map(|side| r(&format!("aws.{}", side.label()))));
    super::root::versions_with(Some(aliases))
}

fn tags_variable() -> Block {
    labelled(
        "variable",
        &["tags"],
        Body::builder()
            .add_attribute((
                "description",
                "Tags for every resource that takes tags, on top of drgen's own (Environment, CostCenter, ManagedBy, environmentSuffix) and the calling providers' default_tags.",
            ))
            .add_attribute(("type", call("map", [r("string")])))
            .add_attribute(("default", obj(Vec::<(String, Expression)>::new())))
            .build(),
    )
}

/// drgen's own tags, which the root layout sets as the providers' default tags.
fn drgen_tags(m: &Topology) -> Block {
    let tags = m.default_tags().into_iter().map(|(k, v)| {
        let value = if k == "environmentSuffix" { r(SUFFIX_VAR) } else { Expression::String(v) };
        (k, value)
    });
    labelled("locals", &[], Body::builder().add_attribute(("drgen_tags", obj(tags))).build())
}

/// A region check per provider alias: the ARNs and service names in the module name the
/// model's regions, so a provider configured for another region must fail the plan.
fn region_checks(m: &Topology) -> Vec<Block> {
    Side::BOTH
        .map(|side| {
            let region = m.region(side).region.name();
            let condition = Expression::from(BinaryOp::new(
                r("self.name"),
                BinaryOperator::Eq,
                Expression::from(region),
            ));
            data(
                "aws_region",
                side.label(),
                Body::builder()
                    .add_attribute(("provider", provider(side)))
                    .add_block(labelled(
                        "lifecycle",
                        &[],
                        Body::builder()
                            .add_block(postcondition(
                                condition,
                                format!(
                                    "The provider passed as aws.{} must be configured for {region}, the region this module was rendered for.",
                                    side.label()
                                ),
                            ))
                            .build(),
                    ))
                    .build(),
            )
        })
        .to_vec()
}

/// The module's own settings: versions, the tags input, drgen's tags and the region checks.
pub fn render(m: &Topology, doc: &mut Doc) {
    doc.add("versions.tf", [versions()]);
    doc.add("variables.tf", [tags_variable()]);
    doc.add("variables.tf", [drgen_tags(m)]);
    doc.add("data.tf", region_checks(m));
}

/// `tags = merge(local.drgen_tags, var.tags[, <the resource's own tags>])` on every taggable
/// resource of a body.
pub fn tag_everything(body: Body) -> Body {
    let structures = body.into_iter().map(|s| match s {
        Structure::Block(block) if is_taggable(&block) => Structure::Block(tagged(block)),
        other => other,
    });
    Body::from(structures.collect::<Vec<_>>())
}

fn is_taggable(block: &Block) -> bool {
    block.identifier() == "resource" && block.labels().first().is_some_and(|t| TAGGABLE.contains(&t.as_str()))
}

fn tagged(block: Block) -> Block {
    let base = || vec![r("local.drgen_tags"), r("var.tags")];
    let mut found = false;
    let body: Vec<Structure> = block
        .body
        .into_iter()
        .map(|s| match s {
            Structure::Attribute(mut a) if a.key() == "tags" => {
                found = true;
                let mut args = base();
                args.push(a.expr.clone());
                a.expr = call("merge", args);
                Structure::Attribute(a)
            }
            other => other,
        })
        .collect();
    let mut body = body;
    if !found {
        // Attributes come before nested blocks in drgen's output; keep that order.
        let at = body.iter().position(|s| matches!(s, Structure::Block(_))).unwrap_or(body.len());
        body.insert(at, Structure::Attribute(hcl::Attribute::new("tags", call("merge", base()))));
    }
    Block { identifier: block.identifier, labels: block.labels, body: Body::from(body) }
}
