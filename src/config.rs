//! The config file as users write it: every field optional, unknown fields rejected.
//!
//! This is the raw form. `model::Topology::from_config` turns it into the validated model.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{FieldError, Problems};

/// A two-region RDS PostgreSQL disaster-recovery topology.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Prefix of every AWS name: lowercase letters, digits and hyphens, starting with a letter.
    pub name: String,
    /// Environment suffix appended to every AWS name. No default: set it here or pass
    /// `--env-suffix`, which overrides it.
    pub environment_suffix: Option<String>,
    /// When true (the default) everything can be destroyed: no deletion protection,
    /// no final snapshot, secrets deleted without a recovery window.
    pub destroyable: bool,
    /// Largest accepted worst-case DNS reroute time, and time until promotion starts when the
    /// primary's region falls silent, in seconds.
    pub rto_target_seconds: u32,
    /// Extra tags on every resource, besides the ones drgen sets (Environment, CostCenter,
    /// environmentSuffix, ManagedBy, and Name where a resource has one).
    pub tags: BTreeMap<String, String>,
    /// The region that runs the writable primary.
    pub primary: RegionConfig,
    /// The disaster-recovery region that runs the cross-region replica.
    pub dr: RegionConfig,
    /// The PostgreSQL database.
    pub database: DatabaseConfig,
    /// The failover DNS name.
    pub dns: DnsConfig,
    /// Failure detection and promotion.
    pub failover: FailoverConfig,
    /// Alarms, notifications and logs.
    pub monitoring: MonitoringConfig,
    /// AWS Backup plan with a copy to the DR region.
    pub backup: BackupConfig,
    /// The Terraform state backend.
    pub state: StateConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            name: "trading-db".into(),
            environment_suffix: None,
            destroyable: true,
            rto_target_seconds: 120,
            tags: BTreeMap::new(),
            primary: RegionConfig::with_defaults("us-east-1", "10.0.0.0/16"),
            dr: RegionConfig::with_defaults("us-west-2", "10.1.0.0/16"),
            database: DatabaseConfig::default(),
            dns: DnsConfig::default(),
            failover: FailoverConfig::default(),
            monitoring: MonitoringConfig::default(),
            backup: BackupConfig::default(),
            state: StateConfig::default(),
        }
    }
}

/// One region of the topology.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RegionConfig {
    /// AWS region. Defaults: us-east-1 (primary), us-west-2 (DR).
    pub region: Option<String>,
    /// IPv4 CIDR of the VPC. Defaults: 10.0.0.0/16 (primary), 10.1.0.0/16 (DR).
    pub vpc_cidr: Option<String>,
    /// Availability zones of the private subnets, one subnet each (2 to 6 zone names of the
    /// region). Default: three zones of the region, such as us-east-1a, us-east-1b, us-east-1c.
    pub availability_zones: Option<Vec<String>>,
    /// Prefix length of each private subnet (16 to 28; default 20).
    pub subnet_prefix_length: Option<u8>,
    /// Use an existing VPC instead of creating one.
    pub existing_network: Option<ExistingNetwork>,
    /// IPv4 CIDRs of this region's database clients. Both databases admit the clients of both
    /// regions (across the peering), so applications reach the writer after a failover.
    /// Default: this region's VPC CIDR. `0.0.0.0/0` is refused.
    pub client_cidrs: Option<Vec<String>>,
    /// Security groups of this region's clients (existing-network mode only); they may connect
    /// to this region's database. Security groups cannot be referenced across regions.
    pub client_security_group_ids: Option<Vec<String>>,
}

impl RegionConfig {
    /// A region with every field set; what an omitted field falls back to.
    pub fn with_defaults(region: &str, vpc_cidr: &str) -> Self {
        Self {
            region: Some(region.into()),
            vpc_cidr: Some(vpc_cidr.into()),
            // Derived from the region by the model, so that changing the region just works.
            availability_zones: None,
            subnet_prefix_length: Some(DEFAULT_SUBNET_PREFIX),
            existing_network: None,
            client_cidrs: None,
            client_security_group_ids: None,
        }
    }
}

