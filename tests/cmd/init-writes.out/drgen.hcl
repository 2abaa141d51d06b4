# drgen configuration. Every setting is listed with its default; delete what you do not change.
# Reference: drgen schema (JSON Schema) and README.md.

# Prefix of every AWS name: lowercase letters, digits and hyphens, starting with a letter.
name = "trading-db"

# Environment suffix appended to every AWS name. No default: set it here or pass `--env-suffix`,
# which overrides it.
# environment_suffix = "prod"

# When true (the default) everything can be destroyed: no deletion protection, no final snapshot,
# secrets deleted without a recovery window.
destroyable = true

# Largest accepted worst-case DNS reroute time, and time until promotion starts when the primary's
# region falls silent, in seconds.
rto_target_seconds = 120

# Extra tags on every resource, besides the ones drgen sets (Environment, CostCenter,
# environmentSuffix, ManagedBy, and Name where a resource has one).
tags = {}

# The region that runs the writable primary.
primary {
  # AWS region. Defaults: us-east-1 (primary), us-west-2 (DR).
  region = "us-east-1"

  # IPv4 CIDR of the VPC. Defaults: 10.0.0.0/16 (primary), 10.1.0.0/16 (DR).
  vpc_cidr = "10.0.0.0/16"

  # Availability zones of the private subnets, one subnet each (2 to 6 zone names of the region).
  # Default: three zones of the region, such as us-east-1a, us-east-1b, us-east-1c.
  # availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]

  # Prefix length of each private subnet (16 to 28; default 20).
  subnet_prefix_length = 20

  # Use an existing VPC instead of creating one.
  # existing_network {
  #   vpc_id          = "vpc-0123456789abcdef0"
  #   subnet_ids      = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  #   route_table_ids = ["rtb-0123456789abcdef0"]
  # }

  # IPv4 CIDRs of this region's database clients. Both databases admit the clients of both regions
  # (across the peering), so applications reach the writer after a failover. Default: this
  # region's VPC CIDR. `0.0.0.0/0` is refused.
  # client_cidrs = ["10.0.0.0/16"]

  # Security groups of this region's clients (existing-network mode only); they may connect to
  # this region's database. Security groups cannot be referenced across regions.
}

# The disaster-recovery region that runs the cross-region replica.
dr {
  # AWS region. Defaults: us-east-1 (primary), us-west-2 (DR).
  region = "us-west-2"

  # IPv4 CIDR of the VPC. Defaults: 10.0.0.0/16 (primary), 10.1.0.0/16 (DR).
  vpc_cidr = "10.1.0.0/16"

  # Availability zones of the private subnets, one subnet each (2 to 6 zone names of the region).
  # Default: three zones of the region, such as us-east-1a, us-east-1b, us-east-1c.
  # availability_zones = ["us-west-2a", "us-west-2b", "us-west-2c"]

  # Prefix length of each private subnet (16 to 28; default 20).
  subnet_prefix_length = 20

  # Use an existing VPC instead of creating one.
  # existing_network {
  #   vpc_id          = "vpc-0123456789abcdef0"
  #   subnet_ids      = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  #   route_table_ids = ["rtb-0123456789abcdef0"]
  # }

  # IPv4 CIDRs of this region's database clients. Both databases admit the clients of both regions
  # (across the peering), so applications reach the writer after a failover. Default: this
  # region's VPC CIDR. `0.0.0.0/0` is refused.
  # client_cidrs = ["10.1.0.0/16"]

  # Security groups of this region's clients (existing-network mode only); they may connect to
  # this region's database. Security groups cannot be referenced across regions.
}

# The PostgreSQL database.
database {
  # RDS instance class of both instances (a `db.*` class).
  instance_class = "db.r6g.large"

  # Initial gp3 storage in GiB (20 to 65536).
  allocated_storage_gb = 100

  # Storage autoscaling ceiling in GiB; larger than `allocated_storage_gb`, at most 65536.
  max_allocated_storage_gb = 1000

  # Multi-AZ deployment of the primary and the replica.
  multi_az = true

  # Name of the initial database.
  db_name = "trading"

  # Master user name.
  master_username = "dbadmin"

  # TCP port.
  port = 5432

  # Automated backup retention in days (1 to 35), for PITR.
  backup_retention_days = 7

  # Daily backup window, `hh:mm-hh:mm` UTC.
  backup_window = "03:00-04:00"

  # Weekly maintenance window, `ddd:hh:mm-ddd:hh:mm` UTC.
  maintenance_window = "sun:04:30-sun:05:30"

  # Statements slower than this are logged, in milliseconds (0 to 60000).
  log_min_duration_statement_ms = 250

  # Enhanced monitoring interval in seconds: 1, 5, 10, 15, 30 or 60.
  monitoring_interval_seconds = 60

  # Performance Insights retention in days: 7, 31 times 1 to 23 months (31 to 713), or 731.
  performance_insights_retention_days = 7

  # Days between automatic rotations of the master password (1 to 365).
  password_rotation_days = 30

  # After a failover: the DR instance is the writer and the old primary is retired. The rendering
  # no longer declares the old primary (the next apply deletes it, with its final snapshot when
  # not destroyable), points the writer name at the DR instance and stops the monitor, which has
  # no replica left to promote. RUNBOOK.md, "Failback".
  primary_retired = false
}

