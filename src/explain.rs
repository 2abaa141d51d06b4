//! `drgen explain`: what a rendering contains and what recovery it can promise.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::health::HealthGraph;
use crate::model::{Side, Topology};

fn decision(m: &Topology) -> Decision {
    let f = &m.failover;
    Decision {
        mode: format!("{:?}", f.mode).to_lowercase(),
        confirm_seconds: f.confirm_seconds,
        probe_interval_seconds: f.monitor_probe_interval_seconds,
        probe_timeout_seconds: f.probe_timeout_seconds,
        schedule_seconds: f.monitor_schedule_minutes * 60,
        run_seconds: f.monitor_run_seconds(),
        function_timeout_seconds: f.monitor_timeout_seconds(),
        lag_threshold_seconds: f.lag_threshold_seconds,
        lag_max_age_seconds: 120,
        max_data_loss_seconds: f.max_data_loss_seconds,
        recovery_event_expiry_seconds: f.recovery_event_expiry_seconds,
        guard_interval_seconds: f.guard_interval_seconds,
        silence_seconds: f.silence_seconds,
        guard_gap_seconds: f.guard_gap_seconds().min(f.silence_seconds),
        guard_late_seconds: crate::rto::GUARD_DELAY_SECONDS,
        fence_apply_seconds: crate::rto::SG_APPLY_SECONDS,
        paths: vec![
            format!(
                "the primary's region speaks when its guard's report, its observer's `alive` beat or its heartbeat is younger than {} s (the guard reports every {} s; the observer beats once a minute whatever its probe sees)",
                f.silence_seconds, f.guard_interval_seconds
            ),
            format!(
                "long path, while it speaks: its guard's `recovering` (an open recovery event or a recovery status in its own region) vetoes; promotion only after the guard has said `unreachable` for the whole {} s confirm window",
                f.confirm_seconds
            ),
            format!(
                "short path, once it is silent while the DR side cannot reach the primary (a regional outage): promotion as soon as it is silent, {} s after its last word, and the DR side's own probes have failed for {} s, the other gates permitting. A region whose last word came more than {} s (its guard's longest gap between reports) before the DR side last reached the primary went mute first (its table copy impaired, its functions throttled), one that spoke more than 5 s after the DR side lost the primary was up then (unless its guard's last word confirmed the loss: `unreachable` with no recovery just closed, or `reachable` with the replica's stream stopped), one whose guard's last word was `recovering` may be recovering, and a loss the monitor did not watch (a hole in observation) cannot be dated against the silence: all are held and paged (failover held (mute)), for a human to promote if the region is down",
                f.silence_seconds, crate::rto::SHORT_CONFIRM_SECONDS, f.guard_gap_seconds().min(f.silence_seconds)
            ),
        ],
        rule: vec![
            format!("the primary unreachable from the DR side on every probe: for {} s on the long path, for {} s on the short path (state kept in the DR region across runs); a hole in observation (a run skipped or late) or the end of an in-region recovery starts the window again, and only {} accepting probes in a row end it (three returns within 30 minutes page \"flapping\")", f.confirm_seconds, crate::rto::SHORT_CONFIRM_SECONDS, 3),
            format!("on the long path: its guard's fresh verdict is `unreachable` (not `reachable`: partition; not `recovering`: veto; anything else: page, no promotion) and has been for the confirm window (a guard that saw it later is waited for up to 60 s, then paged while held), and no heartbeat younger than {} s", f.confirm_seconds),
            "the replica's WAL receiver not streaming from the primary (streaming means a partition: page, no promotion)".into(),
            format!("no forwarded in-region recovery event open (one open longer than {} s expires and pages)", f.recovery_event_expiry_seconds),
            format!("on the long path, ReplicaLag above {} s on a datapoint at most 120 s old (missing or stale is unknown: page, no promotion)", f.lag_threshold_seconds),
            format!("commits at risk at most {} s, counted from what the replica has (the newest WAL position sampled on the primary that it received, or the newest commit it replayed) to the last moment the primary may have committed (its last sign of life, up to the first reading of the replica's stream stopped or its guard's `unreachable`); otherwise page with the manual command", f.max_data_loss_seconds),
            "the replica available, still a replica, and its WAL position readable (otherwise page and retry)".into(),
            "every read of the decision succeeded (otherwise page and retry)".into(),
            "then: the writer authority is recorded first, PromoteReadReplica is called (no answer counts as started; a refusal pages and is retried every minute), the workflow fences the old primary; \"split-brain risk\" pages while the old primary answers or the fence is not confirmed after 600 s, and \"promotion not complete\" after 1800 s".into(),
        ],
        limit: "when the primary's region falls entirely silent (no guard report, no `alive` beat, no heartbeat) while the primary is in fact alive behind a full inter-region partition, two regions cannot tell that from a regional outage: automatic mode promotes, and the fence cannot reach the old primary until the partition heals (the monitor pages \"split-brain risk\" meanwhile). failover.mode = \"manual\" is the consistency-first choice.".into(),
    }
}
use crate::output::FileSet;