pub const DEFAULT_SUBNET_PREFIX: u8 = 20;

/// An existing VPC, its private subnets and the route tables that receive the peering routes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExistingNetwork {
    /// The VPC id (`vpc-...`).
    pub vpc_id: String,
    /// Private subnet ids (`subnet-...`), in at least two availability zones.
    pub subnet_ids: Vec<String>,
    /// Route tables (`rtb-...`) of those subnets; each gets a route to the peer VPC.
    pub route_table_ids: Vec<String>,
    /// Services (`logs`, `sns`, `dynamodb`, ...) for which the VPC already has an endpoint with
    /// private DNS: drgen uses it instead of creating a second one, which AWS would refuse.
    #[serde(default)]
    pub existing_endpoints: Vec<String>,
}

/// The PostgreSQL 15 primary and its replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// RDS instance class of both instances (a `db.*` class).
    pub instance_class: String,
    /// Initial gp3 storage in GiB (20 to 65536).
    pub allocated_storage_gb: u32,
    /// Storage autoscaling ceiling in GiB; larger than `allocated_storage_gb`, at most 65536.
    pub max_allocated_storage_gb: u32,
    /// Multi-AZ deployment of the primary and the replica.
    pub multi_az: bool,
    /// Name of the initial database.
    pub db_name: String,
    /// Master user name.
    pub master_username: String,
    /// TCP port.
    pub port: u16,
    /// Automated backup retention in days (1 to 35), for PITR.
    pub backup_retention_days: u8,
    /// Daily backup window, `hh:mm-hh:mm` UTC.
    pub backup_window: String,
    /// Weekly maintenance window, `ddd:hh:mm-ddd:hh:mm` UTC.
    pub maintenance_window: String,
    /// Statements slower than this are logged, in milliseconds (0 to 60000).
    pub log_min_duration_statement_ms: u32,
    /// Enhanced monitoring interval in seconds: 1, 5, 10, 15, 30 or 60.
    pub monitoring_interval_seconds: u8,
    /// Performance Insights retention in days: 7, 31 times 1 to 23 months (31 to 713), or 731.
    pub performance_insights_retention_days: u16,
    /// Days between automatic rotations of the master password (1 to 365).
    pub password_rotation_days: u16,
    /// After a failover: the DR instance is the writer and the old primary is retired. The
    /// rendering no longer declares the old primary (the next apply deletes it, with its final
    /// snapshot when not destroyable), points the writer name at the DR instance and stops the
    /// monitor, which has no replica left to promote. RUNBOOK.md, "Failback".
    pub primary_retired: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            instance_class: "db.r6g.large".into(),
            allocated_storage_gb: 100,
            max_allocated_storage_gb: 1000,
            multi_az: true,
            db_name: "trading".into(),
            master_username: "dbadmin".into(),
            port: 5432,
            backup_retention_days: 7,
            backup_window: "03:00-04:00".into(),
            maintenance_window: "sun:04:30-sun:05:30".into(),
            log_min_duration_statement_ms: 250,
            monitoring_interval_seconds: 60,
            performance_insights_retention_days: 7,
            password_rotation_days: 30,
            primary_retired: false,
        }
    }
}

/// The DNS name that follows the writable database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// Hosted zone name. Default: `<name>-<suffix>.internal`.
    pub zone_name: Option<String>,
    /// Record name inside the zone.
    pub record_name: String,
    /// Private zone associated with both VPCs (true) or a public zone (false).
    pub private_zone: bool,
    /// TTL of the failover records in seconds (5 to 300).
    pub ttl_seconds: u32,
    /// `detection` (default) or `promotion`: what moves the writer name to the DR region.
    pub switch: DnsSwitch,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            zone_name: None,
            record_name: "writer".into(),
            private_zone: true,
            ttl_seconds: 30,
            switch: DnsSwitch::Detection,
        }
    }
}

