//! The validated topology. It is built only by `Topology::from_config`, which checks every
//! field, so a `Topology` always describes something drgen can render.

use std::collections::BTreeMap;
use std::fmt;

use ipnet::Ipv4Net;

use crate::config::{
    Config, DnsSwitch, ExistingNetwork, FailoverMode, HealthCheckMode, RegionConfig, DEFAULT_SUBNET_PREFIX,
};
use crate::error::{FieldError, Problems};
use crate::naming::Names;
use crate::region::AwsRegion;
use crate::rto::RtoBudget;

/// The two regions' roles. Everything that exists in both regions is rendered once per side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Primary,
    Dr,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Primary, Side::Dr];

    /// The label used for per-region resources and the provider alias.
    pub fn label(self) -> &'static str {
        match self {
            Side::Primary => "primary",
            Side::Dr => "dr",
        }
    }

    #[must_use]
    pub fn other(self) -> Side {
        match self {
            Side::Primary => Side::Dr,
            Side::Dr => Side::Primary,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

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
const LOG_RETENTIONS: &[u32] = &[365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

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
fn instance_memory_bytes(class: &str) -> Option<u64> {
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
    pub max_data_loss_seconds: u32,
    pub recovery_event_expiry_seconds: u32,
    pub mode: FailoverMode,
    pub dry_run: bool,
    pub lambda_runtime: String,
    pub observer_reserved_concurrency: Option<u32>,
    pub observer_access_logs: bool,
}

/// Seconds a monitor run leaves free at the end of its schedule period, so that the next run
/// finds the lock released.
const MONITOR_SLACK_SECONDS: u32 = 15;

/// Upper bound of one monitor tick's AWS and PostgreSQL calls after its probe: four AWS reads
/// (5 s read timeout, two attempts each) and two WAL-position queries, within the probe timeout.
pub const TICK_CALLS_SECONDS: u32 = 45;

impl Failover {
    /// How long one monitor run observes: its schedule period less the slack.
    pub fn monitor_run_seconds(&self) -> u32 {
        (self.monitor_schedule_minutes * 60)
            .saturating_sub(MONITOR_SLACK_SECONDS)
            .max(self.monitor_probe_interval_seconds)
    }

    /// The Lambda timeout of the monitor: its run, plus one tick's worst case.
    pub fn monitor_timeout_seconds(&self) -> u32 {
        (self.monitor_run_seconds() + self.probe_timeout_seconds * 3 + TICK_CALLS_SECONDS).min(900)
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
                let rto = RtoBudget::new(f, d);
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

/// Collects every problem instead of stopping at the first.
#[derive(Default)]
struct Checker {
    problems: Vec<FieldError>,
}

impl Checker {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(FieldError::new(field, message));
    }

    fn field<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|m| self.push(field, m)).ok()
    }

    fn range<T: PartialOrd + fmt::Display + Copy>(&mut self, field: &str, v: T, lo: T, hi: T) -> bool {
        if v < lo || v > hi {
            self.push(field, format!("is {v}; allowed are {lo} to {hi}"));
            false
        } else {
            true
        }
    }

    fn one_of<T: PartialEq + fmt::Display + Copy>(&mut self, field: &str, v: T, allowed: &[T]) {
        if !allowed.contains(&v) {
            let list: Vec<String> = allowed.iter().map(ToString::to_string).collect();
            self.push(field, format!("is {v}; allowed are {}", list.join(", ")));
        }
    }

    fn tags(&mut self, tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        const RESERVED: &[&str] = &["Environment", "CostCenter", "environmentSuffix", "ManagedBy", "Name"];
        let allowed = |c: char| c.is_alphanumeric() || " _.:/=+-@".contains(c);
        for (key, value) in tags {
            let mut field = String::from("tags");
            crate::config::push_key(&mut field, key);
            if key.is_empty() || key.chars().count() > 128 || !key.chars().all(allowed) {
                self.push(&field, "a tag key has 1 to 128 letters, digits, spaces or _ . : / = + - @");
            } else if key.to_ascii_lowercase().starts_with("aws:") {
                self.push(&field, "the prefix aws: is reserved by AWS");
            } else if RESERVED.contains(&key.as_str()) {
                self.push(&field, "is set by drgen; choose another key");
            }
            if value.chars().count() > 256 || !value.chars().all(allowed) {
                self.push(&field, "a tag value has at most 256 letters, digits, spaces or _ . : / = + - @");
            }
        }
        tags.clone()
    }

    fn region(&mut self, side: Side, rc: &RegionConfig, region: &str, cidr: &str) -> Option<Region> {
        let p = side.label();
        let aws =
            self.field(&format!("{p}.region"), AwsRegion::parse(rc.region.as_deref().unwrap_or(region)));
        if rc.existing_network.is_some() && rc.vpc_cidr.is_none() {
            self.push(
                format!("{p}.vpc_cidr"),
                "is required with existing_network: give the existing VPC's CIDR",
            );
        }
        let cidr = self.field(&format!("{p}.vpc_cidr"), parse_cidr(rc.vpc_cidr.as_deref().unwrap_or(cidr)));
        if let Some(c) = cidr {
            if !(16..=28).contains(&c.prefix_len()) {
                self.push(
                    format!("{p}.vpc_cidr"),
                    format!("{c} has prefix /{}; a VPC is /16 to /28", c.prefix_len()),
                );
            }
        }
        let network = match &rc.existing_network {
            Some(existing) => {
                if rc.availability_zones.is_some() || rc.subnet_prefix_length.is_some() {
                    self.push(
                        format!("{p}.existing_network"),
                        "availability_zones and subnet_prefix_length apply only to a VPC drgen creates; remove them",
                    );
                }
                self.existing(p, existing)
            }
            None => self.subnets(p, rc, cidr?, aws?),
        };
        let clients = self.clients(p, rc, cidr?);
        let groups = self.client_groups(p, rc);
        Some(Region {
            side,
            region: aws?,
            cidr: cidr?,
            network: network?,
            clients: clients?,
            clients_are_vpc: rc.client_cidrs.is_none(),
            client_security_groups: groups?,
        })
    }

    fn clients(&mut self, p: &str, rc: &RegionConfig, cidr: Ipv4Net) -> Option<Vec<Ipv4Net>> {
        let Some(list) = &rc.client_cidrs else { return Some(vec![cidr]) };
        let before = self.problems.len();
        if list.is_empty() || list.len() > 50 {
            self.push(format!("{p}.client_cidrs"), "give 1 to 50 CIDRs");
        }
        let mut out = Vec::new();
        for (i, c) in list.iter().enumerate() {
            let field = format!("{p}.client_cidrs[{i}]");
            match parse_cidr(c) {
                Ok(net) if net.prefix_len() < 8 => self.push(
                    field,
                    format!(
                        "{net} admits (nearly) the whole internet; list the clients' networks, /8 or longer"
                    ),
                ),
                Ok(net) if out.contains(&net) => self.push(field, format!("{net} is listed twice")),
                Ok(net) => out.push(net),
                Err(e) => self.push(field, e),
            }
        }
        (self.problems.len() == before).then_some(out)
    }

    fn client_groups(&mut self, p: &str, rc: &RegionConfig) -> Option<Vec<String>> {
        let Some(list) = &rc.client_security_group_ids else { return Some(Vec::new()) };
        let before = self.problems.len();
        if rc.existing_network.is_none() {
            self.push(
                format!("{p}.client_security_group_ids"),
                "applies only with existing_network (a VPC drgen creates has no clients yet); use client_cidrs",
            );
        }
        for (i, g) in list.iter().enumerate() {
            let ok = g.strip_prefix("sg-").is_some_and(|h| {
                (8..=17).contains(&h.len())
                    && h.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
            });
            if !ok {
                self.push(
                    format!("{p}.client_security_group_ids[{i}]"),
                    format!("`{}` is not a security group id (sg- and 8 or 17 hex digits)", g.escape_debug()),
                );
            }
        }
        (self.problems.len() == before).then(|| list.clone())
    }

    fn subnets(&mut self, p: &str, rc: &RegionConfig, cidr: Ipv4Net, aws: AwsRegion) -> Option<Network> {
        let zones = rc.availability_zones.clone().unwrap_or_else(|| aws.default_zones());
        let len = rc.subnet_prefix_length.unwrap_or(DEFAULT_SUBNET_PREFIX);
        let field = format!("{p}.availability_zones");
        if !(2..=6).contains(&zones.len()) {
            self.push(field, format!("lists {} zones; give 2 to 6", zones.len()));
            return None;
        }
        for (i, z) in zones.iter().enumerate() {
            let ok = z
                .strip_prefix(aws.name())
                .is_some_and(|l| l.len() == 1 && l.chars().all(|c| c.is_ascii_lowercase()));
            if !ok {
                self.push(
                    format!("{field}[{i}]"),
                    format!("`{}` is not a zone of {aws} (such as {aws}a)", z.escape_debug()),
                );
                return None;
            }
            if zones[..i].contains(z) {
                self.push(format!("{field}[{i}]"), format!("{z} is listed twice"));
                return None;
            }
        }
        let field = format!("{p}.subnet_prefix_length");
        if !self.range(&field, len, 16, 28) {
            return None;
        }
        let subnets: Vec<Ipv4Net> =
            cidr.subnets(len).map(|s| s.take(zones.len()).collect()).unwrap_or_default();
        if len < cidr.prefix_len() || subnets.len() < zones.len() {
            self.push(
                field,
                format!(
                    "{} subnets of /{len} do not fit in {cidr}; use a longer prefix or a larger VPC",
                    zones.len()
                ),
            );
            return None;
        }
        Some(Network::Managed { zones, subnets })
    }

    fn existing(&mut self, p: &str, e: &ExistingNetwork) -> Option<Network> {
        let before = self.problems.len();
        let id = |prefix: &str, s: &str| {
            s.strip_prefix(prefix).is_some_and(|h| {
                (8..=17).contains(&h.len())
                    && h.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
            })
        };
        if !id("vpc-", &e.vpc_id) {
            self.push(
                format!("{p}.existing_network.vpc_id"),
                format!("`{}` is not a VPC id (vpc- and 8 or 17 hex digits)", e.vpc_id.escape_debug()),
            );
        }
        if e.subnet_ids.len() < 2 || e.subnet_ids.len() > 6 {
            self.push(
                format!("{p}.existing_network.subnet_ids"),
                "give 2 to 6 subnets in different availability zones",
            );
        }
        for (i, s) in e.subnet_ids.iter().enumerate() {
            if !id("subnet-", s) {
                self.push(
                    format!("{p}.existing_network.subnet_ids[{i}]"),
                    format!("`{}` is not a subnet id", s.escape_debug()),
                );
            }
        }
        if e.route_table_ids.is_empty() {
            self.push(
                format!("{p}.existing_network.route_table_ids"),
                "give at least one route table for the peering routes",
            );
        }
        for (i, s) in e.route_table_ids.iter().enumerate() {
            if !id("rtb-", s) {
                self.push(
                    format!("{p}.existing_network.route_table_ids[{i}]"),
                    format!("`{}` is not a route table id", s.escape_debug()),
                );
            }
        }
        for (i, s) in e.existing_endpoints.iter().enumerate() {
            let ok = !s.is_empty()
                && s.len() <= 40
                && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
            if !ok || e.existing_endpoints[..i].contains(s) {
                self.push(
                    format!("{p}.existing_network.existing_endpoints[{i}]"),
                    format!(
                        "`{}` is not a service endpoint name such as logs or dynamodb, or is listed twice",
                        s.escape_debug()
                    ),
                );
            }
        }
        (self.problems.len() == before).then(|| Network::Existing {
            vpc_id: e.vpc_id.clone(),
            subnet_ids: e.subnet_ids.clone(),
            route_table_ids: e.route_table_ids.clone(),
            existing_endpoints: e.existing_endpoints.clone(),
        })
    }

    fn database(&mut self, d: &crate::config::DatabaseConfig) -> Option<Database> {
        let before = self.problems.len();
        let class_ok = d.instance_class.strip_prefix("db.").is_some_and(|rest| {
            let parts: Vec<&str> = rest.split('.').collect();
            parts.len() == 2
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        });
        if !class_ok {
            self.push(
                "database.instance_class",
                format!(
                    "`{}` is not an RDS instance class (db.<family>.<size>, e.g. db.r6g.large)",
                    d.instance_class.escape_debug()
                ),
            );
        } else if instance_memory_bytes(&d.instance_class).is_none() {
            self.push(
                "database.instance_class",
                format!(
                    "`{}` has an unknown size; use micro, small, medium, large, xlarge or <N>xlarge",
                    d.instance_class
                ),
            );
        }
        self.range("database.allocated_storage_gb", d.allocated_storage_gb, 20, 65_536);
        if d.max_allocated_storage_gb <= d.allocated_storage_gb || d.max_allocated_storage_gb > 65_536 {
            self.push(
                "database.max_allocated_storage_gb",
                format!(
                    "is {}; it must exceed allocated_storage_gb ({}) and be at most 65536",
                    d.max_allocated_storage_gb, d.allocated_storage_gb
                ),
            );
        }
        for (field, v) in [("database.db_name", &d.db_name), ("database.master_username", &d.master_username)]
        {
            let ok = v.starts_with(|c: char| c.is_ascii_alphabetic())
                && v.len() <= 63
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                self.push(field, format!("`{}` is not allowed; use 1 to 63 letters, digits or underscores, starting with a letter", v.escape_debug()));
            }
        }
        if ["postgres", "rdsadmin", "rds_superuser", "admin"]
            .contains(&d.master_username.to_ascii_lowercase().as_str())
        {
            self.push(
                "database.master_username",
                format!("`{}` is reserved by RDS PostgreSQL", d.master_username),
            );
        }
        self.range("database.port", d.port, 1150, 65_535);
        self.range("database.backup_retention_days", d.backup_retention_days, 1, 35);
        if parse_window(&d.backup_window, false).is_none() {
            self.push(
                "database.backup_window",
                format!(
                    "`{}` is not a window hh:mm-hh:mm (UTC) of at least 30 minutes",
                    d.backup_window.escape_debug()
                ),
            );
        }
        if parse_window(&d.maintenance_window, true).is_none() {
            self.push(
                "database.maintenance_window",
                format!(
                    "`{}` is not a window ddd:hh:mm-ddd:hh:mm (UTC) of at least 30 minutes",
                    d.maintenance_window.escape_debug()
                ),
            );
        }
        self.range("database.log_min_duration_statement_ms", d.log_min_duration_statement_ms, 0, 60_000);
        self.one_of(
            "database.monitoring_interval_seconds",
            d.monitoring_interval_seconds,
            &[1, 5, 10, 15, 30, 60],
        );
        let pi = d.performance_insights_retention_days;
        if !(pi == 7 || pi == 731 || (pi % 31 == 0 && (31..=713).contains(&pi))) {
            self.push(
                "database.performance_insights_retention_days",
                format!("is {pi}; allowed are 7, a multiple of 31 up to 713, or 731"),
            );
        }
        self.range("database.password_rotation_days", d.password_rotation_days, 1, 365);
        (self.problems.len() == before).then(|| Database {
            instance_class: d.instance_class.clone(),
            allocated_storage_gb: d.allocated_storage_gb,
            max_allocated_storage_gb: d.max_allocated_storage_gb,
            multi_az: d.multi_az,
            db_name: d.db_name.clone(),
            master_username: d.master_username.clone(),
            port: d.port,
            backup_retention_days: d.backup_retention_days,
            backup_window: d.backup_window.clone(),
            maintenance_window: d.maintenance_window.clone(),
            log_min_duration_statement_ms: d.log_min_duration_statement_ms,
            monitoring_interval_seconds: d.monitoring_interval_seconds,
            performance_insights_retention_days: d.performance_insights_retention_days,
            password_rotation_days: d.password_rotation_days,
        })
    }

    fn dns(&mut self, d: &crate::config::DnsConfig, default_zone: &str) -> Option<Dns> {
        let before = self.problems.len();
        let zone_name = d.zone_name.clone().unwrap_or_else(|| default_zone.to_string());
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if zone_name.len() > 200 || zone_name.split('.').count() < 2 || !zone_name.split('.').all(label_ok) {
            self.push("dns.zone_name", format!("`{}` is not a DNS zone name (dot-separated labels of lowercase letters, digits and hyphens, at least two labels)", zone_name.escape_debug()));
        }
        if !label_ok(&d.record_name) {
            self.push(
                "dns.record_name",
                format!(
                    "`{}` is not a DNS label (1 to 63 lowercase letters, digits and hyphens)",
                    d.record_name.escape_debug()
                ),
            );
        }
        self.range("dns.ttl_seconds", d.ttl_seconds, 5, 300);
        (self.problems.len() == before).then(|| Dns {
            zone_is_default: d.zone_name.is_none(),
            zone_name,
            record_name: d.record_name.clone(),
            private_zone: d.private_zone,
            ttl_seconds: d.ttl_seconds,
            switch: d.switch,
        })
    }

    fn failover(&mut self, f: &crate::config::FailoverConfig) -> Option<Failover> {
        let before = self.problems.len();
        self.one_of("failover.request_interval_seconds", f.request_interval_seconds, &[10, 30]);
        self.range("failover.failure_threshold", f.failure_threshold, 1, 10);
        self.range("failover.lag_threshold_seconds", f.lag_threshold_seconds, 1, 3600);
        self.range("failover.monitor_schedule_minutes", f.monitor_schedule_minutes, 1, 14);
        self.range("failover.monitor_probe_interval_seconds", f.monitor_probe_interval_seconds, 1, 30);
        self.range("failover.confirm_seconds", f.confirm_seconds, 60, 3600);
        self.range("failover.max_data_loss_seconds", f.max_data_loss_seconds, 0, 3600);
        self.range("failover.recovery_event_expiry_seconds", f.recovery_event_expiry_seconds, 300, 86_400);
        if !f.step_functions {
            self.push(
                "failover.step_functions",
                "false is not supported: the failover workflow (promotion, secret, fence) runs in Step Functions; remove the setting",
            );
        }
        self.range("failover.probe_timeout_seconds", f.probe_timeout_seconds, 1, 10);
        if let Some(n) = f.observer_reserved_concurrency {
            self.range("failover.observer_reserved_concurrency", n, 1, 100);
        }
        if !RUNTIMES.iter().any(|&(r, _)| r == f.lambda_runtime) {
            let list: Vec<&str> = RUNTIMES.iter().map(|&(r, _)| r).collect();
            self.push(
                "failover.lambda_runtime",
                format!(
                    "`{}` is not supported; allowed are {}",
                    f.lambda_runtime.escape_debug(),
                    list.join(", ")
                ),
            );
        }
        (self.problems.len() == before).then(|| Failover {
            health_check_mode: f.health_check_mode,
            request_interval_seconds: f.request_interval_seconds,
            failure_threshold: f.failure_threshold,
            lag_threshold_seconds: f.lag_threshold_seconds,
            monitor_schedule_minutes: f.monitor_schedule_minutes,
            monitor_probe_interval_seconds: f.monitor_probe_interval_seconds,
            probe_timeout_seconds: f.probe_timeout_seconds,
            confirm_seconds: f.confirm_seconds,
            max_data_loss_seconds: f.max_data_loss_seconds,
            recovery_event_expiry_seconds: f.recovery_event_expiry_seconds,
            mode: f.mode,
            dry_run: f.dry_run,
            lambda_runtime: f.lambda_runtime.clone(),
            observer_reserved_concurrency: f.observer_reserved_concurrency,
            observer_access_logs: f.observer_access_logs,
        })
    }

    fn monitoring(&mut self, config: &Config, database: Option<&Database>) -> Option<Monitoring> {
        let m = &config.monitoring;
        let before = self.problems.len();
        for (i, e) in m.alarm_emails.iter().enumerate() {
            let ok = e.len() <= 254
                && e.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty()
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && local.chars().all(|c| c.is_ascii_alphanumeric() || ".!#$&'*+/=?^_`|~-".contains(c))
                        && domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
                });
            if !ok || e.contains("${") || e.contains("%{") {
                self.push(
                    format!("monitoring.alarm_emails[{i}]"),
                    format!("`{}` is not an email address", e.escape_debug()),
                );
            }
        }
        let mut sorted = m.alarm_emails.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != m.alarm_emails.len() {
            self.push("monitoring.alarm_emails", "lists an address twice");
        }
        self.one_of("monitoring.log_retention_days", m.log_retention_days, LOG_RETENTIONS);
        self.range("monitoring.cpu_threshold_percent", m.cpu_threshold_percent, 1, 100);
        let storage = database.map_or(config.database.allocated_storage_gb, |d| d.allocated_storage_gb);
        if m.free_storage_threshold_gb == 0 || m.free_storage_threshold_gb >= storage {
            self.push(
                "monitoring.free_storage_threshold_gb",
                format!("is {}; allowed are 1 to {}", m.free_storage_threshold_gb, storage.saturating_sub(1)),
            );
        }
        (self.problems.len() == before).then(|| Monitoring {
            alarm_emails: m.alarm_emails.clone(),
            log_retention_days: m.log_retention_days,
            cpu_threshold_percent: m.cpu_threshold_percent,
            free_storage_threshold_gb: m.free_storage_threshold_gb,
        })
    }

    fn backup(&mut self, b: &crate::config::BackupConfig) -> Option<Backup> {
        let before = self.problems.len();
        let inner = b.schedule.strip_prefix("cron(").and_then(|s| s.strip_suffix(')'));
        let ok = inner.is_some_and(|s| {
            s.split(' ').count() == 6 && s.chars().all(|c| c.is_ascii_alphanumeric() || " *?,-/#".contains(c))
        });
        if !ok {
            self.push(
                "backup.schedule",
                format!(
                    "`{}` is not an AWS cron expression such as cron(0 5 * * ? *)",
                    b.schedule.escape_debug()
                ),
            );
        }
        self.range("backup.retention_days", b.retention_days, 1, 36_500);
        (self.problems.len() == before).then(|| Backup {
            aws_backup: b.aws_backup,
            schedule: b.schedule.clone(),
            retention_days: b.retention_days,
        })
    }

    /// RDS refuses a backup window that overlaps the maintenance window; an AWS Backup job that
    /// starts in either of them waits or fails.
    fn windows(&mut self, d: &crate::config::DatabaseConfig, b: &crate::config::BackupConfig) {
        let (Some(backup), Some(maintenance)) =
            (window(&d.backup_window, false), window(&d.maintenance_window, true))
        else {
            return;
        };
        let backup = week_minutes(backup.0, backup.1, true);
        let maintenance = week_minutes(maintenance.0, maintenance.1, false);
        if overlaps(&backup, &maintenance) {
            self.push(
                "database.backup_window",
                format!(
                    "{} overlaps database.maintenance_window {}; RDS needs them apart",
                    d.backup_window, d.maintenance_window
                ),
            );
        }
        if let (true, Some(start)) = (b.aws_backup, cron_start(&b.schedule)) {
            let job = week_minutes(start, AWS_BACKUP_START_WINDOW_MINUTES, true);
            for (field, other) in
                [("database.maintenance_window", &maintenance), ("database.backup_window", &backup)]
            {
                if overlaps(&job, other) {
                    self.push(
                        "backup.schedule",
                        format!(
                            "{} and its {}-minute start window overlap {field}; choose a time outside both RDS windows",
                            b.schedule, AWS_BACKUP_START_WINDOW_MINUTES
                        ),
                    );
                }
            }
        }
    }

    fn bucket_name(&mut self, field: &str, b: &str) -> bool {
        let ok = (3..=63).contains(&b.len())
            && b.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && b.starts_with(|c: char| c.is_ascii_alphanumeric())
            && b.ends_with(|c: char| c.is_ascii_alphanumeric())
            && !b.contains("..");
        if !ok {
            self.push(
                field,
                format!(
                    "`{}` is not an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)",
                    b.escape_debug()
                ),
            );
        }
        ok
    }

    fn access_logs(&mut self, s: &crate::config::StateConfig) -> Option<(String, String)> {
        match (&s.access_log_bucket, &s.replica_access_log_bucket) {
            (None, None) => None,
            (Some(p), Some(d)) => {
                let ok = self.bucket_name("state.access_log_bucket", p);
                let ok = self.bucket_name("state.replica_access_log_bucket", d) && ok;
                ok.then(|| (p.clone(), d.clone()))
            }
            _ => {
                self.push(
                    "state.access_log_bucket",
                    "set access_log_bucket and replica_access_log_bucket together (one bucket per region)",
                );
                None
            }
        }
    }

    fn names(&mut self, names: &Names, suffix: &EnvSuffix, bucket: Option<&str>) {
        if let Some(b) = bucket {
            self.bucket_name("state.bucket", b);
        }
        let (max, tightest) = names.max_suffix_len();
        if suffix.as_str().len() > max {
            self.push(
                "environment_suffix",
                format!(
                    "`{suffix}` is {} characters; at most {max} fit, because the {} `{}` is limited to {} characters",
                    suffix.as_str().len(),
                    tightest.service,
                    tightest.with_suffix("<suffix>"),
                    tightest.limit
                ),
            );
        }
    }
}