#[derive(Debug, Serialize)]
pub struct Explanation {
    pub topology: TopologySummary,
    pub settings: Settings,
    /// Resources per region (`primary`, `dr`), by type.
    pub resources: BTreeMap<String, BTreeMap<String, usize>>,
    pub rto: RtoTable,
    pub decision: Decision,
    /// Where the writer authority lives and what holding it costs.
    pub authority: AuthoritySummary,
    /// The health check that guards the PRIMARY record.
    pub dns: HealthGraph,
    pub rpo: String,
    pub warnings: Vec<String>,
}

/// The writer authority: the failover state table, or Route 53 ARC routing controls.
#[derive(Debug, Serialize)]
pub struct AuthoritySummary {
    /// `table` or `arc`.
    pub kind: &'static str,
    /// With ARC: `created` (drgen creates the cluster) or `shared` (an existing one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_seconds: Option<u32>,
    /// After taking the authority in ARC, the DR side waits this long before it promotes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_wait_seconds: Option<u32>,
    /// What a full inter-region partition does.
    pub full_partition: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
}

fn authority(m: &Topology) -> AuthoritySummary {
    let Some(arc) = &m.failover.arc else {
        return AuthoritySummary {
            kind: "table",
            cluster: None,
            lease_seconds: None,
            lease_wait_seconds: None,
            full_partition: "the DR side cannot tell it from a regional outage: automatic mode promotes, and the old primary keeps serving the sessions that still reach it until the partition heals and the workflow fences it (a documented limit; authority = \"arc\" removes it)".into(),
            cost: None,
        };
    };
    let wait = m.failover.lease_wait_seconds().unwrap_or_default();
    AuthoritySummary {
        kind: "arc",
        cluster: Some(match arc.cluster {
            crate::model::ArcCluster::Create => "created",
            crate::model::ArcCluster::Existing { .. } => "shared",
        }),
        lease_seconds: Some(arc.lease_seconds),
        lease_wait_seconds: Some(wait),
        full_partition: format!(
            "the DR side takes the authority in ARC (reachable from both sides through any of its five regional endpoints) and promotes {wait} s later; the old primary's lease keeper, started every minute, reads the routing controls every {} s while a slowest tick still fits in its run, and fences its own primary (deny-all security group, reboot) when they name DR or cannot be read for {} s (README.md lists its open findings)",
            m.failover.guard_interval_seconds, arc.lease_seconds
        ),
        cost: Some(match arc.cluster {
            crate::model::ArcCluster::Create => "an ARC cluster is billed by the hour whether used or not (see the Route 53 pricing page), and one cluster can host the control panels of many applications: share one with failover.arc.cluster_arn".into(),
            crate::model::ArcCluster::Existing { .. } => "the shared cluster's hourly price is paid once for all the applications on it; this rendering adds a control panel, two routing controls and two safety rules".into(),
        }),
    }
}