/// How the primary's health is observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthCheckMode {
    /// Route 53 HTTPS checks on the observers' APIs (fast).
    Endpoint,
    /// Route 53 checks that follow CloudWatch alarms on the observers' metrics (60 s or slower).
    Cloudwatch,
}

/// Whether the monitor promotes by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailoverMode {
    /// Promote when every condition holds.
    Automatic,
    /// Decide and page with the command; a human promotes.
    Manual,
}

/// What moves the writer name to the DR region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DnsSwitch {
    /// The PRIMARY record is healthy while the writer authority says "primary" and at least one
    /// observer reaches the primary: DNS reroutes within the reroute budget (to the read-only
    /// replica until promotion finishes). Clients use `target_session_attrs=read-write`.
    Detection,
    /// Only the writer authority moves DNS: once a promotion has started.
    Promotion,
}

/// Failure detection and promotion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FailoverConfig {
    /// `endpoint` (default) or `cloudwatch`.
    pub health_check_mode: HealthCheckMode,
    /// Route 53 request interval in seconds: 10 or 30.
    pub request_interval_seconds: u32,
    /// Consecutive failed Route 53 checks before unhealthy (1 to 10).
    pub failure_threshold: u32,
    /// Promotion needs replica lag above this many seconds, or missing (1 to 3600).
    pub lag_threshold_seconds: u32,
    /// Minutes between monitor runs (1 to 60); each run observes for most of its period.
    pub monitor_schedule_minutes: u32,
    /// Seconds between the monitor's probes of the primary (1 to 30).
    pub monitor_probe_interval_seconds: u32,
    /// Timeout of one probe in seconds (1 to 10).
    pub probe_timeout_seconds: u32,
    /// The primary must be unreachable from the DR side without a break for this many seconds
    /// before promotion (60 to 3600); longer than an ordinary Multi-AZ failover. The long path:
    /// it applies while the primary's region speaks.
    pub confirm_seconds: u32,
    /// Seconds between the primary-region guard's ticks (2 to 15): each probes the primary from
    /// its own region and, while that fails, reads the primary's status and events there.
    pub guard_interval_seconds: u32,
    /// The primary's region is silent when nothing from it (guard report, observer beat,
    /// heartbeat) is younger than this; a silent region while the DR side cannot reach the
    /// primary takes the short path to promotion. At least 75 (the observer's one-minute beat
    /// plus 15 s of slack), at most 3600.
    pub silence_seconds: u32,
    /// Largest data loss, in seconds of the primary's commits, that automatic promotion may
    /// accept (0 to 3600). Measured from WAL positions while both databases were reachable.
    pub max_data_loss_seconds: u32,
    /// An in-region recovery event of the primary left open this long stops vetoing and pages
    /// (300 to 86400).
    pub recovery_event_expiry_seconds: u32,
    /// `automatic` (default): promote when every condition holds. `manual`: decide and page
    /// with the command, never promote.
    pub mode: FailoverMode,
    /// The failover workflow runs in Step Functions; only `true` is supported.
    pub step_functions: bool,
    /// Decide and announce, but never promote.
    pub dry_run: bool,
    /// Lambda runtime of the drgen functions (python3.9 to python3.13).
    pub lambda_runtime: String,
    /// Access logs of the observers' APIs. They need the account-wide API Gateway CloudWatch
    /// role (`aws_api_gateway_account`), a setting shared with everything else in the account and
    /// region, which drgen does not manage: turn this on once that role is set.
    pub observer_access_logs: bool,
    /// Reserved concurrency of each observer function (1 to 100); when set, the primary-region
    /// guard, the monitor and the workflow function reserve theirs too (2, 1 and 2). Default:
    /// none, so that an account on the new-account concurrency quota can apply; API Gateway
    /// throttling caps what callers can cost the observers.
    pub observer_reserved_concurrency: Option<u32>,
    /// Where the writer authority lives: `table` (default: the failover state table, a DynamoDB
    /// global table) or `arc` (two Route 53 ARC routing controls; the old primary fences itself
    /// when it loses them).
    pub authority: Authority,
    /// The ARC cluster and lease, with `authority = "arc"`.
    pub arc: Option<ArcConfig>,
}

