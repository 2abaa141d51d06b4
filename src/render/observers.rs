//! Connectivity observers: a small function in each region's private subnets that probes the
//! primary database (the DR one across the peering). Route 53 health checkers cannot reach
//! private addresses, so the observers expose what they see: through a function URL that
//! Route 53 checks over HTTPS (endpoint mode), or as a metric and alarm (CloudWatch mode).

use hcl::expr::Expression;
use hcl::Body;

use super::aws::Statement;
use super::functions::{self, Spec};
use super::{DbClient, Doc};
use crate::config::HealthCheckMode;
use crate::model::{Side, Topology};
use crate::naming::{Function, Role};
use crate::package::Package;
use crate::syntax::{arr, data, labelled, provider, r, resource, rs};

/// The observers' path token, kept in an SSM parameter so that it is stable across plans.
pub const TOKEN: &str = "aws_ssm_parameter.probe_token.value";

/// Whether the observers publish a metric (CloudWatch mode) instead of answering Route 53.
pub fn metric_mode(m: &Topology) -> bool {
    m.failover.health_check_mode == HealthCheckMode::Cloudwatch
}

/// The token, generated once by the provider's random-password data source.
pub fn token(m: &Topology, doc: &mut Doc) {
    let side = Side::Primary;
    doc.add(
        "observers.tf",
        [
            data(
                "aws_secretsmanager_random_password",
                "probe_token",
                Body::builder()
                    .add_attribute(("provider", provider(side)))
                    .add_attribute(("password_length", 40))
                    .add_attribute(("exclude_punctuation", true))
                    .build(),
            ),
            resource(
                "aws_ssm_parameter",
                "probe_token",
                Body::builder()
                    .add_attribute(("provider", provider(side)))
                    .add_attribute(("name", m.names.probe_token().expr()))
                    .add_attribute(("description", "Path token of the drgen observers' function URLs"))
                    .add_attribute(("type", "SecureString"))
                    .add_attribute(("key_id", rs("aws_kms_key", side, "arn")))
                    .add_attribute((
                        "value",
                        r("data.aws_secretsmanager_random_password.probe_token.random_password"),
                    ))
                    .add_block(labelled(
                        "lifecycle",
                        &[],
                        Body::builder().add_attribute(("ignore_changes", arr([r("value")]))).build(),
                    ))
                    .build(),
            ),
        ],
    );
    doc.note(
        "observers.tf",
        "resource",
        &["aws_ssm_parameter", "probe_token"],
        "The data source yields a new token on every plan; the parameter keeps the first one.",
    );
}

/// The observer of one region.
pub fn render(m: &Topology, side: Side, doc: &mut Doc) {
    let f = &m.failover;
    let primary = m.region(Side::Primary);
    let label = functions::label(Function::Observer, side);
    let mut permissions = Vec::new();
    let egress = vec![(
        "to_primary_db",
        "PostgreSQL to the primary database".to_string(),
        m.database.port,
        primary.cidr.to_string(),
    )];
    if metric_mode(m) {
        permissions.push(Statement::allow("PublishObservations", &["cloudwatch:PutMetricData"], "*").when(
            "StringEquals",
            "cloudwatch:namespace",
            [m.names.metric_namespace().expr()],
        ));
        doc.endpoint(side, "monitoring");
    }
    let heartbeat = if side == Side::Primary {
        permissions.push(Statement::allow(
            "LeaveHeartbeat",
            &["dynamodb:PutItem"],
            super::failover::primary_table_arn(m),
        ));
        r("aws_dynamodb_table.failover.name")
    } else {
        Expression::from("")
    };
    functions::render(
        m,
        Spec {
            function: Function::Observer,
            side,
            role: Role::Observer,
            package: Package::Observer,
            description: "drgen observer: probes the primary PostgreSQL database",
            timeout_seconds: f.probe_timeout_seconds + 3,
            reserved_concurrency: f.observer_reserved_concurrency,
            environment: vec![
                ("PRIMARY_HOST", rs("aws_db_instance", Side::Primary, "address")),
                ("PRIMARY_PORT", Expression::from(m.database.port.to_string())),
                ("PROBE_TIMEOUT_SECONDS", Expression::from(f.probe_timeout_seconds.to_string())),
                ("PATH_TOKEN", r(TOKEN)),
                ("METRIC_NAMESPACE", m.names.metric_namespace().expr()),
                ("OBSERVER", Expression::from(side.label())),
                ("PUBLISH_METRIC", Expression::from(metric_mode(m).to_string())),
                ("HEARTBEAT_TABLE", heartbeat),
            ],
            egress,
            in_vpc: true,
            permissions,
        },
        doc,
    );
    if side == Side::Primary {
        doc.db_client(
            side,
            DbClient {
                label: "observer".into(),
                description: "PostgreSQL from the primary region's observer".into(),
                security_group_id: functions::security_group(Function::Observer, side),
            },
        );
    }
    let p = || provider(side);
    let function_name = r(&format!("aws_lambda_function.{label}.function_name"));
    // A schedule publishes the metric (CloudWatch mode) and, in the primary region, the heartbeat.
    let mut blocks = if metric_mode(m) || side == Side::Primary {
        functions::schedule(m, side, &label, "observer-schedule", "rate(1 minute)")
    } else {
        Vec::new()
    };
    if !metric_mode(m) {
        blocks.extend([
            resource(
                "aws_lambda_function_url",
                &label,
                Body::builder()
                    .add_attribute(("provider", p()))
                    .add_attribute(("function_name", function_name.clone()))
                    .add_attribute(("authorization_type", "NONE"))
                    .build(),
            ),
            resource(
                "aws_lambda_permission",
                &format!("{label}_url"),
                Body::builder()
                    .add_attribute(("provider", p()))
                    .add_attribute(("statement_id", "RouteFiftyThreeHealthChecks"))
                    .add_attribute(("action", "lambda:InvokeFunctionUrl"))
                    .add_attribute(("function_name", function_name))
                    .add_attribute(("principal", "*"))
                    .add_attribute(("function_url_auth_type", "NONE"))
                    .build(),
            ),
        ]);
    }
    doc.add("observers.tf", blocks);
}