/// Switches that change what is rendered.
#[derive(Debug, Serialize)]
pub struct Settings {
    pub destroyable: bool,
    pub multi_az: bool,
    pub aws_backup: bool,
    pub failover_mode: String,
    pub dns_switch: String,
    pub dry_run: bool,
    pub private_zone: bool,
    pub state_access_logging: bool,
    pub endpoint_health_checks: bool,
    pub lambda_runtime: String,
    /// Concurrency reserved for drgen's functions in each region, when any is set: the account's
    /// unreserved concurrency must stay at or above AWS's minimum after it.
    pub reserved_concurrency_per_region: Option<BTreeMap<String, u32>>,
    pub reserved_concurrency: bool,
    pub observer_access_logs: bool,
    pub primary_retired: bool,
}

#[derive(Debug, Serialize)]
pub struct TopologySummary {
    pub name: String,
    pub environment_suffix: String,
    pub primary_region: String,
    pub dr_region: String,
    pub primary_cidr: String,
    pub dr_cidr: String,
    pub instance_class: String,
    pub engine: String,
    pub dns_name: String,
    pub health_check_mode: String,
}

#[derive(Debug, Serialize)]
pub struct RtoTable {
    pub detection_seconds: u32,
    pub calculated_check_seconds: u32,
    pub dns_ttl_seconds: u32,
    pub dns_reroute_seconds: u32,
    pub rto_target_seconds: u32,
    pub first_failed_probe_within_seconds: u32,
    pub confirm_window_seconds: u32,
    pub deciding_calls_seconds: u32,
    /// The long path's bound (the primary region speaks); the same as `long_path_seconds`.
    pub promotion_starts_within_seconds: u32,
    pub long_path_seconds: u32,
    /// No word from the primary region for this long: silent.
    pub silence_seconds: u32,
    pub promotion_call_seconds: u32,
    /// Until promotion starts once the primary region is silent (a regional outage).
    pub short_path_seconds: u32,
    pub authority_to_route53_seconds: u32,
    pub rds_promotion: String,
    pub write_rto: String,
}

/// The promotion rule with its numbers.
#[derive(Debug, Serialize)]
pub struct Decision {
    pub mode: String,
    pub confirm_seconds: u32,
    pub probe_interval_seconds: u32,
    pub probe_timeout_seconds: u32,
    /// How often the monitor is started, how long one run observes, and its Lambda timeout.
    pub schedule_seconds: u32,
    pub run_seconds: u32,
    pub function_timeout_seconds: u32,
    pub lag_threshold_seconds: u32,
    pub lag_max_age_seconds: u32,
    pub max_data_loss_seconds: u32,
    pub recovery_event_expiry_seconds: u32,
    pub guard_interval_seconds: u32,
    pub silence_seconds: u32,
    /// The primary region's last word more than this before the DR side last reached the
    /// primary: it went mute first, and the short path is shut (held, paged).
    pub guard_gap_seconds: u32,
    /// How late a guard run may start: each guard report states when the next one is due at the
    /// latest, which bounds the commits the RPO gate counts after the region's last word.
    pub guard_late_seconds: u32,
    /// The allowance for RDS to apply the fence's security-group change (the instance is
    /// `modifying` meanwhile and refuses a reboot).
    pub fence_apply_seconds: u32,
    /// The two paths to promotion: which one applies, and what it waits for.
    pub paths: Vec<String>,
    pub rule: Vec<String>,
    pub limit: String,
}

