//! The validated topology. It is built only by `Topology::from_config`, which checks every
//! field, so a `Topology` always describes something drgen can render.

use std::collections::BTreeMap;
use std::fmt;

use ipnet::Ipv4Net;

use crate::config::{Config, DnsSwitch, FailoverMode, HealthCheckMode};
use crate::error::Problems;
use crate::naming::Names;
use crate::region::AwsRegion;
use crate::rto::{RtoBudget, RtoInputs};
pub use crate::side::Side;

/// A suffix that can end every AWS name: lowercase letters, digits and single hyphens,
/// starting with a letter and not ending with a hyphen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvSuffix(String);

impl EnvSuffix {
    pub fn parse(s: &str) -> Result<Self, String> {
        check_slug(s).map(|()| Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The regular expression that `check_slug` implements, for the Terraform variable validation.
pub const SLUG_REGEX: &str = "^[a-z]([a-z0-9]|-[a-z0-9])*$";

fn check_slug(s: &str) -> Result<(), String> {
    let ok = s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.contains("--")
        && !s.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not allowed; use lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen",
            s.escape_debug()
        ))
    }
}

/// Where a region's network comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// drgen creates the VPC and these private subnets, one in each of the zones.
    Managed { zones: Vec<String>, subnets: Vec<Ipv4Net> },
    /// An existing VPC, read through data sources.
    Existing {
        vpc_id: String,
        subnet_ids: Vec<String>,
        route_table_ids: Vec<String>,
        existing_endpoints: Vec<String>,
    },
}

/// One region of the topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub side: Side,
    pub region: AwsRegion,
    pub cidr: Ipv4Net,
    pub network: Network,
    /// Client sources of this region (IPv4 CIDRs), admitted by both databases.
    pub clients: Vec<Ipv4Net>,
    /// `clients` is the default: the region's own VPC range.
    pub clients_are_vpc: bool,
    /// Client security groups of this region, admitted by this region's database.
    pub client_security_groups: Vec<String>,
}

impl Region {
    pub fn is_managed(&self) -> bool {
        matches!(self.network, Network::Managed { .. })
    }
}

/// Lambda runtimes drgen's functions can use; the source stays compatible with all of them.
pub const RUNTIMES: &[(&str, bool)] = &[
    ("python3.9", true),
    ("python3.10", false),
    ("python3.11", false),
    ("python3.12", false),
    ("python3.13", false),
];

/// CloudWatch Logs retention values (days) of at least one year.
pub(crate) const LOG_RETENTIONS: &[u32] = &[365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    pub instance_class: String,
    pub allocated_storage_gb: u32,
    pub max_allocated_storage_gb: u32,
    pub multi_az: bool,
    pub db_name: String,
    pub master_username: String,
    pub port: u16,
    pub backup_retention_days: u8,
    pub backup_window: String,
    pub maintenance_window: String,
    pub log_min_duration_statement_ms: u32,
    pub monitoring_interval_seconds: u8,
    pub performance_insights_retention_days: u16,
    pub password_rotation_days: u16,
    pub primary_retired: bool,
}

impl Database {
    /// PostgreSQL's default `max_connections` on RDS for this class:
    /// LEAST(DBInstanceClassMemory / 9531392, 5000).
    pub fn max_connections(&self) -> u64 {
        let memory = instance_memory_bytes(&self.instance_class).unwrap_or(8 << 30);
        (memory / 9_531_392).min(5000)
    }
}

