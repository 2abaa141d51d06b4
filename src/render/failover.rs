//! What the failover needs besides the monitor: the failover state table (a DynamoDB global
//! table homed in the DR region, with a replica in the primary region where the primary-region
//! observer leaves its heartbeat), the deny-all "fenced" security group in the primary VPC, the
//! workflow function that the state machine calls (outside the VPCs: the fence must reach the
//! primary region's RDS API, and the DR VPC has no route to another region), and the forwarding
//! of the primary's RDS events to the DR region for the monitor's veto.

use hcl::expr::Expression;
use hcl::Body;

use super::aws::{arn, name_tag, role, role_policy, Statement};
use super::functions::{self, Spec};
use super::monitor::dr_secret_arn;
use super::Doc;
use crate::model::{Side, Topology};
use crate::naming::{Function, Role};
use crate::package::Package;
use crate::syntax::{arr, json, labelled, obj, provider, r, resource, rs, strs};

/// The primary region's replica of the state table, for the heartbeat.
pub fn primary_table_arn(m: &Topology) -> Expression {
    crate::syntax::call(
        "replace",
        [
            r("aws_dynamodb_table.failover.arn"),
            Expression::from(format!(":{}:", m.dr.region)),
            Expression::from(format!(":{}:", m.primary.region)),
        ],
    )
}

fn table(m: &Topology, doc: &mut Doc) {
    let side = Side::Dr;
    let body = Body::builder()
        .add_attribute(("provider", provider(side)))
        .add_attribute(("name", m.names.failover_table().expr()))
        .add_attribute(("billing_mode", "PAY_PER_REQUEST"))
        .add_attribute(("hash_key", "pk"))
        .add_attribute(("stream_enabled", true))
        .add_attribute(("stream_view_type", "NEW_AND_OLD_IMAGES"))
        .add_attribute(("deletion_protection_enabled", !m.destroyable))
        .add_block(labelled(
            "attribute",
            &[],
            Body::builder().add_attribute(("name", "pk")).add_attribute(("type", "S")).build(),
        ))
        .add_block(labelled(
            "server_side_encryption",
            &[],
            Body::builder()
                .add_attribute(("enabled", true))
                .add_attribute(("kms_key_arn", rs("aws_kms_key", side, "arn")))
                .build(),
        ))
        .add_block(labelled(
            "point_in_time_recovery",
            &[],
            Body::builder().add_attribute(("enabled", true)).build(),
        ))
        .add_block(labelled(
            "replica",
            &[],
            Body::builder()
                .add_attribute(("region_name", m.primary.region.name()))
                .add_attribute(("kms_key_arn", rs("aws_kms_key", Side::Primary, "arn")))
                .add_attribute(("point_in_time_recovery", true))
                .build(),
        ))
        .build();
    doc.add("failover.tf", [resource("aws_dynamodb_table", "failover", body)]);
    doc.note(
        "failover.tf",
        "resource",
        &["aws_dynamodb_table", "failover"],
        "The monitor's state and run lock, open recovery events and the fence, written in the DR region; the primary-region observer's heartbeat, written to the replica in the primary region and read from here without a path into that region. A global table needs its stream (NEW_AND_OLD_IMAGES).",
    );
    for side in Side::BOTH {
        doc.gateway_endpoint(side, "dynamodb");
    }
}

/// The deny-all group the fence puts on the old primary: no ingress, no egress.
fn fence_group(m: &Topology, doc: &mut Doc) {
    let side = Side::Primary;
    let name = m.names.regional_purpose("fenced", side);
    doc.add(
        "failover.tf",
        [resource(
            "aws_security_group",
            "fenced",
            Body::builder()
                .add_attribute(("provider", provider(side)))
                .add_attribute(("name", name.expr()))
                .add_attribute(("description", "Fence of the old primary after a failover: admits nothing"))
                .add_attribute(("vpc_id", super::network::vpc_id(m, side)))
                .add_attribute(name_tag(&name))
                .build(),
        )],
    );
}