impl Explanation {
    pub fn new(m: &Topology, files: &FileSet) -> Self {
        let r = &m.rto;
        Self {
            topology: TopologySummary {
                name: m.name.clone(),
                environment_suffix: m.suffix.to_string(),
                primary_region: m.primary.region.to_string(),
                dr_region: m.dr.region.to_string(),
                primary_cidr: m.primary.cidr.to_string(),
                dr_cidr: m.dr.cidr.to_string(),
                instance_class: m.database.instance_class.clone(),
                engine: "PostgreSQL 15 (latest 15.x at apply time)".into(),
                dns_name: m.dns.fqdn(),
                health_check_mode: format!("{:?}", m.failover.health_check_mode).to_lowercase(),
            },
            settings: Settings {
                destroyable: m.destroyable,
                multi_az: m.database.multi_az,
                aws_backup: m.backup.aws_backup,
                failover_mode: format!("{:?}", m.failover.mode).to_lowercase(),
                dns_switch: format!("{:?}", m.dns.switch).to_lowercase(),
                dry_run: m.failover.dry_run,
                private_zone: m.dns.private_zone,
                state_access_logging: m.state_access_logs.is_some(),
                endpoint_health_checks: m.failover.health_check_mode == crate::config::HealthCheckMode::Endpoint,
                lambda_runtime: m.failover.lambda_runtime.clone(),
                // The observer in each region; in the primary region also the guard (2); in the
                // DR region also the monitor (1) and the workflow function (2).
                reserved_concurrency_per_region: m.failover.observer_reserved_concurrency.map(|n| {
                    let guard = if m.database.primary_retired { 0 } else { crate::render::GUARD_RESERVED_CONCURRENCY };
                    BTreeMap::from([("primary".to_string(), n + guard), ("dr".to_string(), n + 3)])
                }),
                reserved_concurrency: m.failover.observer_reserved_concurrency.is_some(),
                observer_access_logs: m.failover.observer_access_logs,
                primary_retired: m.database.primary_retired,
            },
            resources: count_resources(files),
            rto: RtoTable {
                detection_seconds: r.detection,
                calculated_check_seconds: r.calculated_allowance,
                dns_ttl_seconds: r.ttl,
                dns_reroute_seconds: r.reroute_seconds(),
                rto_target_seconds: m.rto_target_seconds,
                first_failed_probe_within_seconds: r.first_miss,
                confirm_window_seconds: r.confirm,
                deciding_calls_seconds: r.tick_calls,
                promotion_starts_within_seconds: r.promotion_start_seconds(),
                long_path_seconds: r.long_path_seconds(),
                silence_seconds: r.silence,
                promotion_call_seconds: r.promotion_call,
                short_path_seconds: r.short_path_seconds(),
                authority_to_route53_seconds: r.authority,
                rds_promotion: "several minutes or longer, as AWS documents; drgen does not estimate it".into(),
                write_rto: format!(
                    "{} s until promotion starts ({} s when the primary region is silent), plus the RDS promotion time (several minutes or longer); the writer name {}",
                    r.promotion_start_seconds(),
                    r.short_path_seconds(),
                    match m.dns.switch {
                        crate::config::DnsSwitch::Detection => format!(
                            "moves to the (read-only until promoted) replica within {} s, and the writer authority keeps it there about {} s after promotion starts",
                            r.reroute_seconds(),
                            r.authority
                        ),
                        crate::config::DnsSwitch::Promotion => format!("moves within {} s ({})", r.reroute_seconds(), r.reroute_formula()),
                    }
                ),
            },
            decision: decision(m),
            authority: authority(m),
            dns: HealthGraph::new(m),
            rpo: format!(
                "Replication is asynchronous: a failover loses the commits the replica had not received when the primary failed. While both are reachable the monitor samples WAL positions (primary pg_current_wal_lsn, replica pg_last_wal_receive_lsn) every {every} s and keeps how far behind the replica was; it promotes automatically only when that is at most {budget} s (commits made within one sampling interval before the failure are not counted). Above that, or unknown, it pages with the command that promotes by hand.",
                every = m.failover.monitor_probe_interval_seconds,
                budget = m.failover.max_data_loss_seconds
            ),
            warnings: m.warnings.clone(),
        }
    }

