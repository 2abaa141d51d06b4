//! The primary region's lease keeper, with the ARC authority: a function outside any VPC (the
//! cluster's endpoints are public; a VPC of drgen's has no route to them), started every minute,
//! that ticks every `failover.guard_interval_seconds` for most of that minute. Each tick reads the
//! routing controls from the cluster's endpoints, trying each; when the DR control is On, or when
//! no endpoint has answered for the lease time, it fences its own primary through its own
//! region's RDS API (the deny-all security group, then a reboot that cuts the open sessions),
//! which works while the regions are cut off from each other. The DR side waits the lease and
//! the keeper's notice after it takes the authority, so a cut-off primary has fenced itself
//! before the replica is promoted.

use hcl::expr::Expression;

use super::functions::{self, Spec};
use super::Doc;
use crate::model::{Side, Topology, GUARD_RUN_SECONDS};
use crate::naming::{Function, Role};
use crate::package::Package;
use crate::syntax::r;

/// The keeper's reserved concurrency, when reservations are on: as the guard's, one run and one
/// that overlaps it.
const RESERVED_CONCURRENCY: u32 = 2;

pub fn render(m: &Topology, doc: &mut Doc) {
    let Some(arc) = &m.failover.arc else {
        return;
    };
    let side = Side::Primary;
    let f = &m.failover;
    let n = |v: u32| Expression::from(v.to_string());
    functions::render(
        m,
        Spec {
            function: Function::Lease,
            side,
            role: Role::Lease,
            package: Package::Lease,
            description: "drgen lease keeper: fences the primary when the ARC routing controls name DR or cannot be read",
            timeout_seconds: f.guard_timeout_seconds(),
            reserved_concurrency: f.observer_reserved_concurrency.map(|_| RESERVED_CONCURRENCY),
            environment: vec![
                ("ARC_ENDPOINTS", super::arc::endpoints_json(m)),
                ("PRIMARY_CONTROL_ARN", super::arc::control_arn(Side::Primary)),
                ("DR_CONTROL_ARN", super::arc::control_arn(Side::Dr)),
                ("LEASE_SECONDS", n(arc.lease_seconds)),
                ("TICK_SECONDS", n(f.guard_interval_seconds)),
                ("RUN_SECONDS", n(GUARD_RUN_SECONDS)),
                ("PRIMARY_ID", super::database::identifier(m, side)),
                ("FENCE_SECURITY_GROUP", r("aws_security_group.fenced.id")),
                ("FENCE_APPLY_SECONDS", n(crate::rto::SG_APPLY_SECONDS)),
                ("STATE_TABLE", r("aws_dynamodb_table.failover.name")),
                ("TOPIC_ARN", super::alerts::topic(side)),
            ],
            egress: Vec::new(),
            in_vpc: false,
        },
        doc,
    );
    let label = functions::label(Function::Lease, side);
    doc.add("lease.tf", functions::schedule(m, side, &label, "lease-schedule", "rate(1 minute)"));
}