/// Where the writer authority lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Authority {
    /// An item in the failover state table, written by the DR-region monitor.
    Table,
    /// Two Route 53 ARC routing controls (primary, DR) on a cluster of five regional endpoints.
    Arc,
}

/// The Route 53 ARC cluster that holds the writer authority, and the lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ArcConfig {
    /// An existing cluster (`arn:aws:route53-recovery-control::ACCOUNT:cluster/ID`); a cluster
    /// is billed by the hour and can serve many applications. Unset: drgen creates one.
    pub cluster_arn: Option<String>,
    /// The existing cluster's five endpoints, as its DescribeCluster lists them; only with
    /// `cluster_arn` (Terraform has no data source that reads them).
    pub cluster_endpoints: Vec<ClusterEndpoint>,
    /// Seconds the primary region may go without reading the routing controls before it fences
    /// its own primary (10 to 300). The DR side waits this, plus the time to notice and fence,
    /// after it takes the authority and before it promotes.
    pub lease_seconds: u32,
}

impl Default for ArcConfig {
    fn default() -> Self {
        Self { cluster_arn: None, cluster_endpoints: Vec::new(), lease_seconds: 30 }
    }
}

/// One regional endpoint of an ARC cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterEndpoint {
    /// `https://....route53-recovery-cluster.REGION.amazonaws.com/v1`
    pub endpoint: String,
    /// The endpoint's region.
    pub region: String,
}

impl Default for FailoverConfig {
    fn default() -> Self {
        Self {
            health_check_mode: HealthCheckMode::Endpoint,
            request_interval_seconds: 10,
            failure_threshold: 3,
            lag_threshold_seconds: 60,
            monitor_schedule_minutes: 1,
            monitor_probe_interval_seconds: 5,
            probe_timeout_seconds: 2,
            confirm_seconds: 180,
            guard_interval_seconds: 5,
            silence_seconds: 75,
            max_data_loss_seconds: 60,
            recovery_event_expiry_seconds: 1800,
            mode: FailoverMode::Automatic,
            step_functions: true,
            dry_run: false,
            lambda_runtime: "python3.12".into(),
            observer_access_logs: false,
            observer_reserved_concurrency: None,
            authority: Authority::Table,
            arc: None,
        }
    }
}

/// Alarms, notifications and logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MonitoringConfig {
    /// Email addresses subscribed to the alert topics of both regions (may be empty).
    pub alarm_emails: Vec<String>,
    /// Retention of every log group in days (one of CloudWatch's values, at least 365).
    pub log_retention_days: u32,
    /// CPUUtilization alarm threshold in percent (1 to 100).
    pub cpu_threshold_percent: u32,
    /// FreeStorageSpace alarm threshold in GiB (1 or more, below the allocated storage).
    pub free_storage_threshold_gb: u32,
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        Self {
            alarm_emails: Vec::new(),
            log_retention_days: 365,
            cpu_threshold_percent: 80,
            free_storage_threshold_gb: 10,
        }
    }
}

/// AWS Backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Create AWS Backup vaults in both regions and a daily plan that copies to the DR vault.
    pub aws_backup: bool,
    /// Schedule of the daily backup, an AWS cron expression.
    pub schedule: String,
    /// Days a backup is kept in each vault (1 to 36500).
    pub retention_days: u32,
}

impl Default for BackupConfig {
    fn default() -> Self {
        // 07:00 UTC, clear of the RDS backup (03:00-04:00) and maintenance (Sunday 04:30-05:30) windows.
        Self { aws_backup: true, schedule: "cron(0 7 * * ? *)".into(), retention_days: 35 }
    }
}