    pub fn total_resources(&self) -> usize {
        self.resources.values().flat_map(BTreeMap::values).sum()
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("explanation serialises")
    }

    pub fn text(&self) -> String {
        let t = &self.topology;
        let r = &self.rto;
        let mut s = String::new();
        let _ = writeln!(s, "Topology {} (suffix {})", t.name, t.environment_suffix);
        let _ = writeln!(s, "  primary   {} {}", t.primary_region, t.primary_cidr);
        let _ = writeln!(s, "  dr        {} {}", t.dr_region, t.dr_cidr);
        let _ = writeln!(s, "  database  {} on {}", t.engine, t.instance_class);
        let _ = writeln!(s, "  dns name  {} (health checks: {})", t.dns_name, t.health_check_mode);
        if let Some(per_region) = &self.settings.reserved_concurrency_per_region {
            for (region, n) in per_region {
                let _ = writeln!(s, "  reserved  {n} concurrent executions of drgen functions in {region}");
            }
        }
        let _ = writeln!(s, "\nResources per region");
        for (region, kinds) in &self.resources {
            let total: usize = kinds.values().sum();
            let _ = writeln!(s, "  {region}: {total}");
            for (kind, n) in kinds {
                let _ = writeln!(s, "    {n:>3}  {kind}");
            }
        }
        let _ = writeln!(s, "\nRTO budget (worst case)");
        let (detection, allowance) = if t.health_check_mode == "endpoint" {
            (
                "health checks fail (interval x failure threshold)",
                "calculated health check follows its children",
            )
        } else {
            ("observer alarms fire (60 s periods x failure threshold)", "Route 53 reads the alarm state")
        };
        let _ = writeln!(s, "  {:>5} s  {detection}", r.detection_seconds);
        let _ = writeln!(s, "  {:>5} s  {allowance}", r.calculated_check_seconds);
        let _ = writeln!(s, "  {:>5} s  DNS TTL", r.dns_ttl_seconds);
        let _ = writeln!(
            s,
            "  {:>5} s  DNS reroute in total (target {} s)",
            r.dns_reroute_seconds, r.rto_target_seconds
        );
        let _ = writeln!(
            s,
            "  {:>5} s  until the monitor's first failed probe (interval + timeout + gap between runs + a late start); also the longest time between two ticks",
            r.first_failed_probe_within_seconds
        );
        let _ = writeln!(
            s,
            "  {:>5} s  confirm window: unreachable from the DR side without a break",
            r.confirm_window_seconds
        );
        let _ =
            writeln!(s, "  {:>5} s  the deciding tick's AWS and PostgreSQL calls", r.deciding_calls_seconds);
        let _ = writeln!(
            s,
            "  {:>5} s  until promotion starts while the primary region speaks (long path)",
            r.long_path_seconds
        );
        let _ = writeln!(
            s,
            "  {:>5} s  silence: no guard report, `alive` beat or heartbeat from the primary region",
            r.silence_seconds
        );
        let _ = writeln!(
            s,
            "  {:>5} s  the PromoteReadReplica call (its first attempt; the DR region is up)",
            r.promotion_call_seconds
        );
        let _ = writeln!(
            s,
            "  {:>5} s  until promotion starts once the primary region is silent (short path: its silence or the DR side's own window, whichever ends later, + the next probe + the call; target {} s)",
            r.short_path_seconds, r.rto_target_seconds
        );
        let _ = writeln!(
            s,
            "  {:>5} s  writer authority to Route 53 (stated; AWS documents no bound)",
            r.authority_to_route53_seconds
        );
        let _ = writeln!(s, "      RDS promotion: {}", r.rds_promotion);
        let _ = writeln!(s, "      write RTO: {}", r.write_rto);
        let decision = &self.decision;
        let _ = writeln!(s, "\nPromotion rule (mode {})", decision.mode);
        for line in &decision.paths {
            let _ = writeln!(s, "  * {line}");
        }
        for line in &decision.rule {
            let _ = writeln!(s, "  - {line}");
        }
        let _ = writeln!(s, "  Limit: {}", decision.limit);
        let a = &self.authority;
        let _ = writeln!(s, "\nWriter authority ({})", a.kind);
        if let (Some(lease), Some(wait)) = (a.lease_seconds, a.lease_wait_seconds) {
            let _ = writeln!(
                s,
                "  lease {lease} s; the DR side waits {wait} s after taking it before it promotes"
            );
        }
        let _ = writeln!(s, "  full inter-region partition: {}", a.full_partition);
        if let Some(cost) = &a.cost {
            let _ = writeln!(s, "  cost: {cost}");
        }
        let graph = &self.dns;
        let _ = writeln!(
            s,
            "\nPRIMARY record ({}), healthy when at least {} of these are healthy:",
            graph.address, graph.threshold
        );
        for c in &graph.children {
            let _ = writeln!(s, "  {} x {} {} ({})", c.copies, c.kind, c.address, c.role);
        }
        let _ = writeln!(s, "\nRPO\n  {}", self.rpo);
        if !self.warnings.is_empty() {
            let _ = writeln!(s, "\nWarnings");
            for w in &self.warnings {
                let _ = writeln!(s, "  {w}");
            }
        }
        s
    }
}

