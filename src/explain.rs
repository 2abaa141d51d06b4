//! `drgen explain`: what a rendering contains and what recovery it can promise.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::model::{Side, Topology};
use crate::output::FileSet;

#[derive(Debug, Serialize)]
pub struct Explanation {
    pub topology: TopologySummary,
    pub settings: Settings,
    /// Resources per region (`primary`, `dr`), by type.
    pub resources: BTreeMap<String, BTreeMap<String, usize>>,
    pub rto: RtoTable,
    pub rpo: String,
    pub warnings: Vec<String>,
}

/// Switches that change what is rendered.
#[derive(Debug, Serialize)]
pub struct Settings {
    pub destroyable: bool,
    pub multi_az: bool,
    pub aws_backup: bool,
    pub step_functions: bool,
    pub dry_run: bool,
    pub private_zone: bool,
    pub state_access_logging: bool,
    pub endpoint_health_checks: bool,
    pub lambda_runtime: String,
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
    pub monitor_schedule_seconds: u32,
    pub monitor_probing_seconds: u32,
    pub promotion_starts_within_seconds: u32,
    pub rds_promotion: String,
    pub write_rto: String,
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
                step_functions: m.failover.step_functions,
                dry_run: m.failover.dry_run,
                private_zone: m.dns.private_zone,
                state_access_logging: m.state_access_logs.is_some(),
                endpoint_health_checks: m.failover.health_check_mode == crate::config::HealthCheckMode::Endpoint,
                lambda_runtime: m.failover.lambda_runtime.clone(),
            },
            resources: count_resources(files),
            rto: RtoTable {
                detection_seconds: r.detection,
                calculated_check_seconds: r.calculated_allowance,
                dns_ttl_seconds: r.ttl,
                dns_reroute_seconds: r.reroute_seconds(),
                rto_target_seconds: m.rto_target_seconds,
                monitor_schedule_seconds: r.schedule,
                monitor_probing_seconds: r.probing,
                promotion_starts_within_seconds: r.promotion_start_seconds(),
                rds_promotion: "several minutes or longer, as AWS documents; drgen does not estimate it".into(),
                write_rto: format!(
                    "{} s until promotion starts, plus the RDS promotion time (several minutes or longer); reads through the DNS name move within {} s",
                    r.promotion_start_seconds(),
                    r.reroute_seconds()
                ),
            },
            rpo: format!(
                "Replication is asynchronous: a failover loses the writes the replica had not applied when the primary failed, so data loss is bounded by the replica lag at that moment (alarmed above {lag} s). The monitor promotes only after {probes} consecutive failed probes of the primary AND a lag above {lag} s or no lag datapoint at all; when it cannot read the lag because a CloudWatch or RDS call fails, the lag is unknown and it refuses to promote and alerts instead. Check the lag of the last minutes before a manual failover (RUNBOOK.md).",
                probes = m.failover.monitor_probes,
                lag = m.failover.lag_threshold_seconds
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
        let _ = writeln!(s, "  {:>5} s  monitor schedule period", r.monitor_schedule_seconds);
        let _ = writeln!(s, "  {:>5} s  monitor probes x interval", r.monitor_probing_seconds);
        let _ = writeln!(s, "  {:>5} s  until promotion starts", r.promotion_starts_within_seconds);
        let _ = writeln!(s, "      RDS promotion: {}", r.rds_promotion);
        let _ = writeln!(s, "      write RTO: {}", r.write_rto);
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
