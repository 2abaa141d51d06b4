//! The checks of every config field: `Checker` collects each problem, with the field named,
//! instead of stopping at the first, and builds the model's parts from values it accepted.

use std::collections::BTreeMap;
use std::fmt;

use ipnet::Ipv4Net;

use super::{
    instance_memory_bytes, ArcAuthority, ArcCluster, Backup, Database, Dns, EnvSuffix, Failover, Monitoring,
    Network, Region, Side, LOG_RETENTIONS, RUNTIMES,
};
use crate::config::{Config, ExistingNetwork, RegionConfig, DEFAULT_SUBNET_PREFIX};
use crate::error::FieldError;
use crate::naming::Names;
use crate::region::AwsRegion;
use crate::rto::ARC_ENDPOINTS;

/// `arn:aws:route53-recovery-control::<12 digits>:cluster/<id>`.
fn is_cluster_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws:route53-recovery-control::") else {
        return false;
    };
    let Some((account, id)) = rest.split_once(":cluster/") else {
        return false;
    };
    account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Collects every problem instead of stopping at the first.
#[derive(Default)]
pub(super) struct Checker {
    pub(super) problems: Vec<FieldError>,
}

impl Checker {
    pub(super) fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(FieldError::new(field, message));
    }

    pub(super) fn field<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|m| self.push(field, m)).ok()
    }

    pub(super) fn range<T: PartialOrd + fmt::Display + Copy>(
        &mut self,
        field: &str,
        v: T,
        lo: T,
        hi: T,
    ) -> bool {
        if v < lo || v > hi {
            self.push(field, format!("is {v}; allowed are {lo} to {hi}"));
            false
        } else {
            true
        }
    }

    pub(super) fn one_of<T: PartialEq + fmt::Display + Copy>(&mut self, field: &str, v: T, allowed: &[T]) {
        if !allowed.contains(&v) {
            let list: Vec<String> = allowed.iter().map(ToString::to_string).collect();
            self.push(field, format!("is {v}; allowed are {}", list.join(", ")));
        }
    }

    pub(super) fn tags(&mut self, tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
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

    pub(super) fn region(
        &mut self,
        side: Side,
        rc: &RegionConfig,
        region: &str,
        cidr: &str,
    ) -> Option<Region> {
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

    pub(super) fn clients(&mut self, p: &str, rc: &RegionConfig, cidr: Ipv4Net) -> Option<Vec<Ipv4Net>> {
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

    pub(super) fn client_groups(&mut self, p: &str, rc: &RegionConfig) -> Option<Vec<String>> {
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

    pub(super) fn subnets(
        &mut self,
        p: &str,
        rc: &RegionConfig,
        cidr: Ipv4Net,
        aws: AwsRegion,
    ) -> Option<Network> {
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

    pub(super) fn existing(&mut self, p: &str, e: &ExistingNetwork) -> Option<Network> {
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

    pub(super) fn database(&mut self, d: &crate::config::DatabaseConfig) -> Option<Database> {
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
            primary_retired: d.primary_retired,
        })
    }

    pub(super) fn dns(&mut self, d: &crate::config::DnsConfig, default_zone: &str) -> Option<Dns> {
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

    /// The ARC authority, or None for the table authority; a wrong field is pushed as a problem
    /// (and the caller builds no model).
    fn arc(&mut self, f: &crate::config::FailoverConfig) -> Option<ArcAuthority> {
        use crate::config::Authority;
        let before = self.problems.len();
        let arc = match (f.authority, &f.arc) {
            (Authority::Table, None) => return None,
            (Authority::Table, Some(_)) => {
                self.push(
                    "failover.arc",
                    "applies only with failover.authority = \"arc\"; remove it or set the authority",
                );
                return None;
            }
            (Authority::Arc, arc) => arc.clone().unwrap_or_default(),
        };
        self.range("failover.arc.lease_seconds", arc.lease_seconds, 10, 300);
        let cluster = match &arc.cluster_arn {
            None => {
                if !arc.cluster_endpoints.is_empty() {
                    self.push(
                        "failover.arc.cluster_endpoints",
                        "applies only with failover.arc.cluster_arn; a cluster drgen creates has its endpoints read by Terraform",
                    );
                }
                ArcCluster::Create
            }
            Some(arn) => {
                if !is_cluster_arn(arn) {
                    self.push(
                        "failover.arc.cluster_arn",
                        format!(
                            "`{}` is not an ARC cluster ARN; use arn:aws:route53-recovery-control::ACCOUNT:cluster/ID (12-digit account, id of letters, digits and hyphens)",
                            arn.escape_debug()
                        ),
                    );
                }
                let n = arc.cluster_endpoints.len();
                if n != ARC_ENDPOINTS as usize {
                    self.push(
                        "failover.arc.cluster_endpoints",
                        format!("has {n} entries; give the cluster's {ARC_ENDPOINTS} endpoints, as DescribeCluster lists them (each endpoint and its region)"),
                    );
                }
                let mut endpoints = Vec::new();
                for (i, e) in arc.cluster_endpoints.iter().enumerate() {
                    let field = format!("failover.arc.cluster_endpoints[{i}]");
                    let region = self.field(&format!("{field}.region"), AwsRegion::parse(&e.region));
                    let host_ok = region.as_ref().is_some_and(|r| {
                        let suffix = format!(".route53-recovery-cluster.{}.amazonaws.com/v1", r.name());
                        e.endpoint
                            .strip_prefix("https://")
                            .and_then(|rest| rest.strip_suffix(&suffix))
                            .is_some_and(|host| {
                                !host.is_empty()
                                    && host.len() <= 63
                                    && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                            })
                    });
                    if region.is_some() && !host_ok {
                        self.push(
                            format!("{field}.endpoint"),
                            format!(
                                "`{}` is not a cluster endpoint of {}; use https://HOST.route53-recovery-cluster.{}.amazonaws.com/v1",
                                e.endpoint.escape_debug(),
                                e.region,
                                e.region
                            ),
                        );
                    }
                    if let Some(region) = region {
                        endpoints.push((e.endpoint.clone(), region));
                    }
                }
                ArcCluster::Existing { arn: arn.clone(), endpoints }
            }
        };
        (self.problems.len() == before).then_some(ArcAuthority { cluster, lease_seconds: arc.lease_seconds })
    }

    pub(super) fn failover(&mut self, f: &crate::config::FailoverConfig) -> Option<Failover> {
        let before = self.problems.len();
        self.one_of("failover.request_interval_seconds", f.request_interval_seconds, &[10, 30]);
        self.range("failover.failure_threshold", f.failure_threshold, 1, 10);
        self.range("failover.lag_threshold_seconds", f.lag_threshold_seconds, 1, 3600);
        self.range("failover.monitor_schedule_minutes", f.monitor_schedule_minutes, 1, 14);
        self.range("failover.monitor_probe_interval_seconds", f.monitor_probe_interval_seconds, 1, 30);
        self.range("failover.confirm_seconds", f.confirm_seconds, 60, 3600);
        // At most one RDS read a second (two per tick) out of the account's sustained 12 per
        // region (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-api-throttling.html);
        // at least three ticks in each run, and an open recovery reported within 15 s.
        self.range("failover.guard_interval_seconds", f.guard_interval_seconds, 2, 15);
        if f.silence_seconds < crate::rto::MIN_SILENCE_SECONDS || f.silence_seconds > 3600 {
            self.push(
                "failover.silence_seconds",
                format!(
                    "is {}; allowed are {} to 3600: a primary region whose guard fails still speaks once a minute through its observer, and a beat may arrive up to {} s late",
                    f.silence_seconds,
                    crate::rto::MIN_SILENCE_SECONDS,
                    crate::rto::SPEAKER_SLACK_SECONDS
                ),
            );
        }
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
        let arc = self.arc(f);
        (self.problems.len() == before).then(|| Failover {
            health_check_mode: f.health_check_mode,
            request_interval_seconds: f.request_interval_seconds,
            failure_threshold: f.failure_threshold,
            lag_threshold_seconds: f.lag_threshold_seconds,
            monitor_schedule_minutes: f.monitor_schedule_minutes,
            monitor_probe_interval_seconds: f.monitor_probe_interval_seconds,
            probe_timeout_seconds: f.probe_timeout_seconds,
            confirm_seconds: f.confirm_seconds,
            guard_interval_seconds: f.guard_interval_seconds,
            silence_seconds: f.silence_seconds,
            max_data_loss_seconds: f.max_data_loss_seconds,
            recovery_event_expiry_seconds: f.recovery_event_expiry_seconds,
            mode: f.mode,
            dry_run: f.dry_run,
            lambda_runtime: f.lambda_runtime.clone(),
            observer_reserved_concurrency: f.observer_reserved_concurrency,
            observer_access_logs: f.observer_access_logs,
            arc,
        })
    }

    pub(super) fn monitoring(&mut self, config: &Config, database: Option<&Database>) -> Option<Monitoring> {
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

    pub(super) fn backup(&mut self, b: &crate::config::BackupConfig) -> Option<Backup> {
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
    pub(super) fn windows(&mut self, d: &crate::config::DatabaseConfig, b: &crate::config::BackupConfig) {
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

    pub(super) fn bucket_name(&mut self, field: &str, b: &str) -> bool {
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

    pub(super) fn access_logs(&mut self, s: &crate::config::StateConfig) -> Option<(String, String)> {
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

    pub(super) fn names(&mut self, names: &Names, suffix: &EnvSuffix, bucket: Option<&str>) {
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
pub(super) fn parse_window(s: &str, with_day: bool) -> Option<u32> {
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