/// How many instances a block makes: its `count`, the size of a literal `for_each` set, the
/// instance count of the data source a `for_each` iterates over, or one.
fn instances(block: &hcl::Block, data: &BTreeMap<String, usize>) -> usize {
    let attr = |key: &str| block.body().attributes().find(|a| a.key() == key).map(|a| a.expr().clone());
    if let Some(hcl::Expression::Number(n)) = attr("count") {
        return n.as_u64().and_then(|n| usize::try_from(n).ok()).unwrap_or(1);
    }
    match attr("for_each") {
        Some(hcl::Expression::FuncCall(call)) => match call.args.first() {
            Some(hcl::Expression::Array(items)) => items.len(),
            _ => 1,
        },
        Some(reference) => data.get(&reference.to_string()).copied().unwrap_or(1),
        None => 1,
    }
}

/// Counts the resources of the main root by the region their provider points at; Route 53
/// is global.
fn count_resources(files: &FileSet) -> BTreeMap<String, BTreeMap<String, usize>> {
    let bodies: Vec<hcl::Body> = files
        .files
        .iter()
        .filter(|(path, _)| {
            !path.contains('/') && std::path::Path::new(path).extension().is_some_and(|e| e == "tf")
        })
        .map(|(_, bytes)| hcl::parse(&String::from_utf8_lossy(bytes)).expect("rendered files parse"))
        .collect();
    let labels =
        |b: &hcl::Block| b.labels().iter().map(hcl::BlockLabel::as_str).collect::<Vec<_>>().join(".");
    let mut data = BTreeMap::new();
    for block in bodies.iter().flat_map(hcl::Body::blocks).filter(|b| b.identifier() == "data") {
        data.insert(format!("data.{}", labels(block)), instances(block, &BTreeMap::new()));
    }
    let mut counts: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for block in bodies.iter().flat_map(hcl::Body::blocks).filter(|b| b.identifier() == "resource") {
        let kind = block.labels().first().map(|l| l.as_str().to_string()).unwrap_or_default();
        let provider =
            block.body().attributes().find(|a| a.key() == "provider").map(|a| a.expr().to_string());
        let region = match provider {
            _ if kind.starts_with("aws_route53_") => "global",
            Some(p) if p.ends_with(Side::Dr.label()) => "dr",
            _ => "primary",
        };
        *counts.entry(region.to_string()).or_default().entry(kind).or_default() += instances(block, &data);
    }
    counts
}
