//! The primary-region guard: a function in the primary VPC, started every minute, that ticks
//! every `failover.guard_interval_seconds` for most of that minute. Each tick probes the primary
//! from its own region and, while that fails, reads the primary's status and recent events from
//! that region's RDS API; it writes its verdict (`reachable`, `recovering`, `unreachable`,
//! `unknown`) to the primary region's replica of the failover state table, where the DR monitor
//! reads it without a path into the primary region. With the observer's `alive` beat it is how
//! the primary region speaks: while it speaks, its recoveries veto promotion and the long path
//! applies; once it is silent, the short one (DESIGN.md, decision 17).

use hcl::expr::Expression;

use super::functions::{self, Destination, Spec};
use super::{DbClient, Doc};
use crate::model::{Side, Topology, GUARD_RUN_SECONDS};
use crate::naming::{Function, Role};
use crate::package::Package;
use crate::syntax::{r, rs};

/// The guard's reserved concurrency, when reservations are on: one run, and one more for a run
/// that overlaps it (EventBridge delivers a scheduled event at least once, and an invocation it
/// delivers late can meet the next minute's). A run ends within its minute, so two suffice.
pub const RESERVED_CONCURRENCY: u32 = 2;

pub fn render(m: &Topology, doc: &mut Doc) {
    let side = Side::Primary;
    let f = &m.failover;
    let n = |v: u32| Expression::from(v.to_string());
    functions::render(
        m,
        Spec {
            function: Function::Guard,
            side,
            role: Role::Guard,
            package: Package::Guard,
            description: "drgen guard: what the primary region sees of the primary, every few seconds",
            timeout_seconds: f.guard_timeout_seconds(),
            // Without reservations (the default, for accounts on the new-account concurrency
            // quota), a throttled run leaves the region speaking through the observer's beat.
            reserved_concurrency: f.observer_reserved_concurrency.map(|_| RESERVED_CONCURRENCY),
            environment: vec![
                ("PRIMARY_HOST", rs("aws_db_instance", side, "address")),
                ("PRIMARY_PORT", n(u32::from(m.database.port))),
                ("PROBE_TIMEOUT_SECONDS", n(f.probe_timeout_seconds)),
                ("PRIMARY_ID", super::database::identifier(m, side)),
                ("STATE_TABLE", r("aws_dynamodb_table.failover.name")),
                ("GUARD_INTERVAL_SECONDS", n(f.guard_interval_seconds)),
                ("RUN_SECONDS", n(GUARD_RUN_SECONDS)),
                // How late a run may start: each report states when the next is due at the latest.
                ("GUARD_LATE_SECONDS", n(crate::rto::GUARD_DELAY_SECONDS)),
                // An open recovery event older than the monitor's expiry no longer vetoes.
                ("EVENT_WINDOW_SECONDS", n(f.recovery_event_expiry_seconds)),
            ],
            egress: vec![(
                "to_primary_db",
                "PostgreSQL to the primary database".to_string(),
                m.database.port,
                Destination::Cidr(super::network::cidr(m, side)),
            )],
            in_vpc: true,
        },
        doc,
    );
    doc.db_client(
        side,
        DbClient {
            label: "guard".into(),
            description: "PostgreSQL from the primary region's guard (a probe, no login)".into(),
            security_group_id: functions::security_group(Function::Guard, side),
        },
    );
    let label = functions::label(Function::Guard, side);
    doc.add("guard.tf", functions::schedule(m, side, &label, "guard-schedule", "rate(1 minute)"));
}
