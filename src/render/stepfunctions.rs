//! The DR-region state machine that carries out a failover. Every task runs one step of the
//! drgen workflow function (`lambda/drgen_lambda/workflow.py`), so each step is exercised by the
//! package's own tests: make sure the promotion has started, then in parallel fence the old
//! primary (for more than 24 hours, verified by its connections) and move the DR secret to the
//! promoted instance; page on every failure; announce. Logged to a CMK-encrypted group.
//!
//! Waiting is not failing. A step whose condition does not hold yet answers
//! `{"ready": false, "waiting_for": ...}` as a normal result, so a healthy failover adds nothing
//! to the function's `Errors` metric and its alarm. The machine loops on such an answer: Choice →
//! Wait → a Pass state that counts the wait with the `States.MathAdd` intrinsic → the step again,
//! and gives up through a page when the counter reaches its bound
//! (https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html). Only real
//! errors (`AwsError`, the Lambda service's errors) go through `Retry` with backoff
//! (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html), and then
//! through `Catch` to a page. The bounds keep the longest execution below the 25,000 history
//! events that a Standard execution may have
//! (https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html).

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

/// How long a step that answers "not ready" is waited for: asked again every `every` seconds,
/// after at most `waits` waits it gives up.
#[derive(Clone, Copy)]
struct Bound {
    every: u32,
    waits: u32,
}

/// PromoteReadReplica needs an `available` replica: 10 minutes, every 30 s.
const PROMOTABLE: Bound = Bound { every: 30, waits: 20 };
/// The old primary's region may be down: the fence keeps trying for more than 24 hours
/// (1441 waits of a minute: 24 h 1 min), and lands within about a minute of its region's API
/// answering again.
const FENCED: Bound = Bound { every: 60, waits: 1441 };
/// The lease wait after taking the ARC authority is polled every 10 s; a few polls more than it
/// needs absorb the steps' own run time.
const LEASE_POLL: Bound = Bound { every: 10, waits: 6 };
/// Connections are reported per minute: 30 minutes for them to drop to 0.
const CONFIRMED: Bound = Bound { every: 60, waits: 30 };
/// RDS promotion takes "several minutes or longer"
/// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Promote.html): the
/// secret waits for a standalone writer up to 2 hours.
const STANDALONE: Bound = Bound { every: 60, waits: 120 };
/// drgen's promotion bound: a promotion that has not finished 30 minutes after the workflow
/// started waiting for it pages (and the wait goes on), as RUNBOOK.md documents.
pub const PROMOTION_BOUND_SECONDS: u32 = 1800;
/// The whole execution: 28 hours, above the longest path (the promotion check, the fence's
/// 24 h 1 min and its 30-minute confirmation, 24.7 hours of waits) plus the steps' own run time.
const EXECUTION_TIMEOUT_SECONDS: u32 = 100_800;

/// Where a Lambda task keeps the step's answer, and a Choice reads whether it is ready.
const ANSWER: &str = "$.answer";
const READY: &str = "$.answer.result.ready";

/// A Task state that runs one step of the drgen workflow function (`workflow.STEPS`) and keeps
/// its answer at `$.answer`. Every error the retriers do not absorb goes to `on_error`, a page.
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
        ("ResultSelector", obj([("step", s(name)), ("result.$", s("$.Payload"))])),
        ("ResultPath", s(ANSWER)),
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

/// Publishes a page with `message` (a States.Format or States.JsonToString intrinsic), then
/// continues at `next`.
fn publish(subject: &str, message: &str, next: &str) -> Vec<(&'static str, Expression)> {
    vec![
        ("Type", s("Task")),
        ("Resource", s("arn:aws:states:::sns:publish")),
        (
            "Parameters",
            obj([
                ("TopicArn", super::alerts::topic(Side::Dr)),
                ("Subject", s(subject)),
                ("Message.$", s(message)),
            ]),
        ),
        ("ResultPath", Expression::Null),
        ("Next", s(next)),
    ]
}

