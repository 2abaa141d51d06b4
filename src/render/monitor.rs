//! The monitor and promoter in the DR region: a scheduled function that probes the primary,
//! reads the replica's lag, publishes what it saw, and starts the failover when the rule in
//! DESIGN.md holds. It reaches every AWS API it calls through VPC endpoints in the DR VPC.

use hcl::expr::Expression;

use super::aws::{arn, Statement};
use super::functions::{self, Spec};
use super::Doc;
use crate::model::{Side, Topology};
use crate::naming::{Function, Role};
use crate::package::Package;
use crate::syntax::{r, rs};

pub fn render(m: &Topology, doc: &mut Doc) {
    let side = Side::Dr;
    let f = &m.failover;
    let replica_arn = rs("aws_db_instance", side, "arn");
    for service in ["monitoring", "rds", "sns", "events", "logs"] {
        doc.endpoint(side, service);
    }
    let mut permissions = vec![
        // Neither call supports resource-level permissions; publishing is limited to drgen's namespace.
        Statement::allow("ReadReplicaLag", &["cloudwatch:GetMetricData"], "*"),
        Statement::allow("PublishObservations", &["cloudwatch:PutMetricData"], "*").when(
            "StringEquals",
            "cloudwatch:namespace",
            [m.names.metric_namespace().expr()],
        ),
        Statement::allow("DescribeReplica", &["rds:DescribeDBInstances"], replica_arn.clone()),
        Statement::allow("Announce", &["events:PutEvents"], arn(m, side, "events", "event-bus/default")),
        Statement::allow("Alert", &["sns:Publish"], super::alerts::topic(side)),
    ];
    let mut environment = vec![
        ("PRIMARY_HOST", rs("aws_db_instance", Side::Primary, "address")),
        ("PRIMARY_PORT", Expression::from(m.database.port.to_string())),
        ("PROBE_TIMEOUT_SECONDS", Expression::from(f.probe_timeout_seconds.to_string())),
        ("PROBES", Expression::from(f.monitor_probes.to_string())),
        ("PROBE_INTERVAL_SECONDS", Expression::from(f.monitor_probe_interval_seconds.to_string())),
        ("LAG_THRESHOLD_SECONDS", Expression::from(f.lag_threshold_seconds.to_string())),
        ("REPLICA_ID", rs("aws_db_instance", side, "identifier")),
        ("METRIC_NAMESPACE", m.names.metric_namespace().expr()),
        ("TOPIC_ARN", super::alerts::topic(side)),
        ("EVENT_BUS", Expression::from("default")),
        ("DRY_RUN", Expression::from(f.dry_run.to_string())),
        ("BACKUP_RETENTION_DAYS", Expression::from(m.database.backup_retention_days.to_string())),
    ];
    if f.step_functions {
        doc.endpoint(side, "states");
        permissions.push(Statement::allow(
            "StartFailover",
            &["states:StartExecution"],
            r("aws_sfn_state_machine.promote.arn"),
        ));
        environment.push(("STATE_MACHINE_ARN", r("aws_sfn_state_machine.promote.arn")));
    } else {
        permissions.push(Statement::allow("Promote", &["rds:PromoteReadReplica"], replica_arn));
    }
    functions::render(
        m,
        Spec {
            function: Function::Monitor,
            side,
            role: Role::Monitor,
            package: Package::Monitor,
            description: "drgen monitor: promotes the DR replica when the primary is gone",
            timeout_seconds: f.monitor_timeout_seconds(),
            reserved_concurrency: 1,
            environment,
            egress: vec![(
                "to_primary_db",
                "PostgreSQL to the primary database".into(),
                m.database.port,
                m.primary.cidr.to_string(),
            )],
            permissions,
        },
        doc,
    );
    let label = functions::label(Function::Monitor, side);
    let rate = if f.monitor_schedule_minutes == 1 {
        "rate(1 minute)".to_string()
    } else {
        format!("rate({} minutes)", f.monitor_schedule_minutes)
    };
    doc.add("monitor.tf", functions::schedule(m, side, &label, "monitor-schedule", &rate));
}
