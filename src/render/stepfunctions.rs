//! The DR-region state machine that carries out a failover. Every task runs one step of the
//! drgen workflow function (`lambda/drgen_lambda/workflow.py`), so each step is exercised by the
//! package's own tests: make sure the promotion has started, then in parallel fence the old
//! primary (retried for more than 24 hours, verified by its connections) and move the DR secret
//! to the promoted instance; page on every failure; announce. Logged to a CMK-encrypted group.

use hcl::expr::Expression;
use hcl::Body;

use super::aws::{log_group, role, role_policy, Statement};
use super::Doc;
use crate::model::{Side, Topology};
use crate::naming::Role;
use crate::syntax::{arr, json, labelled, obj, provider, r, resource, rs, strs, t};

fn s(v: &str) -> Expression {
    Expression::from(v.to_string())
}

/// Errors of the Lambda service and of the AWS calls inside the step: retried quickly.
const TRANSIENT: [&str; 5] = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "AwsError",
];

/// A retrier: `errors`, first after `interval` s, growing by `backoff` up to `max_delay` s.
fn retrier(
    errors: &[&str],
    interval: u32,
    attempts: u32,
    backoff: u32,
    max_delay: Option<u32>,
) -> Expression {
    let mut items = vec![
        ("ErrorEquals", strs(errors)),
        ("IntervalSeconds", Expression::from(u64::from(interval))),
        ("MaxAttempts", Expression::from(u64::from(attempts))),
        ("BackoffRate", Expression::from(u64::from(backoff))),
    ];
    if let Some(max) = max_delay {
        items.push(("MaxDelaySeconds", Expression::from(u64::from(max))));
    }
    obj(items)
}

/// A Task state that runs one step of the drgen workflow function (`workflow.STEPS`).
fn step(name: &str, retry: Vec<Expression>, on_error: &str, next: Option<&str>) -> Expression {
    let mut items = vec![
        ("Type", s("Task")),
        ("Resource", s("arn:aws:states:::lambda:invoke")),
        (
            "Parameters",
            obj([
                ("FunctionName", r("aws_lambda_function.dr_failover.arn")),
                ("Payload", obj([("step", s(name)), ("replica.$", s("$.replica"))])),
            ]),
        ),
        ("ResultPath", Expression::Null),
        ("Retry", arr(retry)),
        (
            "Catch",
            arr([obj([
                ("ErrorEquals", strs(["States.ALL"])),
                ("ResultPath", s("$.error")),
                ("Next", s(on_error)),
            ])]),
        ),
    ];
    items.push(match next {
        Some(n) => ("Next", s(n)),
        None => ("End", Expression::from(true)),
    });
    obj(items)
}

/// Publishes a page with the failed step's error, then continues at `next`.
fn page(subject: &str, next: &str) -> Expression {
    obj([
        ("Type", s("Task")),
        ("Resource", s("arn:aws:states:::sns:publish")),
        (
            "Parameters",
            obj([
                ("TopicArn", super::alerts::topic(Side::Dr)),
                ("Subject", s(subject)),
                ("Message.$", s("States.JsonToString($.error)")),
            ]),
        ),
        ("ResultPath", Expression::Null),
        ("Next", s(next)),
    ])
}

/// A branch's failure marker: pages were sent; the execution fails after the other branch ends.
fn failed(what: &str) -> Expression {
    obj([
        ("Type", s("Pass")),
        ("Result", s(what)),
        ("ResultPath", s("$.failed")),
        ("End", Expression::from(true)),
    ])
}

fn transient() -> Expression {
    retrier(&TRANSIENT, 5, 5, 2, None)
}

fn definition() -> Expression {
    let not_ready = ["NotReady"];
    // The fence keeps trying for more than 24 hours: the old primary's region may be down.
    // 30 s doubling to 15 minutes, 100 attempts: 30 + 60 + 120 + 240 + 480 + 95 x 900 s = 24.0 h.
    let fence_retry = retrier(
        &[
            "NotReady",
            "AwsError",
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
        ],
        30,
        100,
        2,
        Some(900),
    );
    let fence = obj([
        ("StartAt", s("Fence")),
        (
            "States",
            obj([
                ("Fence", step("fence", vec![fence_retry], "PageFence", Some("VerifyFence"))),
                // Connections are reported per minute: 30 minutes for them to drop to 0.
                (
                    "VerifyFence",
                    step(
                        "verify_fence",
                        vec![retrier(&not_ready, 60, 30, 1, None), transient()],
                        "PageFence",
                        None,
                    ),
                ),
                ("PageFence", page("drgen: old primary NOT fenced: split-brain risk", "FenceFailed")),
                ("FenceFailed", failed("fence")),
            ]),
        ),
    ]);
    let secret = obj([
        ("StartAt", s("AwaitStandalone")),
        (
            "States",
            obj([
                // RDS promotion takes "several minutes or longer": wait up to 2 hours.
                (
                    "AwaitStandalone",
                    step(
                        "await_standalone",
                        vec![retrier(&not_ready, 60, 120, 1, None), transient()],
                        "PageSecret",
                        Some("PromoteSecret"),
                    ),
                ),
                ("PromoteSecret", step("promote_secret", vec![transient()], "PageSecret", None)),
                ("PageSecret", page("drgen: promoted replica not ready or secret not moved", "SecretFailed")),
                ("SecretFailed", failed("secret")),
            ]),
        ),
    ]);
    let any_failed = arr([
        obj([("Variable", s("$.branches[0].failed")), ("IsPresent", Expression::from(true))]),
        obj([("Variable", s("$.branches[1].failed")), ("IsPresent", Expression::from(true))]),
    ]);
    obj([
        (
            "Comment",
            s("drgen failover: promote, then fence the old primary and move the secret to the new writer"),
        ),
        ("StartAt", s("EnsurePromoted")),
        ("TimeoutSeconds", Expression::from(93_600)),
        (
            "States",
            obj([
                (
                    "EnsurePromoted",
                    step(
                        "ensure_promoted",
                        vec![retrier(&not_ready, 30, 20, 1, None), transient()],
                        "ReportFailure",
                        Some("AfterPromotion"),
                    ),
                ),
                (
                    "AfterPromotion",
                    obj([
                        ("Type", s("Parallel")),
                        ("Branches", arr([fence, secret])),
                        ("ResultPath", s("$.branches")),
                        ("Next", s("CheckBranches")),
                    ]),
                ),
                (
                    "CheckBranches",
                    obj([
                        ("Type", s("Choice")),
                        ("Choices", arr([obj([("Or", any_failed), ("Next", s("Failed"))])])),
                        ("Default", s("Announce")),
                    ]),
                ),
                ("Announce", step("announce", vec![transient()], "ReportFailure", None)),
                ("ReportFailure", page("drgen failover FAILED", "Failed")),
                ("Failed", obj([("Type", s("Fail")), ("Error", s("FailoverFailed"))])),
            ]),
        ),
    ])
}

pub fn render(m: &Topology, doc: &mut Doc) {
    let side = Side::Dr;
    let p = || provider(side);
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
                "RunTheSteps",
                &["lambda:InvokeFunction"],
                r("aws_lambda_function.dr_failover.arn"),
            ),
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
        Body::builder().add_attribute(("promote_definition", definition())).build(),
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
        "State machine of the failover workflow (promote, fence, secret).",
        r("aws_sfn_state_machine.promote.arn"),
    );
}