/// Memory of an RDS instance class, from its family and size.
pub(crate) fn instance_memory_bytes(class: &str) -> Option<u64> {
    let mut parts = class.split('.');
    let (_, family, size) = (parts.next()?, parts.next()?, parts.next()?);
    let vcpus: u64 = match size {
        "micro" | "small" | "medium" | "large" => 2,
        "xlarge" => 4,
        s => s.strip_suffix("xlarge")?.parse::<u64>().ok()? * 4,
    };
    let gib_per_vcpu: u64 = match family.chars().next()? {
        'r' => 8,
        'x' | 'z' => 16,
        't' => match size {
            "micro" => return Some(1 << 30),
            "small" => return Some(2 << 30),
            "medium" => return Some(4 << 30),
            _ => 4,
        },
        _ => 4,
    };
    Some((vcpus * gib_per_vcpu) << 30)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dns {
    pub zone_name: String,
    /// The zone name is the default `<name>-<suffix>.internal`, rendered over the suffix variable.
    pub zone_is_default: bool,
    pub record_name: String,
    pub private_zone: bool,
    pub ttl_seconds: u32,
    pub switch: DnsSwitch,
}

impl Dns {
    pub fn fqdn(&self) -> String {
        format!("{}.{}", self.record_name, self.zone_name)
    }

    /// The zone name as rendered: over the suffix variable when it is the default.
    pub fn zone_template(&self, suffix: &str) -> String {
        if self.zone_is_default {
            let tail = format!("-{suffix}.internal");
            let head = self.zone_name.strip_suffix(&tail).unwrap_or(&self.zone_name);
            format!("{head}-${{{}}}.internal", crate::naming::SUFFIX_VAR)
        } else {
            self.zone_name.replace("${", "$${")
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failover {
    pub health_check_mode: HealthCheckMode,
    pub request_interval_seconds: u32,
    pub failure_threshold: u32,
    pub lag_threshold_seconds: u32,
    pub monitor_schedule_minutes: u32,
    pub monitor_probe_interval_seconds: u32,
    pub probe_timeout_seconds: u32,
    pub confirm_seconds: u32,
    pub guard_interval_seconds: u32,
    pub silence_seconds: u32,
    pub max_data_loss_seconds: u32,
    pub recovery_event_expiry_seconds: u32,
    pub mode: FailoverMode,
    pub dry_run: bool,
    pub lambda_runtime: String,
    pub observer_reserved_concurrency: Option<u32>,
    pub observer_access_logs: bool,
    /// Where the writer authority lives: None for the failover state table, or the ARC cluster.
    pub arc: Option<ArcAuthority>,
}

/// The writer authority in two Route 53 ARC routing controls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcAuthority {
    pub cluster: ArcCluster,
    pub lease_seconds: u32,
}

/// The ARC cluster that hosts the routing controls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArcCluster {
    /// drgen creates one.
    Create,
    /// An existing cluster and its regional endpoints (URL, region).
    Existing { arn: String, endpoints: Vec<(String, AwsRegion)> },
}

/// Seconds a monitor run leaves free at the end of its schedule period, so that the next run
/// finds the lock released.
const MONITOR_SLACK_SECONDS: u32 = 15;

/// How long one run of the primary-region guard ticks (EventBridge starts one a minute): its
/// last tick starts only when its worst case still ends within this.
pub const GUARD_RUN_SECONDS: u32 = 50;

impl Failover {
    /// The Lambda timeout of the guard: its run, plus the start of the function; below its
    /// minute, so that one run ends before the next begins.
    pub fn guard_timeout_seconds(&self) -> u32 {
        GUARD_RUN_SECONDS + 5
    }

    /// The longest a primary region whose guard works goes between two guard reports, as the DR
    /// side reads them: from a run's last tick (the last that fits in `GUARD_RUN_SECONDS`) to the
    /// next run's first report, that run starting late and its tick taking its worst case, plus
    /// the report's replication. A region that was silent longer than this before the DR side
    /// last reached its primary went mute before it lost the primary: not the short path.
    pub fn guard_gap_seconds(&self) -> u32 {
        use crate::rto::{GUARD_CALL_SECONDS, GUARD_DELAY_SECONDS, REPORT_REPLICATION_SECONDS};
        let tick = self.probe_timeout_seconds + 3 * GUARD_CALL_SECONDS;
        let interval = self.guard_interval_seconds.max(1);
        let last_tick = GUARD_RUN_SECONDS.saturating_sub(tick) / interval * interval;
        (60 + GUARD_DELAY_SECONDS + tick + REPORT_REPLICATION_SECONDS).saturating_sub(last_tick)
    }

    /// The worst case of one tick of the primary-region lease keeper: two routing-control reads
    /// that each try every cluster endpoint, then the write of its confirmation.
    pub fn keeper_tick_seconds(&self) -> u32 {
        use crate::rto::{ARC_ENDPOINTS, GUARD_CALL_SECONDS};
        2 * ARC_ENDPOINTS * GUARD_CALL_SECONDS + GUARD_CALL_SECONDS
    }

    /// The longest time between the starts of two consecutive lease-keeper ticks: a run ticks
    /// every `guard_interval_seconds` while its slowest tick still fits in `GUARD_RUN_SECONDS`, so a
    /// slow first tick may be its only one, and the next run starts a minute after this one, as
    /// late as a run may start.
    pub fn keeper_tick_gap_seconds(&self) -> u32 {
        use crate::rto::GUARD_DELAY_SECONDS;
        (60 + GUARD_DELAY_SECONDS).max(self.guard_interval_seconds)
    }

    /// How long the DR side waits, after it has taken the authority in ARC, before it promotes:
    /// the lease, then the keeper's first tick that must fence (one that reads DR On after the
    /// switch, or the first after the lease since its last confirmation, at most a tick gap) and
    /// its slowest course to ModifyDBInstance, then the fence taking effect. None with the table
    /// authority.
    pub fn lease_wait_seconds(&self) -> Option<u32> {
        self.arc.as_ref().map(|a| {
            a.lease_seconds
                + self.keeper_tick_gap_seconds()
                + self.keeper_tick_seconds()
                + self.lease_fence_seconds()
        })
    }

    /// From the keeper's ModifyDBInstance until the old primary accepts no more commits: RDS
    /// applies the deny-all group (`SG_APPLY_SECONDS`), then the keeper's next tick, up to a tick
    /// gap later, reboots within its slowest course, and the engine stops
    /// (`REBOOT_EFFECT_SECONDS`).
    pub fn lease_fence_seconds(&self) -> u32 {
        use crate::rto::{REBOOT_EFFECT_SECONDS, SG_APPLY_SECONDS};
        SG_APPLY_SECONDS + self.keeper_tick_gap_seconds() + self.keeper_tick_seconds() + REBOOT_EFFECT_SECONDS
    }

    /// How long one monitor run observes: its schedule period less the slack.
    pub fn monitor_run_seconds(&self) -> u32 {
        (self.monitor_schedule_minutes * 60)
            .saturating_sub(MONITOR_SLACK_SECONDS)
            .max(self.monitor_probe_interval_seconds)
    }

    /// The Lambda timeout of the monitor: its run, plus one tick's worst case.
    pub fn monitor_timeout_seconds(&self) -> u32 {
        (self.monitor_run_seconds() + self.probe_timeout_seconds * 3 + crate::rto::TICK_CALLS_SECONDS)
            .min(900)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitoring {
    pub alarm_emails: Vec<String>,
    pub log_retention_days: u32,
    pub cpu_threshold_percent: u32,
    pub free_storage_threshold_gb: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub aws_backup: bool,
    pub schedule: String,
    pub retention_days: u32,
}

/// What the recovery-time budget is computed from.
fn rto_inputs(f: &Failover, d: &Dns) -> RtoInputs {
    RtoInputs {
        health_check_mode: f.health_check_mode,
        request_interval_seconds: f.request_interval_seconds,
        failure_threshold: f.failure_threshold,
        ttl_seconds: d.ttl_seconds,
        switch: d.switch,
        monitor_schedule_seconds: f.monitor_schedule_minutes * 60,
        monitor_run_seconds: f.monitor_run_seconds(),
        probe_interval_seconds: f.monitor_probe_interval_seconds,
        probe_timeout_seconds: f.probe_timeout_seconds,
        confirm_seconds: f.confirm_seconds,
        silence_seconds: f.silence_seconds,
        authority_wait_seconds: f
            .lease_wait_seconds()
            .map_or(0, |wait| wait + crate::rto::ARC_ENDPOINTS * crate::rto::GUARD_CALL_SECONDS),
    }
}

/// The validated topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub name: String,
    pub suffix: EnvSuffix,
    pub destroyable: bool,
    pub rto_target_seconds: u32,
    pub tags: BTreeMap<String, String>,
    pub primary: Region,
    pub dr: Region,
    pub database: Database,
    pub dns: Dns,
    pub failover: Failover,
    pub monitoring: Monitoring,
    pub backup: Backup,
    pub names: Names,
    /// Buckets that receive the state buckets' access logs (primary, DR), when given.
    pub state_access_logs: Option<(String, String)>,
    pub rto: RtoBudget,
    pub warnings: Vec<String>,
}

impl Topology {
    pub fn region(&self, side: Side) -> &Region {
        match side {
            Side::Primary => &self.primary,
            Side::Dr => &self.dr,
        }
    }

    /// Checks the config and builds the model. `suffix` (from the command line) overrides
    /// the config's `environment_suffix`.
    pub fn from_config(config: &Config, suffix: Option<&str>) -> Result<Self, Problems> {
        let mut c = Checker::default();
        let name = c.field("name", check_slug(&config.name).map(|()| config.name.clone()));
        if config.name.len() > 20 {
            c.push("name", format!("is {} characters; at most 20 are allowed", config.name.len()));
        }
        let suffix = if let Some(s) = suffix.or(config.environment_suffix.as_deref()) {
            c.field("environment_suffix", EnvSuffix::parse(s))
        } else {
            c.push(
                "environment_suffix",
                "is required; pass --env-suffix or set environment_suffix in the config",
            );
            None
        };
        c.range("rto_target_seconds", config.rto_target_seconds, 30, 3600);
        let tags = c.tags(&config.tags);

        let primary = c.region(Side::Primary, &config.primary, "us-east-1", "10.0.0.0/16");
        let dr = c.region(Side::Dr, &config.dr, "us-west-2", "10.1.0.0/16");
        if let (Some(p), Some(d)) = (&primary, &dr) {
            if p.region == d.region {
                c.push("dr.region", format!("must differ from primary.region (both are {})", p.region));
            }
            if p.cidr.contains(&d.cidr.network()) || d.cidr.contains(&p.cidr.network()) {
                c.push(
                    "dr.vpc_cidr",
                    format!(
                        "{} overlaps primary.vpc_cidr {}; the peered VPCs need disjoint ranges",
                        d.cidr, p.cidr
                    ),
                );
            }
        }

        let database = c.database(&config.database);
        let default_zone =
            format!("{}-{}.internal", config.name, suffix.as_ref().map_or("suffix", EnvSuffix::as_str));
        let dns = c.dns(&config.dns, &default_zone);
        let failover = c.failover(&config.failover);
        let monitoring = c.monitoring(config, database.as_ref());
        let backup = c.backup(&config.backup);
        c.windows(&config.database, &config.backup);

        let mut warnings = Vec::new();
        if let Some(f) = &failover {
            if RUNTIMES.iter().any(|&(r, deprecated)| deprecated && r == f.lambda_runtime) {
                warnings.push(format!(
                    "failover.lambda_runtime: {} is deprecated by AWS since 2025-12-15 and new functions cannot be created on it; choose python3.12 or python3.13",
                    f.lambda_runtime
                ));
            }
        }

        if let (Some(p), Some(d)) = (&primary, &dr) {
            if p.region.name() != "us-east-1" && d.region.name() != "us-east-1" {
                warnings.push("Route 53 publishes health-check metrics only in us-east-1, which is neither region: the health checks' status is not alarmed; watch it in the Route 53 console".into());
            }
        }
        if config.database.primary_retired {
            warnings.push("database.primary_retired: the old primary is not rendered, so the next apply deletes it (snapshot it first); the DR instance is the writer and there is no failover target until a new topology adds a replica; import the standalone DR secret before the first apply (README.md of the output)".into());
        }
        let state_access_logs = c.access_logs(&config.state);
        let names = match (&name, &suffix) {
            (Some(n), Some(s)) => {
                let names = Names::new(n, config.state.bucket.as_deref());
                c.names(&names, s, config.state.bucket.as_deref());
                Some(names)
            }
            _ => None,
        };

        let rto = match (&failover, &dns) {
            (Some(f), Some(d)) => {
                let rto = RtoBudget::new(&rto_inputs(f, d));
                if d.switch == DnsSwitch::Detection && rto.reroute_seconds() > config.rto_target_seconds {
                    c.push(
                        "rto_target_seconds",
                        format!(
                            "the worst-case DNS reroute is {} s ({}), above the target of {} s; lower dns.ttl_seconds, failover.request_interval_seconds or failover.failure_threshold",
                            rto.reroute_seconds(),
                            rto.reroute_formula(),
                            config.rto_target_seconds
                        ),
                    );
                }
                if rto.short_path_seconds() > config.rto_target_seconds && f.arc.is_some() {
                    c.push(
                        "failover.arc.lease_seconds",
                        format!(
                            "a silent primary region promotes within {} s ({}), above rto_target_seconds {} s: with the ARC authority the DR side waits the lease and the time to fence before it promotes; raise rto_target_seconds or lower failover.arc.lease_seconds",
                            rto.short_path_seconds(),
                            rto.short_path_formula(),
                            config.rto_target_seconds,
                        ),
                    );
                } else if rto.short_path_seconds() > config.rto_target_seconds {
                    c.push(
                        "failover.silence_seconds",
                        format!(
                            "a silent primary region promotes within {} s ({}), above rto_target_seconds {} s; lower failover.silence_seconds (at least {}), failover.monitor_probe_interval_seconds or failover.probe_timeout_seconds",
                            rto.short_path_seconds(),
                            rto.short_path_formula(),
                            config.rto_target_seconds,
                            crate::rto::MIN_SILENCE_SECONDS
                        ),
                    );
                }
                if d.switch == DnsSwitch::Promotion {
                    warnings.push(format!(
                        "dns.switch: promotion moves the writer name only after a promotion has started, within {} s ({})",
                        rto.reroute_seconds(),
                        rto.reroute_formula()
                    ));
                }
                if f.mode == FailoverMode::Manual {
                    warnings.push(
                        "failover.mode: manual never promotes by itself; the monitor pages with the command"
                            .into(),
                    );
                }
                if f.health_check_mode == HealthCheckMode::Cloudwatch {
                    warnings.push(format!(
                        "failover.health_check_mode: cloudwatch detects a failure in {} s or more, slower than endpoint mode",
                        rto.detection_seconds()
                    ));
                }
                Some(rto)
            }
            _ => None,
        };

        Problems::check(c.problems)?;
        let some = "every part is Some when no problem was recorded";
        Ok(Self {
            name: name.expect(some),
            suffix: suffix.expect(some),
            destroyable: config.destroyable,
            rto_target_seconds: config.rto_target_seconds,
            tags,
            primary: primary.expect(some),
            dr: dr.expect(some),
            database: database.expect(some),
            dns: dns.expect(some),
            failover: failover.expect(some),
            monitoring: monitoring.expect(some),
            backup: backup.expect(some),
            names: names.expect(some),
            state_access_logs,
            rto: rto.expect(some),
            warnings,
        })
    }

    /// Every tag applied through the providers' `default_tags`.
    pub fn default_tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.tags.clone();
        tags.insert("Environment".into(), "DR".into());
        tags.insert("CostCenter".into(), "Infrastructure".into());
        tags.insert("environmentSuffix".into(), self.suffix.to_string());
        tags.insert("ManagedBy".into(), "drgen".into());
        tags
    }
}

mod checks;
use checks::Checker;

#[cfg(test)]
mod tests;