/// The S3 + DynamoDB state backend created by `bootstrap/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// State bucket name. Default: `<name>-tfstate-<suffix>`.
    pub bucket: Option<String>,
    /// Existing bucket in the primary region that receives the state bucket's S3 server
    /// access logs. Set together with `replica_access_log_bucket`.
    pub access_log_bucket: Option<String>,
    /// Existing bucket in the DR region that receives the replica bucket's access logs.
    pub replica_access_log_bucket: Option<String>,
}

/// The format of a config file, chosen by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Hcl,
    Json,
}

impl Format {
    pub fn from_path(path: &Path) -> Result<Self, FieldError> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("hcl") => Ok(Self::Hcl),
            Some("json") => Ok(Self::Json),
            _ => Err(FieldError::new(
                "config",
                format!("{}: the file name must end in .hcl or .json", path.display()),
            )),
        }
    }
}

impl Config {
    /// Parses a config text. Errors name the field path that failed.
    pub fn parse(text: &str, format: Format) -> Result<Self, Problems> {
        let parsed = match format {
            Format::Json => {
                let mut de = serde_json::Deserializer::from_str(text);
                serde_path_to_error::deserialize(&mut de)
                    .map_err(|e| path_error(e.path(), &e.inner().to_string()))
                    .and_then(|c: Config| {
                        de.end().map_err(|e| FieldError::new("config", e.to_string()))?;
                        Ok(c)
                    })
            }
            Format::Hcl => hcl::de::Deserializer::from_str(text)
                .map_err(|e| FieldError::new("config", one_line(&e.to_string())))
                .and_then(|de| {
                    serde_path_to_error::deserialize(de)
                        .map_err(|e| path_error(e.path(), &e.inner().to_string()))
                }),
        };
        let config = parsed.map_err(Problems::from)?;
        config.reject_templates()?;
        Ok(config)
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Self, Problems> {
        let format = Format::from_path(path)?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| FieldError::new("config", format!("{}: {e}", path.display())))?;
        Self::parse(&text, format)
    }

    /// Rejects `${` and `%{` anywhere: hcl-rs reads a bare expression such as
    /// `x = var.y` as the template string `"${var.y}"`, so such input never means what it says.
    fn reject_templates(&self) -> Result<(), Problems> {
        let value = serde_json::to_value(self).expect("config serialises");
        let mut problems = Vec::new();
        visit_strings(&value, &mut String::new(), &mut |path, s| {
            if s.contains("${") || s.contains("%{") {
                problems.push(FieldError::new(
                    path,
                    "template sequences `${` and `%{` are not allowed; write plain values",
                ));
            }
        });
        Problems::check(problems)
    }
}

fn visit_strings(value: &serde_json::Value, path: &mut String, f: &mut impl FnMut(&str, &str)) {
    match value {
        serde_json::Value::String(s) => f(path, s),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                let _ = write!(path, "[{i}]");
                visit_strings(item, path, f);
                path.truncate(len);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                push_key(path, key);
                visit_strings(item, path, f);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

fn path_error(path: &serde_path_to_error::Path, message: &str) -> FieldError {
    use serde_path_to_error::Segment;
    let mut field = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => {
                let _ = write!(field, "[{index}]");
            }
            Segment::Map { key } | Segment::Enum { variant: key } => push_key(&mut field, key),
            Segment::Unknown => push_key(&mut field, "?"),
        }
    }
    if field.is_empty() {
        field = "config".into();
    }
    FieldError::new(field, one_line(message))
}

/// Appends `.key` to a field path, quoting a key that is not a plain name (so that a path
/// never spans lines or hides characters).
pub fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-:".contains(c));
    if !path.is_empty() && plain {
        path.push('.');
    }
    if plain {
        path.push_str(key);
    } else {
        let _ = write!(path, "[{key:?}]");
    }
}

/// Collapses a multi-line parser message into one line.
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
