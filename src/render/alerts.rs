//! Notifications: a CMK-encrypted SNS topic in each region with the model's email
//! subscriptions, and EventBridge rules that send the database's RDS events (and, in DR,
//! drgen's own failover events) to the topic of the same region.

use hcl::expr::Expression;
use hcl::Body;

use super::aws::{policy, Statement};
use super::Doc;
use crate::model::{Side, Topology};
use crate::syntax::{arr, json, obj, provider, r, resource, rs, strs, t};

/// The RDS event categories that matter for a failover.
const RDS_CATEGORIES: &[&str] = &[
    "availability",
    "failover",
    "failure",
    "low storage",
    "maintenance",
    "notification",
    "read replica",
    "recovery",
];

/// `aws_sns_topic.<side>_alerts.arn`: where the side's alarms and events go.
pub fn topic(side: Side) -> Expression {
    r(&format!("aws_sns_topic.{side}_alerts.arn"))
}

pub fn render(m: &Topology, side: Side, doc: &mut Doc) {
    let p = || provider(side);
    let label = format!("{side}_alerts");
    let (topic_doc, topic_policy) = policy(
        &format!("{label}_topic"),
        side,
        [
            Statement::allow(
                "AccountManagesTopic",
                &["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes"],
                topic(side),
            )
            .principal("AWS", [super::aws::root_principal(side)]),
            Statement::allow("EventsAndAlarmsPublish", &["sns:Publish"], topic(side))
                .principal(
                    "Service",
                    [Expression::from("events.amazonaws.com"), Expression::from("cloudwatch.amazonaws.com")],
                )
                .when("StringEquals", "aws:SourceAccount", [t(&super::aws::account(side))]),
        ],
    );
    let mut blocks = vec![
        resource(
            "aws_sns_topic",
            &label,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("name", m.names.topic(side).expr()))
                .add_attribute(("kms_master_key_id", rs("aws_kms_key", side, "arn")))
                .build(),
        ),
        topic_doc,
        resource(
            "aws_sns_topic_policy",
            &label,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("arn", topic(side)))
                .add_attribute(("policy", topic_policy))
                .build(),
        ),
    ];
    for (i, email) in m.monitoring.alarm_emails.iter().enumerate() {
        blocks.push(resource(
            "aws_sns_topic_subscription",
            &format!("{label}_email_{i}"),
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("topic_arn", topic(side)))
                .add_attribute(("protocol", "email"))
                .add_attribute(("endpoint", email.as_str()))
                .build(),
        ));
    }

    let mut rules = vec![(
        "rds_events",
        m.names.regional_purpose("rds-events", side),
        "RDS events of this region's database instance",
        obj([
            ("source", strs(["aws.rds"])),
            ("detail-type", strs(["RDS DB Instance Event"])),
            ("resources", arr([super::database::arn(m, side)])),
            ("detail", obj([("EventCategories", strs(RDS_CATEGORIES))])),
        ]),
    )];
    if side == Side::Dr {
        rules.push((
            "failover_events",
            m.names.rule("failover-events", side),
            "drgen's failover announcements",
            obj([("source", strs(["drgen.failover"]))]),
        ));
    }
    for (what, name, description, pattern) in rules {
        let rule = format!("{side}_{what}");
        blocks.push(resource(
            "aws_cloudwatch_event_rule",
            &rule,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("name", name.expr()))
                .add_attribute(("description", description))
                .add_attribute(("event_pattern", json(pattern)))
                .build(),
        ));
        blocks.push(resource(
            "aws_cloudwatch_event_target",
            &rule,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("rule", r(&format!("aws_cloudwatch_event_rule.{rule}.name"))))
                .add_attribute(("arn", topic(side)))
                .build(),
        ));
    }
    doc.add("alerts.tf", blocks);
    doc.output(
        &format!("{side}_alerts_topic_arn"),
        "SNS topic that receives this region's alarms and events.",
        topic(side),
    );
}