fn parse_cidr(s: &str) -> Result<Ipv4Net, String> {
    let net: Ipv4Net =
        s.parse().map_err(|_| format!("`{}` is not an IPv4 CIDR such as 10.0.0.0/16", s.escape_debug()))?;
    if net.trunc() != net {
        return Err(format!("{net} has host bits set; did you mean {}?", net.trunc()));
    }
    Ok(net)
}

/// Parses `hh:mm-hh:mm` (or `ddd:hh:mm-ddd:hh:mm` with days) and returns its length in minutes.
fn parse_window(s: &str, with_day: bool) -> Option<u32> {
    window(s, with_day).map(|(_, len)| len)
}

const WEEK_MINUTES: u32 = 7 * 1440;

/// The minutes of the week a window covers: a daily window on every day, a weekly one once.
fn week_minutes(start: u32, len: u32, daily: bool) -> Vec<(u32, u32)> {
    let days = if daily { 0..7 } else { 0..1 };
    days.map(|d| ((start + d * 1440) % WEEK_MINUTES, len)).collect()
}

/// Whether two sets of (start, length) ranges on the weekly circle intersect.
fn overlaps(a: &[(u32, u32)], b: &[(u32, u32)]) -> bool {
    let inside = |x: u32, (start, len): (u32, u32)| (x + WEEK_MINUTES - start) % WEEK_MINUTES < len;
    a.iter().any(|&ra| b.iter().any(|&rb| inside(ra.0, rb) || inside(rb.0, ra)))
}

