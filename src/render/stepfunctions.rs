//! The DR-region state machine that carries out a failover: check the replica again,
//! promote it, poll until it is a writable, available instance, then announce. Logged to a
//! CMK-encrypted log group. Only rendered when `failover.step_functions` is on; otherwise the
//! monitor promotes directly.

use hcl::expr::Expression;
use hcl::Body;

use super::aws::{arn, log_group, role, role_policy, Statement};
use super::Doc;
use crate::model::{Side, Topology};
use crate::naming::Role;
use crate::syntax::{arr, json, labelled, obj, provider, r, resource, rs, strs, t};

fn s(v: &str) -> Expression {
    Expression::from(v.to_string())
}

/// A Task state that describes the replica and keeps the instance under `result`.
fn describe(result: &str, next: &str) -> Expression {
    obj([
        ("Type", s("Task")),
        ("Resource", s("arn:aws:states:::aws-sdk:rds:describeDBInstances")),
        ("Parameters", obj([("DbInstanceIdentifier.$", s("$.replica"))])),
        ("ResultSelector", obj([("instance.$", s("$.DbInstances[0]"))])),
        ("ResultPath", s(result)),
        ("Retry", retry()),
        ("Catch", catch()),
        ("Next", s(next)),
    ])
}

/// A Choice state: go to `next` when the instance kept under `result` is available and
/// (`replica`) still has, or (`!replica`) no longer has, a replication source.
fn available(result: &str, replica: bool, next: &str, otherwise: &str) -> Expression {
    let condition = arr([
        obj([
            ("Variable", s(&format!("{result}.instance.DbInstanceStatus"))),
            ("StringEquals", s("available")),
        ]),
        obj([
            ("Variable", s(&format!("{result}.instance.ReadReplicaSourceDbInstanceIdentifier"))),
            ("IsPresent", Expression::from(replica)),
        ]),
    ]);
    obj([
        ("Type", s("Choice")),
        ("Choices", arr([obj([("And", condition), ("Next", s(next))])])),
        ("Default", s(otherwise)),
    ])
}

fn retry() -> Expression {
    arr([obj([
        ("ErrorEquals", strs(["States.TaskFailed"])),
        ("IntervalSeconds", Expression::from(5)),
        ("MaxAttempts", Expression::from(3)),
        ("BackoffRate", Expression::from(2)),
    ])])
}

fn catch() -> Expression {
    arr([obj([
        ("ErrorEquals", strs(["States.ALL"])),
        ("ResultPath", s("$.error")),
        ("Next", s("ReportFailure")),
    ])])
}

fn definition(m: &Topology) -> Expression {
    let topic = super::alerts::topic(Side::Dr);
    obj([
        ("Comment", s("Promote the drgen DR replica and announce it")),
        ("StartAt", s("CheckReplica")),
        ("TimeoutSeconds", Expression::from(3600)),
        (
            "States",
            obj([
                ("CheckReplica", describe("$.before", "StillAReplica")),
                ("StillAReplica", available("$.before", true, "Promote", "NothingToDo")),
                ("NothingToDo", obj([("Type", s("Succeed")), ("Comment", s("Already promoted or busy"))])),
                (
                    "Promote",
                    obj([
                        ("Type", s("Task")),
                        ("Resource", s("arn:aws:states:::aws-sdk:rds:promoteReadReplica")),
                        (
                            "Parameters",
                            obj([
                                ("DbInstanceIdentifier.$", s("$.replica")),
                                (
                                    "BackupRetentionPeriod",
                                    Expression::from(u64::from(m.database.backup_retention_days)),
                                ),
                            ]),
                        ),
                        ("ResultPath", Expression::Null),
                        ("Catch", catch()),
                        ("Next", s("WaitForPromotion")),
                    ]),
                ),
                (
                    "WaitForPromotion",
                    obj([
                        ("Type", s("Wait")),
                        ("Seconds", Expression::from(30)),
                        ("Next", s("CheckPromotion")),
                    ]),
                ),
                ("CheckPromotion", describe("$.after", "Promoted")),
                ("Promoted", available("$.after", false, "Announce", "WaitForPromotion")),
                (
                    "Announce",
                    obj([
                        ("Type", s("Task")),
                        ("Resource", s("arn:aws:states:::events:putEvents")),
                        (
                            "Parameters",
                            obj([(
                                "Entries",
                                arr([obj([
                                    ("Source", s("drgen.failover")),
                                    ("DetailType", s("drgen failover completed")),
                                    (
                                        "Detail",
                                        obj([("replica.$", s("$.replica")), ("reason.$", s("$.reason"))]),
                                    ),
                                    ("EventBusName", s("default")),
                                ])]),
                            )]),
                        ),
                        ("ResultPath", Expression::Null),
                        ("Catch", catch()),
                        ("Next", s("Notify")),
                    ]),
                ),
                (
                    "Notify",
                    obj([
                        ("Type", s("Task")),
                        ("Resource", s("arn:aws:states:::sns:publish")),
                        (
                            "Parameters",
                            obj([
                                ("TopicArn", topic.clone()),
                                ("Subject", s("drgen failover completed")),
                                (
                                    "Message.$",
                                    s("States.Format('The replica {} is promoted and writable.', $.replica)"),
                                ),
                            ]),
                        ),
                        ("End", Expression::from(true)),
                    ]),
                ),
                (
                    "ReportFailure",
                    obj([
                        ("Type", s("Task")),
                        ("Resource", s("arn:aws:states:::sns:publish")),
                        (
                            "Parameters",
                            obj([
                                ("TopicArn", topic),
                                ("Subject", s("drgen failover FAILED")),
                                ("Message.$", s("States.JsonToString($.error)")),
                            ]),
                        ),
                        ("Next", s("Failed")),
                    ]),
                ),
                ("Failed", obj([("Type", s("Fail")), ("Error", s("PromotionFailed"))])),
            ]),
        ),
    ])
}