/// Publishes a page with the failed step's error, then continues at `next`.
fn page(subject: &str, next: &str) -> Expression {
    obj(publish(subject, "States.JsonToString($.error)", next))
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

fn succeed() -> Expression {
    obj([("Type", s("Succeed"))])
}

fn transient() -> Expression {
    retrier(&TRANSIENT, 5, 5, 2, None)
}

/// The Choice rules that send an answer without a boolean `ready` to `elsewhere`. A Choice
/// rule on a path that is absent fails the execution (uncatchably), so `ready` is tested for
/// presence and type before its value.
fn malformed(elsewhere: &str) -> Vec<Expression> {
    ["IsPresent", "IsBoolean"]
        .into_iter()
        .map(|test| {
            obj([
                ("Not", obj([("Variable", s(READY)), (test, Expression::from(true))])),
                ("Next", s(elsewhere)),
            ])
        })
        .collect()
}

/// A step that may answer "not ready", as the states of a bounded loop:
/// `Start<Name>` (counter = 0) → `<Name>` (the step) → `<Name>Answered` (ready: `next`; not
/// ready and fewer than `bound.waits` waits: `Wait<Name>` → `Count<Name>` (counter + 1) →
/// `<Name>`; otherwise `<Name>GaveUp` (the answer as the error) → `page`). With `late`, the
/// loop pages once after so many waits (`<Name>Late`), and keeps waiting.
struct Poll<'a> {
    name: &'a str,
    step: &'a str,
    bound: Bound,
    retry: Vec<Expression>,
    page: &'a str,
    next: &'a str,
    late: Option<Late>,
}

/// A page in the middle of a wait: after `after` waits, `subject`, with `message` (an intrinsic
/// that may read the step's last answer at `$.answer`).
struct Late {
    after: u32,
    subject: String,
    message: String,
}

impl Poll<'_> {
    fn entry(&self) -> String {
        format!("Start{}", self.name)
    }

    fn answered(&self) -> String {
        format!("{}Answered", self.name)
    }

    fn wait(&self) -> String {
        format!("Wait{}", self.name)
    }

    fn gave_up(&self) -> String {
        format!("{}GaveUp", self.name)
    }

    fn late(&self) -> String {
        format!("{}Late", self.name)
    }

    /// The counter of waits, an object `{"n": …}` in the execution's data.
    fn counter(&self) -> String {
        format!("$.{}_checks", self.step)
    }

    /// The Choice on an answer at `$.answer`: ready goes to `ready`; not ready waits (paging
    /// once at the late mark, if asked) while the counter is below the bound; anything else, or
    /// the bound reached, gives up.
    fn decide(&self, ready: &str, page_late: bool) -> Expression {
        let n = format!("{}.n", self.counter());
        let mut rules = malformed(&self.gave_up());
        rules.push(obj([
            ("Variable", s(READY)),
            ("BooleanEquals", Expression::from(true)),
            ("Next", s(ready)),
        ]));
        if let Some(late) = self.late.as_ref().filter(|_| page_late) {
            rules.push(obj([
                ("Variable", s(&n)),
                ("NumericEquals", Expression::from(u64::from(late.after))),
                ("Next", s(&self.late())),
            ]));
        }
        rules.push(obj([
            ("Variable", s(&n)),
            ("NumericLessThan", Expression::from(u64::from(self.bound.waits))),
            ("Next", s(&self.wait())),
        ]));
        obj([("Type", s("Choice")), ("Choices", arr(rules)), ("Default", s(&self.gave_up()))])
    }

    fn states(self) -> Vec<(String, Expression)> {
        let (task, counter, wait) = (self.name.to_string(), self.counter(), self.wait());
        let count = format!("Count{}", self.name);
        let cause = format!(
            "States.Format('{} not done after {{}} waits of {} s, bound {}; its last answer: {{}}', {counter}.n, States.JsonToString({ANSWER}))",
            self.step, self.bound.every, self.bound.waits
        );
        let mut states = vec![
            (
                self.entry(),
                obj([
                    ("Type", s("Pass")),
                    ("Result", obj([("n", Expression::from(0))])),
                    ("ResultPath", s(&counter)),
                    ("Next", s(&task)),
                ]),
            ),
            (task.clone(), step(self.step, self.retry.clone(), self.page, Some(&self.answered()))),
            (self.answered(), self.decide(self.next, true)),
            (
                wait.clone(),
                obj([
                    ("Type", s("Wait")),
                    ("Seconds", Expression::from(u64::from(self.bound.every))),
                    ("Next", s(&count)),
                ]),
            ),
            (
                count,
                obj([
                    ("Type", s("Pass")),
                    ("Parameters", obj([("n.$", s(&format!("States.MathAdd({counter}.n, 1)")))])),
                    ("ResultPath", s(&counter)),
                    ("Next", s(&task)),
                ]),
            ),
            (
                self.gave_up(),
                obj([
                    ("Type", s("Pass")),
                    ("Parameters", obj([("Error", s("GaveUpWaiting")), ("Cause.$", s(&cause))])),
                    ("ResultPath", s("$.error")),
                    ("Next", s(self.page)),
                ]),
            ),
        ];
        if let Some(late) = &self.late {
            // A page that fails must not end the wait: its error is kept aside.
            let mut items = publish(&late.subject, &late.message, &wait);
            items.push((
                "Catch",
                arr([obj([
                    ("ErrorEquals", strs(["States.ALL"])),
                    ("ResultPath", s("$.late_page_error")),
                    ("Next", s(&wait)),
                ])]),
            ));
            states.push((self.late(), obj(items)));
        }
        states
    }
}