/// The start of an AWS cron expression whose minute and hour are plain numbers (minutes after
/// midnight UTC), or None for any other schedule.
fn cron_start(schedule: &str) -> Option<u32> {
    let inner = schedule.strip_prefix("cron(")?.strip_suffix(')')?;
    let mut fields = inner.split(' ');
    let minute: u32 = fields.next()?.parse().ok()?;
    let hour: u32 = fields.next()?.parse().ok()?;
    (minute < 60 && hour < 24).then_some(hour * 60 + minute)
}

/// AWS Backup's default start window, in minutes.
pub const AWS_BACKUP_START_WINDOW_MINUTES: u32 = 60;

/// Start (minutes from Monday 00:00, or from midnight for a daily window) and length.
fn window(s: &str, with_day: bool) -> Option<(u32, u32)> {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let point = |p: &str| -> Option<u32> {
        let parts: Vec<&str> = p.split(':').collect();
        let (day, hh, mm) = match (with_day, parts.as_slice()) {
            (true, [d, h, m]) => (u32::try_from(DAYS.iter().position(|x| x == d)?).ok()?, *h, *m),
            (false, [h, m]) => (0, *h, *m),
            _ => return None,
        };
        if hh.len() != 2 || mm.len() != 2 {
            return None;
        }
        let (h, m): (u32, u32) = (hh.parse().ok()?, mm.parse().ok()?);
        (h < 24 && m < 60).then_some(day * 1440 + h * 60 + m)
    };
    let (a, b) = s.split_once('-')?;
    let (a, b) = (point(a)?, point(b)?);
    let period = if with_day { 7 * 1440 } else { 1440 };
    let len = (b + period - a) % period;
    (len >= 30).then_some((a, len))
}

#[cfg(test)]
mod tests;