fn workflow_function(m: &Topology, doc: &mut Doc) {
    let side = Side::Dr;
    let rotation =
        r("aws_serverlessapplicationrepository_cloudformation_stack.dr_rotation.outputs.RotationLambdaARN");
    let n = |v: u32| Expression::from(v.to_string());
    let mut environment = vec![
        ("PRIMARY_REGION", Expression::from(m.primary.region.name())),
        ("PRIMARY_ID", super::database::identifier(m, Side::Primary)),
        ("REPLICA_ID", rs("aws_db_instance", side, "identifier")),
        ("FENCE_SECURITY_GROUP", r("aws_security_group.fenced.id")),
        ("STATE_TABLE", r("aws_dynamodb_table.failover.name")),
        ("METRIC_NAMESPACE", m.names.metric_namespace().expr()),
        ("TOPIC_ARN", super::alerts::topic(side)),
        ("EVENT_BUS", Expression::from("default")),
        ("SECRET_ID", dr_secret_arn(m)),
        ("ROTATION_FUNCTION_ARN", rotation),
        ("ROTATION_DAYS", n(u32::from(m.database.password_rotation_days))),
        ("BACKUP_RETENTION_DAYS", n(u32::from(m.database.backup_retention_days))),
    ];
    if let Some(wait) = m.failover.lease_wait_seconds() {
        // The ARC authority: the workflow takes it in one transaction, then waits the lease.
        environment.extend([
            ("ARC_ENDPOINTS", super::arc::endpoints_json(m)),
            ("PRIMARY_CONTROL_ARN", super::arc::control_arn(Side::Primary)),
            ("DR_CONTROL_ARN", super::arc::control_arn(Side::Dr)),
            ("LEASE_WAIT_SECONDS", n(wait)),
        ]);
    }
    functions::render(
        m,
        Spec {
            function: Function::Failover,
            side,
            role: Role::Failover,
            package: Package::Failover,
            description: "drgen failover workflow: promote, move the secret, fence the old primary",
            timeout_seconds: 60,
            reserved_concurrency: m.failover.observer_reserved_concurrency.map(|_| 2),
            environment,
            egress: Vec::new(),
            in_vpc: false,
        },
        doc,
    );
}

/// RDS events of the primary, forwarded from its region's default bus to the DR region's, where
/// a rule hands them to the workflow function, which records open in-region recoveries.
fn events(m: &Topology, doc: &mut Doc) {
    let pattern = || {
        json(obj([
            ("source", strs(["aws.rds"])),
            ("detail-type", strs(["RDS DB Instance Event"])),
            ("resources", arr([super::database::arn(m, Side::Primary)])),
        ]))
    };
    let dr_bus = arn(m, Side::Dr, "events", "event-bus/default");
    let mut blocks = Vec::new();
    blocks.extend(role(
        "rds_events",
        Side::Primary,
        &m.names.role(Role::EventForwarding, Side::Primary),
        "events.amazonaws.com",
        "Forwards the primary's RDS events to the DR region's event bus.",
    ));
    blocks.extend(role_policy(
        "rds_events",
        Side::Primary,
        "rds_events",
        vec![Statement::allow("ForwardToDr", &["events:PutEvents"], dr_bus.clone())],
    ));
    for side in Side::BOTH {
        let label = format!("{side}_recovery_events");
        blocks.push(resource(
            "aws_cloudwatch_event_rule",
            &label,
            Body::builder()
                .add_attribute(("provider", provider(side)))
                .add_attribute(("name", m.names.rule("recovery-events", side).expr()))
                .add_attribute(("description", "RDS events of the drgen primary, for the failover veto"))
                .add_attribute(("event_pattern", pattern()))
                .build(),
        ));
        let target = Body::builder()
            .add_attribute(("provider", provider(side)))
            .add_attribute(("rule", r(&format!("aws_cloudwatch_event_rule.{label}.name"))));
        let target = match side {
            Side::Primary => target
                .add_attribute(("arn", dr_bus.clone()))
                .add_attribute(("role_arn", r("aws_iam_role.rds_events.arn"))),
            Side::Dr => target.add_attribute(("arn", r("aws_lambda_function.dr_failover.arn"))),
        };
        blocks.push(resource("aws_cloudwatch_event_target", &label, target.build()));
    }
    blocks.push(resource(
        "aws_lambda_permission",
        "dr_recovery_events",
        Body::builder()
            .add_attribute(("provider", provider(Side::Dr)))
            .add_attribute(("statement_id", "ForwardedRdsEvents"))
            .add_attribute(("action", "lambda:InvokeFunction"))
            .add_attribute(("function_name", r("aws_lambda_function.dr_failover.function_name")))
            .add_attribute(("principal", "events.amazonaws.com"))
            .add_attribute(("source_arn", r("aws_cloudwatch_event_rule.dr_recovery_events.arn")))
            .build(),
    ));
    doc.add("failover.tf", blocks);
}

pub fn render(m: &Topology, doc: &mut Doc) {
    table(m, doc);
    fence_group(m, doc);
    workflow_function(m, doc);
    events(m, doc);
    doc.output(
        "failover_table_name",
        "DynamoDB global table of the failover state (DR region).",
        r("aws_dynamodb_table.failover.name"),
    );
    doc.output(
        "fence_security_group_id",
        "Deny-all group the fence puts on the old primary.",
        r("aws_security_group.fenced.id"),
    );
}
