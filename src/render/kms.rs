//! A customer-managed KMS key per region, with rotation, an explicit key policy and an alias.

use hcl::expr::Expression;
use hcl::{Block, Body};

use super::aws::{account, arn, regional_service, resource_policy, root_principal, Statement};
use super::Doc;
use crate::model::{Side, Topology};
use crate::naming::AwsName;
use crate::syntax::{provider, r, resource, t};

/// Services that use the key on behalf of a caller in the account (through `kms:ViaService`).
const VIA_SERVICES: &[&str] =
    &["rds", "secretsmanager", "sns", "sqs", "ssm", "backup", "lambda", "states", "dynamodb"];

/// Services that use the key as themselves: CloudWatch alarms and EventBridge rules publish to
/// the SNS topics that the key encrypts. SNS asks KMS for them with the topic's ARN as the
/// encryption context (`aws:sns:topicArn`), so the statement is scoped by
/// `kms:EncryptionContext:aws:sns:topicArn`; `aws:SourceAccount` is not a key that EventBridge
/// supplies when it delivers to an encrypted topic, and a statement conditioned on it drops every
/// event (SNS developer guide, "Key management", compatibility with AWS services:
/// https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html). Step Functions publishes
/// with its execution role, through `ServicesOnBehalfOfAccount`.
pub const TOPIC_PUBLISHERS: [&str; 2] = ["cloudwatch.amazonaws.com", "events.amazonaws.com"];

/// A key and its alias. `via` lists the regional services (by endpoint prefix) that may use it
/// on behalf of the account; `topics` the SNS topics it encrypts, which AWS services publish to
/// as themselves.
pub fn key(
    m: &Topology,
    side: Side,
    label: &str,
    alias: &AwsName,
    description: &str,
    via: &[&str],
    topics: &[AwsName],
) -> [Block; 3] {
    let via_services: Vec<String> = via.iter().map(|s| regional_service(m, side, s)).collect();
    let mut statements = vec![
        Statement::allow("AccountAdministers", &["kms:*"], "*").principal("AWS", [root_principal(side)]),
        Statement::allow(
            "ServicesOnBehalfOfAccount",
            &[
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:CreateGrant",
                "kms:DescribeKey",
            ],
            "*",
        )
        .principal("AWS", [Expression::from("*")])
        .when("StringEquals", "kms:CallerAccount", [t(&account(side))])
        .when("StringEquals", "kms:ViaService", via_services.into_iter().map(Expression::String)),
        Statement::allow(
            "CloudWatchLogs",
            &["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "*",
        )
        .principal("Service", [Expression::String(regional_service(m, side, "logs"))])
        .when("ArnLike", "kms:EncryptionContext:aws:logs:arn", [arn(m, side, "logs", "log-group:*")]),
    ];
    if !topics.is_empty() {
        statements.push(
            Statement::allow("ServicesPublishingToTopics", &["kms:Decrypt", "kms:GenerateDataKey*"], "*")
                .principal("Service", TOPIC_PUBLISHERS.iter().map(|d| Expression::from(*d)))
                .when(
                    "StringEquals",
                    "kms:EncryptionContext:aws:sns:topicArn",
                    topics.iter().map(|name| arn(m, side, "sns", &name.template())),
                ),
        );
        // Vended log delivery writes the state machine's execution logs to a CMK-encrypted log
        // group (Step Functions developer guide, "Logging using CloudWatch Logs").
        statements.push(
            Statement::allow("LogDelivery", &["kms:Decrypt*", "kms:GenerateDataKey*"], "*")
                .principal("Service", [Expression::from("delivery.logs.amazonaws.com")])
                .when("StringEquals", "aws:SourceAccount", [t(&account(side))]),
        );
    }
    let (doc, key_policy) = resource_policy(&format!("{label}_key_policy"), statements);
    let key = resource(
        "aws_kms_key",
        label,
        Body::builder()
            .add_attribute(("provider", provider(side)))
            .add_attribute(("description", description))
            .add_attribute(("enable_key_rotation", true))
            .add_attribute(("deletion_window_in_days", if m.destroyable { 7 } else { 30 }))
            .add_attribute(("policy", key_policy))
            .build(),
    );
    let alias = resource(
        "aws_kms_alias",
        label,
        Body::builder()
            .add_attribute(("provider", provider(side)))
            .add_attribute(("name", alias.expr()))
            .add_attribute(("target_key_id", r(&format!("aws_kms_key.{label}.key_id"))))
            .build(),
    );
    [doc, key, alias]
}

pub fn render(m: &Topology, side: Side, doc: &mut Doc) {
    let description = format!("drgen {} key for the {} region ({})", m.name, side, m.region(side).region);
    doc.add(
        "kms.tf",
        key(
            m,
            side,
            side.label(),
            &m.names.kms_alias(side),
            &description,
            VIA_SERVICES,
            &[m.names.topic(side)],
        ),
    );
}