# The failover DNS name.
dns {
  # Hosted zone name. Default: `<name>-<suffix>.internal`.
  # zone_name = "trading-db-prod.internal"

  # Record name inside the zone.
  record_name = "writer"

  # Private zone associated with both VPCs (true) or a public zone (false).
  private_zone = true

  # TTL of the failover records in seconds (5 to 300).
  ttl_seconds = 30

  # `detection` (default) or `promotion`: what moves the writer name to the DR region.
  switch = "detection"
}

# Failure detection and promotion.
failover {
  # `endpoint` (default) or `cloudwatch`.
  health_check_mode = "endpoint"

  # Route 53 request interval in seconds: 10 or 30.
  request_interval_seconds = 10

  # Consecutive failed Route 53 checks before unhealthy (1 to 10).
  failure_threshold = 3

  # Promotion needs replica lag above this many seconds, or missing (1 to 3600).
  lag_threshold_seconds = 60

  # Minutes between monitor runs (1 to 60); each run observes for most of its period.
  monitor_schedule_minutes = 1

  # Seconds between the monitor's probes of the primary (1 to 30).
  monitor_probe_interval_seconds = 5

  # Timeout of one probe in seconds (1 to 10).
  probe_timeout_seconds = 2

  # The primary must be unreachable from the DR side without a break for this many seconds before
  # promotion (60 to 3600); longer than an ordinary Multi-AZ failover. The long path: it applies
  # while the primary's region speaks.
  confirm_seconds = 180

  # Seconds between the primary-region guard's ticks (2 to 15): each probes the primary from its
  # own region and, while that fails, reads the primary's status and events there.
  guard_interval_seconds = 5

  # The primary's region is silent when nothing from it (guard report, observer beat, heartbeat)
  # is younger than this; a silent region while the DR side cannot reach the primary takes the
  # short path to promotion. At least 75 (the observer's one-minute beat plus 15 s of slack), at
  # most 3600.
  silence_seconds = 75

  # Largest data loss, in seconds of the primary's commits, that automatic promotion may accept (0
  # to 3600). Measured from WAL positions while both databases were reachable.
  max_data_loss_seconds = 60

  # An in-region recovery event of the primary left open this long stops vetoing and pages (300 to
  # 86400).
  recovery_event_expiry_seconds = 1800

  # `automatic` (default): promote when every condition holds. `manual`: decide and page with the
  # command, never promote.
  mode = "automatic"

  # The failover workflow runs in Step Functions; only `true` is supported.
  step_functions = true

  # Decide and announce, but never promote.
  dry_run = false

  # Lambda runtime of the drgen functions (python3.9 to python3.13).
  lambda_runtime = "python3.12"

  # Access logs of the observers' APIs. They need the account-wide API Gateway CloudWatch role
  # (`aws_api_gateway_account`), a setting shared with everything else in the account and region,
  # which drgen does not manage: turn this on once that role is set.
  observer_access_logs = false

  # Reserved concurrency of each observer function (1 to 100); when set, the primary-region guard,
  # the monitor and the workflow function reserve theirs too (2, 1 and 2). Default: none, so that
  # an account on the new-account concurrency quota can apply; API Gateway throttling caps what
  # callers can cost the observers.
  # observer_reserved_concurrency = 5

  # Where the writer authority lives: `table` (default: the failover state table, a DynamoDB
  # global table) or `arc` (two Route 53 ARC routing controls; the old primary fences itself when
  # it loses them).
  authority = "table"

  # The ARC cluster and lease, with `authority = "arc"`.
  # arc {
  #   lease_seconds = 30
  # }
}

# Alarms, notifications and logs.
monitoring {
  # Email addresses subscribed to the alert topics of both regions (may be empty).
  alarm_emails = []

  # Retention of every log group in days (one of CloudWatch's values, at least 365).
  log_retention_days = 365

  # CPUUtilization alarm threshold in percent (1 to 100).
  cpu_threshold_percent = 80

  # FreeStorageSpace alarm threshold in GiB (1 or more, below the allocated storage).
  free_storage_threshold_gb = 10
}

# AWS Backup plan with a copy to the DR region.
backup {
  # Create AWS Backup vaults in both regions and a daily plan that copies to the DR vault.
  aws_backup = true

  # Schedule of the daily backup, an AWS cron expression.
  schedule = "cron(0 7 * * ? *)"

  # Days a backup is kept in each vault (1 to 36500).
  retention_days = 35
}

# The Terraform state backend.
state {
  # State bucket name. Default: `<name>-tfstate-<suffix>`.
  # bucket = "trading-db-tfstate-prod-123456789012"

  # Existing bucket in the primary region that receives the state bucket's S3 server access logs.
  # Set together with `replica_access_log_bucket`.

  # Existing bucket in the DR region that receives the replica bucket's access logs.
}
