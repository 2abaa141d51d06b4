//! The monitor in the DR region: a scheduled function that observes the primary for most of its
//! schedule period under a lock in the failover state table, keeps the decision state there,
//! publishes the writer authority, and promotes the replica when the rule in DESIGN.md holds.
//! It reaches every AWS API it calls through VPC endpoints in the DR VPC.

use hcl::expr::Expression;

use super::functions::{self, Destination, Spec};
use super::{DbClient, Doc};
use crate::config::FailoverMode;
use crate::model::{Side, Topology};
use crate::naming::{Function, Role};
use crate::package::Package;
use crate::syntax::{r, rs};

/// The ARN of the DR region's copy of the master secret (a replica keeps the ARN, in its region).
pub fn dr_secret_arn(m: &Topology) -> Expression {
    crate::syntax::call(
        "replace",
        [
            r("aws_secretsmanager_secret.master.arn"),
            Expression::from(format!(":{}:", m.primary.region)),
            Expression::from(format!(":{}:", m.dr.region)),
        ],
    )
}

pub fn render(m: &Topology, doc: &mut Doc) {
    let side = Side::Dr;
    let f = &m.failover;
    let mode = match f.mode {
        FailoverMode::Automatic => "automatic",
        FailoverMode::Manual => "manual",
    };
    let n = |v: u32| Expression::from(v.to_string());
    let environment = vec![
        ("PRIMARY_HOST", rs("aws_db_instance", Side::Primary, "address")),
        ("PRIMARY_PORT", n(u32::from(m.database.port))),
        ("PROBE_TIMEOUT_SECONDS", n(f.probe_timeout_seconds)),
        ("PROBE_INTERVAL_SECONDS", n(f.monitor_probe_interval_seconds)),
        ("RUN_SECONDS", n(f.monitor_run_seconds())),
        ("SCHEDULE_SECONDS", n(f.monitor_schedule_minutes * 60)),
        ("PROMOTION_BOUND_SECONDS", n(super::stepfunctions::PROMOTION_BOUND_SECONDS)),
        ("CONFIRM_SECONDS", n(f.confirm_seconds)),
        // The primary region is silent when nothing from it (the guard's report, the observer's
        // `alive` beat, the heartbeat) is younger than this: the short path.
        ("SILENCE_SECONDS", n(f.silence_seconds)),
        // A region whose last word came longer than this before the DR side last reached the
        // primary went mute first: its silence is not an outage's.
        ("GUARD_GAP_SECONDS", n(f.guard_gap_seconds().min(f.silence_seconds))),
        ("LAG_THRESHOLD_SECONDS", n(f.lag_threshold_seconds)),
        ("MAX_DATA_LOSS_SECONDS", n(f.max_data_loss_seconds)),
        ("EVENT_EXPIRY_SECONDS", n(f.recovery_event_expiry_seconds)),
        ("MODE", Expression::from(mode)),
        ("REPLICA_ID", rs("aws_db_instance", side, "identifier")),
        ("REPLICA_HOST", rs("aws_db_instance", side, "address")),
        ("DB_NAME", Expression::String(m.database.db_name.clone())),
        ("SECRET_ID", dr_secret_arn(m)),
        ("STATE_TABLE", r("aws_dynamodb_table.failover.name")),
        ("METRIC_NAMESPACE", m.names.metric_namespace().expr()),
        ("TOPIC_ARN", super::alerts::topic(side)),
        ("EVENT_BUS", Expression::from("default")),
        ("STATE_MACHINE_ARN", r("aws_sfn_state_machine.promote.arn")),
        ("DRY_RUN", Expression::from(f.dry_run.to_string())),
        ("BACKUP_RETENTION_DAYS", n(u32::from(m.database.backup_retention_days))),
    ];
    functions::render(
        m,
        Spec {
            function: Function::Monitor,
            side,
            role: Role::Monitor,
            package: Package::Monitor,
            description: "drgen monitor: decides on failover and promotes the DR replica",
            timeout_seconds: f.monitor_timeout_seconds(),
            // One run at a time comes from the run lock in the state table; a reservation of 1,
            // when reservations are on, only adds to it.
            reserved_concurrency: f.observer_reserved_concurrency.map(|_| 1),
            environment,
            egress: vec![
                (
                    "to_primary_db",
                    "PostgreSQL to the primary database".into(),
                    m.database.port,
                    Destination::Cidr(super::network::cidr(m, Side::Primary)),
                ),
                (
                    "to_replica_db",
                    "PostgreSQL to the replica (WAL positions)".into(),
                    m.database.port,
                    Destination::Cidr(super::network::cidr(m, side)),
                ),
            ],
            in_vpc: true,
        },
        doc,
    );
    doc.db_client(
        side,
        DbClient {
            label: "monitor".into(),
            description: "PostgreSQL from the monitor (WAL positions)".into(),
            security_group_id: functions::security_group(Function::Monitor, side),
        },
    );
    let label = functions::label(Function::Monitor, side);
    let rate = if f.monitor_schedule_minutes == 1 {
        "rate(1 minute)".to_string()
    } else {
        format!("rate({} minutes)", f.monitor_schedule_minutes)
    };
    doc.add("monitor.tf", functions::schedule(m, side, &label, "monitor-schedule", &rate));
}