pub fn render(m: &Topology, doc: &mut Doc) {
    if !m.failover.step_functions {
        return;
    }
    let side = Side::Dr;
    let p = || provider(side);
    let replica = rs("aws_db_instance", side, "arn");
    let mut blocks = vec![log_group(m, "promote", side, m.names.state_machine_log_group().expr())];
    blocks.extend(role(
        "promote",
        side,
        &m.names.role(Role::Promoter, side),
        "states.amazonaws.com",
        "Runs the drgen failover state machine.",
    ));
    blocks.extend(role_policy(
        "promote",
        side,
        "promote",
        vec![
            Statement::allow(
                "PromoteTheReplica",
                &["rds:DescribeDBInstances", "rds:PromoteReadReplica"],
                replica,
            ),
            Statement::allow("Announce", &["events:PutEvents"], arn(m, side, "events", "event-bus/default")),
            Statement::allow("Notify", &["sns:Publish"], super::alerts::topic(side)),
            Statement::allow(
                "UseTheKey",
                &["kms:Decrypt", "kms:GenerateDataKey"],
                rs("aws_kms_key", side, "arn"),
            ),
            // Log delivery and X-Ray have no resource-level permissions.
            Statement::allow(
                "DeliverLogs",
                &[
                    "logs:CreateLogDelivery",
                    "logs:GetLogDelivery",
                    "logs:UpdateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:DescribeResourcePolicies",
                    "logs:DescribeLogGroups",
                ],
                "*",
            ),
            Statement::allow(
                "Tracing",
                &[
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                ],
                "*",
            ),
        ],
    ));
    blocks.push(labelled(
        "locals",
        &[],
        Body::builder().add_attribute(("promote_definition", definition(m))).build(),
    ));
    blocks.push(resource(
        "aws_sfn_state_machine",
        "promote",
        Body::builder()
            .add_attribute(("provider", p()))
            .add_attribute(("name", m.names.state_machine().expr()))
            .add_attribute(("role_arn", r("aws_iam_role.promote.arn")))
            .add_attribute(("type", "STANDARD"))
            .add_attribute(("definition", json(r("local.promote_definition"))))
            .add_block(labelled(
                "logging_configuration",
                &[],
                Body::builder()
                    .add_attribute(("log_destination", t("${aws_cloudwatch_log_group.promote.arn}:*")))
                    .add_attribute(("include_execution_data", true))
                    .add_attribute(("level", "ALL"))
                    .build(),
            ))
            .add_block(labelled(
                "tracing_configuration",
                &[],
                Body::builder().add_attribute(("enabled", true)).build(),
            ))
            .add_block(labelled(
                "encryption_configuration",
                &[],
                Body::builder()
                    .add_attribute(("type", "CUSTOMER_MANAGED_KMS_KEY"))
                    .add_attribute(("kms_key_id", rs("aws_kms_key", side, "arn")))
                    .add_attribute(("kms_data_key_reuse_period_seconds", 300))
                    .build(),
            ))
            .add_attribute(("depends_on", arr([r("aws_iam_role_policy.promote")])))
            .build(),
    ));
    doc.add("stepfunctions.tf", blocks);
    doc.output(
        "state_machine_arn",
        "State machine that promotes the DR replica.",
        r("aws_sfn_state_machine.promote.arn"),
    );
}