fn definition(m: &Topology) -> Expression {
    // Real errors of the fence (its region's API down) are retried as long as its waits last,
    // with delays of at most a minute: 30 s, then 60 s, 1441 retries: 24 h 30 s.
    let fence = Poll {
        name: "Fence",
        step: "fence",
        bound: FENCED,
        retry: vec![retrier(&TRANSIENT, 30, FENCED.waits, 2, Some(60))],
        page: "PageFence",
        next: "StartVerifyFence",
        late: None,
    };
    let verify = Poll {
        name: "VerifyFence",
        step: "verify_fence",
        bound: CONFIRMED,
        retry: vec![transient()],
        page: "PageFence",
        next: "Fenced",
        late: None,
    };
    let fence_start = fence.entry();
    let mut fence_states = fence.states();
    fence_states.extend(verify.states());
    fence_states.extend([
        ("Fenced".to_string(), succeed()),
        ("PageFence".into(), page("drgen: old primary NOT fenced: split-brain risk", "FenceFailed")),
        ("FenceFailed".into(), failed("fence")),
    ]);
    let fence = obj([("StartAt", s(&fence_start)), ("States", obj(fence_states))]);

    let standalone = Poll {
        name: "AwaitStandalone",
        step: "await_standalone",
        bound: STANDALONE,
        retry: vec![transient()],
        page: "PageSecret",
        next: "PromoteSecret",
        late: Some(Late {
            after: PROMOTION_BOUND_SECONDS / STANDALONE.every,
            subject: format!(
                "drgen: promotion not finished after {} minutes; still waiting",
                PROMOTION_BOUND_SECONDS / 60
            ),
            message: format!(
                "States.Format('RDS has not finished promoting the replica; the workflow waits for a standalone writer up to {} minutes in all before it gives up. Its last answer: {{}}', States.JsonToString({ANSWER}))",
                STANDALONE.waits * STANDALONE.every / 60
            ),
        }),
    };
    // The secret step finds no standalone writer after all: back to the same bounded wait.
    let (secret_start, moved) = (standalone.entry(), standalone.decide("SecretMoved", false));
    let mut secret_states = standalone.states();
    secret_states.extend([
        (
            "PromoteSecret".to_string(),
            step("promote_secret", vec![transient()], "PageSecret", Some("SecretMovedOrWaiting")),
        ),
        ("SecretMovedOrWaiting".into(), moved),
        ("SecretMoved".into(), succeed()),
        ("PageSecret".into(), page("drgen: promoted replica not ready or secret not moved", "SecretFailed")),
        ("SecretFailed".into(), failed("secret")),
    ]);
    let secret = obj([("StartAt", s(&secret_start)), ("States", obj(secret_states))]);

    let promoted = Poll {
        name: "EnsurePromoted",
        step: "ensure_promoted",
        bound: PROMOTABLE,
        retry: vec![transient()],
        page: "ReportFailure",
        next: "AfterPromotion",
        late: None,
    };
    let mut start = promoted.entry();
    let mut states = Vec::new();
    if let Some(wait) = m.failover.lease_wait_seconds() {
        // The ARC authority: taken before the promotion, then the lease waited out, so that an
        // old primary cut off from the DR side has fenced itself first. ARC unreachable from
        // here: retried for about five minutes, then a page and no promotion.
        let lease = Poll {
            name: "AwaitLease",
            step: "await_lease",
            bound: Bound {
                every: LEASE_POLL.every,
                waits: wait.div_ceil(LEASE_POLL.every) + LEASE_POLL.waits,
            },
            retry: vec![transient()],
            page: "ReportFailure",
            next: &start,
            late: None,
        };
        let lease_start = lease.entry();
        states.push((
            "TakeAuthority".to_string(),
            step(
                "take_authority",
                vec![retrier(&TRANSIENT, 10, 30, 1, None)],
                "PageAuthority",
                Some(&lease_start),
            ),
        ));
        states.push((
            "PageAuthority".to_string(),
            page("drgen: writer authority NOT taken in ARC; no promotion", "Failed"),
        ));
        states.extend(lease.states());
        start = "TakeAuthority".to_string();
    }
    let any_failed = arr([
        obj([("Variable", s("$.branches[0].failed")), ("IsPresent", Expression::from(true))]),
        obj([("Variable", s("$.branches[1].failed")), ("IsPresent", Expression::from(true))]),
    ]);
    states.extend(promoted.states());
    states.extend([
        (
            "AfterPromotion".to_string(),
            obj([
                ("Type", s("Parallel")),
                ("Branches", arr([fence, secret])),
                ("ResultPath", s("$.branches")),
                (
                    "Catch",
                    arr([obj([
                        ("ErrorEquals", strs(["States.ALL"])),
                        ("ResultPath", s("$.error")),
                        ("Next", s("ReportFailure")),
                    ])]),
                ),
                ("Next", s("CheckBranches")),
            ]),
        ),
        (
            "CheckBranches".into(),
            obj([
                ("Type", s("Choice")),
                ("Choices", arr([obj([("Or", any_failed), ("Next", s("Failed"))])])),
                ("Default", s("Announce")),
            ]),
        ),
        ("Announce".into(), step("announce", vec![transient()], "ReportFailure", None)),
        ("ReportFailure".into(), page("drgen failover FAILED", "Failed")),
        ("Failed".into(), obj([("Type", s("Fail")), ("Error", s("FailoverFailed"))])),
    ]);
    obj([
        (
            "Comment",
            s("drgen failover: promote, then fence the old primary and move the secret to the new writer"),
        ),
        ("StartAt", s(&start)),
        ("TimeoutSeconds", Expression::from(u64::from(EXECUTION_TIMEOUT_SECONDS))),
        ("States", obj(states)),
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
        "State machine of the failover workflow (promote, fence, secret).",
        r("aws_sfn_state_machine.promote.arn"),
    );
}
