//! Every rejection the model makes, each on its own field.

use super::checks::parse_window;
use super::*;
use crate::config::{Config, ExistingNetwork, Format};

fn check(config: &Config) -> Result<Topology, Problems> {
    Topology::from_config(config, Some("prod"))
}

/// Asserts that the config is rejected with a problem on `field` whose message contains `text`.
fn rejects(config: &Config, field: &str, text: &str) {
    let problems = check(config).expect_err("must be rejected").0;
    assert!(
        problems.iter().any(|p| p.field == field && p.message.contains(text)),
        "expected {field}: …{text}…, got {problems:?}"
    );
}

fn with(f: impl FnOnce(&mut Config)) -> Config {
    let mut c = Config::default();
    f(&mut c);
    c
}

#[test]
fn the_defaults_are_valid_and_match_the_design() {
    let m = check(&Config::default()).unwrap();
    assert_eq!(m.primary.region.name(), "us-east-1");
    assert_eq!(m.dr.region.name(), "us-west-2");
    assert_eq!(m.database.instance_class, "db.r6g.large");
    assert_eq!(m.database.backup_retention_days, 7);
    assert_eq!(m.failover.lag_threshold_seconds, 60);
    assert!(m.destroyable);
    match &m.primary.network {
        Network::Managed { zones, subnets } => {
            assert_eq!(zones, &["us-east-1a", "us-east-1b", "us-east-1c"]);
            assert_eq!(subnets.len(), 3);
        }
        Network::Existing { .. } => panic!("managed by default"),
    }
    let tags = m.default_tags();
    assert_eq!(tags["Environment"], "DR");
    assert_eq!(tags["CostCenter"], "Infrastructure");
    assert_eq!(tags["environmentSuffix"], "prod");
    assert_eq!(m.names.db_identifier(Side::Primary).with_suffix("prod"), "trading-db-primary-prod");
    assert!(m.warnings.is_empty());
}

#[test]
fn the_default_model_reroutes_within_sixty_seconds() {
    let m = check(&Config::default()).unwrap();
    assert_eq!(m.rto.reroute_seconds(), 60);
    // 5 s interval + 2 s timeout + 15 s between runs, 180 s confirm window, 45 s of calls.
    assert_eq!(m.rto.promotion_start_seconds(), 252);
    assert!(m.failover.monitor_timeout_seconds() <= 900);
}

#[test]
fn promotion_mode_reroutes_only_after_promotion_starts_and_says_so() {
    let m = check(&with(|c| c.dns.switch = crate::config::DnsSwitch::Promotion)).unwrap();
    assert_eq!(m.rto.reroute_seconds(), 252 + 180 + 30);
    assert!(m.warnings.iter().any(|w| w.starts_with("dns.switch")));
}

#[test]
fn the_longest_schedule_fits_the_lambda_timeout() {
    let m = check(&with(|c| c.failover.monitor_schedule_minutes = 14)).unwrap();
    assert_eq!(m.failover.monitor_run_seconds(), 825);
    assert!(m.failover.monitor_timeout_seconds() <= 900);
}

#[test]
fn the_suffix_is_required() {
    let problems = Topology::from_config(&Config::default(), None).unwrap_err().0;
    assert_eq!(problems[0].field, "environment_suffix");
    assert!(problems[0].message.contains("--env-suffix"));
}

#[test]
fn the_command_line_suffix_overrides_the_config() {
    let c = with(|c| c.environment_suffix = Some("staging".into()));
    assert_eq!(Topology::from_config(&c, Some("prod")).unwrap().suffix.as_str(), "prod");
    assert_eq!(Topology::from_config(&c, None).unwrap().suffix.as_str(), "staging");
}

#[test]
fn bad_suffixes_are_rejected() {
    for bad in ["", "Prod", "1prod", "prod-", "pr--od", "pro_d", "prød", "a b"] {
        let problems = Topology::from_config(&Config::default(), Some(bad)).unwrap_err().0;
        assert_eq!(problems[0].field, "environment_suffix", "{bad:?}");
    }
}

#[test]
fn the_longest_suffix_follows_from_the_real_names() {
    let (max, tightest) = Names::new("trading-db", None).max_suffix_len();
    assert!(max >= 10, "a usable suffix fits ({max})");
    let ok = "a".repeat(max);
    assert!(Topology::from_config(&Config::default(), Some(&ok)).is_ok());
    let long = "a".repeat(max + 1);
    let problems = Topology::from_config(&Config::default(), Some(&long)).unwrap_err().0;
    assert_eq!(problems[0].field, "environment_suffix");
    assert!(problems[0].message.contains(&format!("at most {max} fit")));
    assert!(problems[0].message.contains(tightest.service));
    // Every name stays within its own limit at the longest suffix.
    for name in Names::new("trading-db", None).all() {
        assert!(name.with_suffix(&ok).len() <= name.limit, "{}", name.with_suffix(&ok));
    }
}

#[test]
fn a_longer_prefix_leaves_less_room_for_the_suffix() {
    let short = Names::new("db", None).max_suffix_len().0;
    let long = Names::new("a-much-longer-prefix", None).max_suffix_len().0;
    assert_eq!(short - long, "a-much-longer-prefix".len() - "db".len());
}

#[test]
fn bad_names_are_rejected() {
    rejects(&with(|c| c.name = "Trading".into()), "name", "lowercase");
    rejects(&with(|c| c.name = "a".repeat(21)), "name", "at most 20");
}

#[test]
fn regions_must_be_known_and_different() {
    rejects(
        &with(|c| c.primary.region = Some("us-east-9".into())),
        "primary.region",
        "not a known AWS region",
    );
    let same = with(|c| {
        c.dr.region = Some("us-east-1".into());
        c.dr.availability_zones = None;
    });
    rejects(&same, "dr.region", "must differ");
}

#[test]
fn cidrs_must_be_clean_disjoint_and_large_enough() {
    rejects(&with(|c| c.primary.vpc_cidr = Some("10.0.0.1/16".into())), "primary.vpc_cidr", "host bits");
    rejects(
        &with(|c| c.primary.vpc_cidr = Some("10.0.0.0/33".into())),
        "primary.vpc_cidr",
        "not an IPv4 CIDR",
    );
    rejects(&with(|c| c.primary.vpc_cidr = Some("banana".into())), "primary.vpc_cidr", "not an IPv4 CIDR");
    rejects(&with(|c| c.dr.vpc_cidr = Some("10.0.128.0/17".into())), "dr.vpc_cidr", "overlaps");
    rejects(&with(|c| c.primary.vpc_cidr = Some("10.0.0.0/8".into())), "primary.vpc_cidr", "/16 to /28");
    rejects(
        &with(|c| {
            c.primary.vpc_cidr = Some("10.0.0.0/24".into());
            c.primary.subnet_prefix_length = Some(20);
        }),
        "primary.subnet_prefix_length",
        "do not fit",
    );
    rejects(&with(|c| c.primary.subnet_prefix_length = Some(29)), "primary.subnet_prefix_length", "16 to 28");
}

#[test]
fn zones_must_belong_to_the_region() {
    rejects(
        &with(|c| c.primary.availability_zones = Some(vec!["us-west-2a".into(), "us-east-1b".into()])),
        "primary.availability_zones[0]",
        "not a zone of us-east-1",
    );
    rejects(
        &with(|c| c.primary.availability_zones = Some(vec!["us-east-1a".into()])),
        "primary.availability_zones",
        "2 to 6",
    );
    rejects(
        &with(|c| c.primary.availability_zones = Some(vec!["us-east-1a".into(), "us-east-1a".into()])),
        "primary.availability_zones[1]",
        "twice",
    );
}

fn existing() -> ExistingNetwork {
    ExistingNetwork {
        vpc_id: "vpc-0123456789abcdef0".into(),
        subnet_ids: vec!["subnet-01234567".into(), "subnet-89abcdef".into()],
        route_table_ids: vec!["rtb-01234567".into()],
        existing_endpoints: Vec::new(),
    }
}

#[test]
fn existing_networks_are_checked() {
    let region = |e: ExistingNetwork| crate::config::RegionConfig {
        region: Some("us-east-1".into()),
        vpc_cidr: Some("10.0.0.0/16".into()),
        existing_network: Some(e),
        ..Default::default()
    };
    assert!(check(&with(|c| c.primary = region(existing()))).is_ok());
    rejects(
        &with(|c| c.primary = region(ExistingNetwork { vpc_id: "vpc-xyz".into(), ..existing() })),
        "primary.existing_network.vpc_id",
        "not a VPC id",
    );
    rejects(
        &with(|c| {
            c.primary = region(ExistingNetwork { subnet_ids: vec!["subnet-01234567".into()], ..existing() });
        }),
        "primary.existing_network.subnet_ids",
        "2 to 6",
    );
    rejects(
        &with(|c| {
            c.primary = region(ExistingNetwork {
                subnet_ids: vec!["sn-1".into(), "subnet-89abcdef".into()],
                ..existing()
            });
        }),
        "primary.existing_network.subnet_ids[0]",
        "not a subnet id",
    );
    rejects(
        &with(|c| c.primary = region(ExistingNetwork { route_table_ids: vec![], ..existing() })),
        "primary.existing_network.route_table_ids",
        "at least one",
    );
    rejects(
        &with(|c| {
            c.primary = region(existing());
            c.primary.vpc_cidr = None;
        }),
        "primary.vpc_cidr",
        "required with existing_network",
    );
    rejects(
        &with(|c| {
            c.primary = region(existing());
            c.primary.subnet_prefix_length = Some(20);
        }),
        "primary.existing_network",
        "apply only to a VPC drgen creates",
    );
}

#[test]
fn database_fields_are_checked() {
    rejects(&with(|c| c.database.instance_class = "r6g.large".into()), "database.instance_class", "db.");
    rejects(
        &with(|c| c.database.instance_class = "db.r6g.huge".into()),
        "database.instance_class",
        "unknown size",
    );
    rejects(&with(|c| c.database.allocated_storage_gb = 10), "database.allocated_storage_gb", "20 to 65536");
    rejects(
        &with(|c| c.database.max_allocated_storage_gb = 100),
        "database.max_allocated_storage_gb",
        "exceed",
    );
    rejects(&with(|c| c.database.db_name = "1db".into()), "database.db_name", "starting with a letter");
    rejects(
        &with(|c| c.database.master_username = "postgres".into()),
        "database.master_username",
        "reserved",
    );
    rejects(&with(|c| c.database.port = 80), "database.port", "1150 to 65535");
    rejects(&with(|c| c.database.backup_retention_days = 0), "database.backup_retention_days", "1 to 35");
    rejects(&with(|c| c.database.backup_retention_days = 36), "database.backup_retention_days", "1 to 35");
    rejects(
        &with(|c| c.database.backup_window = "03:00-03:10".into()),
        "database.backup_window",
        "30 minutes",
    );
    rejects(&with(|c| c.database.backup_window = "3:00-04:00".into()), "database.backup_window", "hh:mm");
    rejects(
        &with(|c| c.database.maintenance_window = "xyz:04:30-sun:05:30".into()),
        "database.maintenance_window",
        "ddd",
    );
    rejects(
        &with(|c| c.database.log_min_duration_statement_ms = 70_000),
        "database.log_min_duration_statement_ms",
        "0 to 60000",
    );
    rejects(
        &with(|c| c.database.monitoring_interval_seconds = 20),
        "database.monitoring_interval_seconds",
        "1, 5, 10, 15, 30, 60",
    );
    rejects(
        &with(|c| c.database.performance_insights_retention_days = 30),
        "database.performance_insights_retention_days",
        "multiple of 31",
    );
    rejects(&with(|c| c.database.password_rotation_days = 0), "database.password_rotation_days", "1 to 365");
}

#[test]
fn a_window_may_wrap_midnight_and_the_week() {
    assert_eq!(parse_window("23:30-00:30", false), Some(60));
    assert_eq!(parse_window("sun:23:00-mon:01:00", true), Some(120));
}

#[test]
fn dns_fields_are_checked() {
    rejects(&with(|c| c.dns.zone_name = Some("internal".into())), "dns.zone_name", "at least two labels");
    rejects(
        &with(|c| c.dns.zone_name = Some("Trading.internal".into())),
        "dns.zone_name",
        "not a DNS zone name",
    );
    rejects(&with(|c| c.dns.record_name = "-writer".into()), "dns.record_name", "not a DNS label");
    rejects(&with(|c| c.dns.ttl_seconds = 1), "dns.ttl_seconds", "5 to 300");
}

#[test]
fn failover_fields_are_checked() {
    rejects(
        &with(|c| c.failover.request_interval_seconds = 20),
        "failover.request_interval_seconds",
        "10, 30",
    );
    rejects(&with(|c| c.failover.failure_threshold = 0), "failover.failure_threshold", "1 to 10");
    rejects(&with(|c| c.failover.lag_threshold_seconds = 0), "failover.lag_threshold_seconds", "1 to 3600");
    rejects(&with(|c| c.failover.confirm_seconds = 30), "failover.confirm_seconds", "60 to 3600");
    rejects(
        &with(|c| c.failover.max_data_loss_seconds = 3601),
        "failover.max_data_loss_seconds",
        "0 to 3600",
    );
    rejects(
        &with(|c| c.failover.recovery_event_expiry_seconds = 10),
        "failover.recovery_event_expiry_seconds",
        "300 to 86400",
    );
    rejects(
        &with(|c| c.failover.monitor_schedule_minutes = 15),
        "failover.monitor_schedule_minutes",
        "1 to 14",
    );
    rejects(&with(|c| c.failover.step_functions = false), "failover.step_functions", "not supported");
    rejects(
        &with(|c| c.failover.lambda_runtime = "nodejs20.x".into()),
        "failover.lambda_runtime",
        "python3.9",
    );
    rejects(
        &with(|c| c.failover.observer_reserved_concurrency = Some(0)),
        "failover.observer_reserved_concurrency",
        "1 to 100",
    );
}

#[test]
fn a_deprecated_runtime_is_allowed_with_a_warning() {
    let m = check(&with(|c| c.failover.lambda_runtime = "python3.9".into())).unwrap();
    assert!(m.warnings.iter().any(|w| w.contains("python3.9") && w.contains("2025-12-15")));
}

#[test]
fn a_model_slower_than_the_rto_target_is_refused() {
    rejects(&with(|c| c.dns.ttl_seconds = 300), "rto_target_seconds", "above the target of 120 s");
    let slow = with(|c| {
        c.failover.health_check_mode = HealthCheckMode::Cloudwatch;
        c.rto_target_seconds = 600;
    });
    let m = check(&slow).unwrap();
    assert_eq!(m.rto.reroute_seconds(), 3 * 60 + 60 + 30);
    assert!(m.warnings.iter().any(|w| w.contains("cloudwatch")));
}

#[test]
fn the_guard_and_the_silence_settings_are_checked() {
    rejects(&with(|c| c.failover.guard_interval_seconds = 1), "failover.guard_interval_seconds", "2 to 15");
    rejects(&with(|c| c.failover.guard_interval_seconds = 16), "failover.guard_interval_seconds", "2 to 15");
    // A primary region whose guard fails still beats once a minute through its observer.
    rejects(&with(|c| c.failover.silence_seconds = 74), "failover.silence_seconds", "allowed are 75 to 3600");
    rejects(
        &with(|c| c.failover.silence_seconds = 3601),
        "failover.silence_seconds",
        "allowed are 75 to 3600",
    );
    let m = check(&with(|c| c.failover.guard_interval_seconds = 15)).unwrap();
    assert_eq!(m.failover.guard_interval_seconds, 15);
}

#[test]
fn the_two_paths_have_their_bounds_and_the_short_one_must_meet_the_rto_target() {
    let m = check(&Config::default()).unwrap();
    // The DR side's own window ends after the 75 s of silence: 27 s to its first failed probe (5 s
    // interval, 2 s timeout, 15 s between runs, 5 s for a late start) and 50 s of failed probes;
    // then 27 s to the next probe and 7 s for PromoteReadReplica.
    assert_eq!(m.rto.short_path_seconds(), 27 + 50 + 27 + 7);
    assert!(m.rto.short_path_formula().starts_with("27 first failed probe and 50 own window"));
    assert_eq!(m.rto.long_path_seconds(), 27 + 180 + 45);
    assert_eq!(m.rto.promotion_start_seconds(), m.rto.long_path_seconds());
    rejects(
        &with(|c| c.failover.silence_seconds = 100),
        "failover.silence_seconds",
        "a silent primary region promotes within 134 s (100 silence + 27 until the monitor's next probe + 7 PromoteReadReplica), above rto_target_seconds 120 s",
    );
    rejects(
        &with(|c| c.failover.monitor_probe_interval_seconds = 30),
        "failover.silence_seconds",
        "above rto_target_seconds 120 s",
    );
    let relaxed = check(&with(|c| {
        c.failover.silence_seconds = 100;
        c.rto_target_seconds = 134;
    }))
    .unwrap();
    assert_eq!(relaxed.rto.short_path_seconds(), 134);
    // A longer silence is the later condition: 200 s, then the next probe and the call.
    let quiet = check(&with(|c| {
        c.failover.silence_seconds = 200;
        c.rto_target_seconds = 234;
    }))
    .unwrap();
    assert_eq!(quiet.rto.short_path_seconds(), 200 + 27 + 7);
    assert!(quiet.rto.short_path_formula().starts_with("200 silence"));
}

#[test]
fn monitoring_fields_are_checked() {
    rejects(
        &with(|c| c.monitoring.alarm_emails = vec!["not-an-email".into()]),
        "monitoring.alarm_emails[0]",
        "not an email",
    );
    rejects(
        &with(|c| c.monitoring.alarm_emails = vec!["a@b.co".into(), "a@b.co".into()]),
        "monitoring.alarm_emails",
        "twice",
    );
    rejects(&with(|c| c.monitoring.log_retention_days = 30), "monitoring.log_retention_days", "365");
    rejects(
        &with(|c| c.monitoring.cpu_threshold_percent = 0),
        "monitoring.cpu_threshold_percent",
        "1 to 100",
    );
    rejects(
        &with(|c| c.monitoring.free_storage_threshold_gb = 100),
        "monitoring.free_storage_threshold_gb",
        "1 to 99",
    );
}

#[test]
fn backup_fields_are_checked() {
    rejects(&with(|c| c.backup.schedule = "daily".into()), "backup.schedule", "cron");
    rejects(&with(|c| c.backup.retention_days = 0), "backup.retention_days", "1 to 36500");
}

#[test]
fn state_fields_are_checked() {
    rejects(&with(|c| c.state.bucket = Some("Bad_Bucket".into())), "state.bucket", "S3 bucket name");
    rejects(
        &with(|c| c.state.access_log_bucket = Some("logs".into())),
        "state.access_log_bucket",
        "together",
    );
}

#[test]
fn tags_are_checked() {
    rejects(&with(|c| c.tags = [("aws:x".into(), "y".into())].into()), "tags.aws:x", "reserved by AWS");
    rejects(
        &with(|c| c.tags = [("Environment".into(), "y".into())].into()),
        "tags.Environment",
        "set by drgen",
    );
    rejects(&with(|c| c.tags = [("Team".into(), "a\"b".into())].into()), "tags.Team", "tag value");
    rejects(&with(|c| c.tags = [(String::new(), "y".into())].into()), "tags[\"\"]", "tag key");
    rejects(&with(|c| c.tags = [("a\nb".into(), "y".into())].into()), "tags[\"a\\nb\"]", "tag key");
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let c = with(|c| {
        c.database.port = 1;
        c.dns.ttl_seconds = 1;
        c.primary.region = Some("nowhere".into());
    });
    let fields: Vec<String> = check(&c).unwrap_err().0.into_iter().map(|p| p.field).collect();
    for f in ["database.port", "dns.ttl_seconds", "primary.region"] {
        assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
    }
}

#[test]
fn config_parse_errors_name_the_field() {
    let e = Config::parse("database { port = \"x\" }", Format::Hcl).unwrap_err();
    assert_eq!(e.0[0].field, "database.port");
    let e = Config::parse("{\"dns\": {\"ttl\": 30}}", Format::Json).unwrap_err();
    assert_eq!(e.0[0].field, "dns.ttl");
    assert!(e.0[0].message.contains("unknown field `ttl`"));
    let e = Config::parse("nonsense = 1", Format::Hcl).unwrap_err();
    assert!(e.0[0].message.contains("unknown field `nonsense`"));
    let e = Config::parse("name = ", Format::Hcl).unwrap_err();
    assert_eq!(e.0[0].field, "config");
}

#[test]
fn template_sequences_are_rejected_wherever_they_appear() {
    // hcl-rs reads the bare expression as the template "${var.x}".
    let e = Config::parse("name = var.x", Format::Hcl).unwrap_err();
    assert_eq!(e.0[0].field, "name");
    assert!(e.0[0].message.contains("${"));
    let e = Config::parse("{\"tags\": {\"Team\": \"%{ if x }\"}}", Format::Json).unwrap_err();
    assert_eq!(e.0[0].field, "tags.Team");
    let e = Config::parse("{\"monitoring\": {\"alarm_emails\": [\"${a}@b.c\"]}}", Format::Json).unwrap_err();
    assert_eq!(e.0[0].field, "monitoring.alarm_emails[0]");
}

#[test]
fn the_format_follows_the_extension() {
    assert_eq!(Format::from_path(std::path::Path::new("a.hcl")).unwrap(), Format::Hcl);
    assert_eq!(Format::from_path(std::path::Path::new("a.json")).unwrap(), Format::Json);
    assert!(Format::from_path(std::path::Path::new("a.yaml")).unwrap_err().message.contains(".hcl or .json"));
}

#[test]
fn max_connections_follows_the_instance_memory() {
    let db = |class: &str| Database {
        instance_class: class.into(),
        ..check(&Config::default()).unwrap().database
    };
    assert_eq!(db("db.r6g.large").max_connections(), (16u64 << 30) / 9_531_392);
    assert_eq!(db("db.r6g.16xlarge").max_connections(), 5000);
    assert_eq!(db("db.t4g.micro").max_connections(), (1u64 << 30) / 9_531_392);
}

#[test]
fn client_sources_are_checked_and_default_to_the_own_vpc() {
    let m = check(&Config::default()).unwrap();
    assert_eq!(m.primary.clients, vec!["10.0.0.0/16".parse::<ipnet::Ipv4Net>().unwrap()]);
    assert_eq!(m.dr.clients, vec!["10.1.0.0/16".parse::<ipnet::Ipv4Net>().unwrap()]);
    rejects(
        &with(|c| c.primary.client_cidrs = Some(vec!["0.0.0.0/0".into()])),
        "primary.client_cidrs[0]",
        "whole internet",
    );
    rejects(
        &with(|c| c.dr.client_cidrs = Some(vec!["10.9.0.1/16".into()])),
        "dr.client_cidrs[0]",
        "host bits",
    );
    rejects(
        &with(|c| c.dr.client_cidrs = Some(vec!["nonsense".into()])),
        "dr.client_cidrs[0]",
        "not an IPv4 CIDR",
    );
    rejects(&with(|c| c.dr.client_cidrs = Some(vec![])), "dr.client_cidrs", "1 to 50");
    rejects(
        &with(|c| c.primary.client_security_group_ids = Some(vec!["sg-0123456789abcdef0".into()])),
        "primary.client_security_group_ids",
        "only with existing_network",
    );
}

#[test]
fn the_backup_windows_must_not_overlap_the_maintenance_window() {
    rejects(
        &with(|c| c.database.backup_window = "04:00-05:00".into()),
        "database.backup_window",
        "overlaps database.maintenance_window",
    );
    // The schedule drgen used to default to starts inside Sunday's maintenance window.
    rejects(
        &with(|c| c.backup.schedule = "cron(0 5 * * ? *)".into()),
        "backup.schedule",
        "database.maintenance_window",
    );
    rejects(
        &with(|c| c.backup.schedule = "cron(30 2 * * ? *)".into()),
        "backup.schedule",
        "database.backup_window",
    );
    // Without AWS Backup its schedule does not matter.
    assert!(check(&with(|c| {
        c.backup.schedule = "cron(0 5 * * ? *)".into();
        c.backup.aws_backup = false;
    }))
    .is_ok());
}

#[test]
fn the_default_zone_carries_the_suffix() {
    assert_eq!(check(&Config::default()).unwrap().dns.zone_name, "trading-db-prod.internal");
}

fn arc(f: impl FnOnce(&mut crate::config::ArcConfig)) -> Config {
    with(|c| {
        c.rto_target_seconds = 600;
        c.failover.authority = crate::config::Authority::Arc;
        let mut arc = crate::config::ArcConfig::default();
        f(&mut arc);
        c.failover.arc = Some(arc);
    })
}

fn endpoint(host: &str, region: &str) -> crate::config::ClusterEndpoint {
    crate::config::ClusterEndpoint {
        endpoint: format!("https://{host}.route53-recovery-cluster.{region}.amazonaws.com/v1"),
        region: region.into(),
    }
}

#[test]
fn the_arc_authority_is_checked_field_by_field() {
    let m = check(&arc(|_| {})).unwrap();
    let a = m.failover.arc.as_ref().unwrap();
    assert_eq!((a.lease_seconds, &a.cluster), (30, &crate::model::ArcCluster::Create));
    // The lease wait: the lease, a whole minute and a late run, the keeper's slowest tick and the
    // fence's allowance.
    // A run's slow first tick (33 s) may be its only one; the next run starts up to 20 s late:
    // 80 s between two tick starts at most.
    assert_eq!(m.failover.keeper_tick_gap_seconds(), 60 + 20);
    assert_eq!(m.failover.lease_fence_seconds(), 60 + 80 + 33 + 10);
    assert_eq!(m.failover.lease_wait_seconds(), Some(30 + 80 + 33 + 183));
    rejects(
        &with(|c| c.failover.arc = Some(crate::config::ArcConfig::default())),
        "failover.arc",
        "only with failover.authority = \"arc\"",
    );
    rejects(&arc(|a| a.lease_seconds = 5), "failover.arc.lease_seconds", "10 to 300");
    rejects(
        &arc(|a| a.cluster_endpoints = vec![endpoint("a", "us-east-1")]),
        "failover.arc.cluster_endpoints",
        "only with failover.arc.cluster_arn",
    );
    rejects(
        &arc(|a| a.cluster_arn = Some("arn:aws:route53-recovery-control::1234:cluster/x".into())),
        "failover.arc.cluster_arn",
        "not an ARC cluster ARN",
    );
    let regions = ["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1", "ap-southeast-2"];
    let five = |a: &mut crate::config::ArcConfig| {
        a.cluster_arn = Some("arn:aws:route53-recovery-control::123456789012:cluster/0a1b-2c".into());
        a.cluster_endpoints = regions.iter().map(|r| endpoint("host-a1", r)).collect();
    };
    let shared = check(&arc(five)).unwrap();
    assert!(
        matches!(&shared.failover.arc.unwrap().cluster, crate::model::ArcCluster::Existing { endpoints, .. } if endpoints.len() == 5)
    );
    rejects(
        &arc(|a| {
            five(a);
            a.cluster_endpoints.pop();
        }),
        "failover.arc.cluster_endpoints",
        "has 4 entries",
    );
    rejects(
        &arc(|a| {
            five(a);
            a.cluster_endpoints[2].endpoint =
                "https://host.route53-recovery-cluster.us-east-1.amazonaws.com/v1".into();
        }),
        "failover.arc.cluster_endpoints[2].endpoint",
        "not a cluster endpoint of eu-west-1",
    );
    rejects(
        &arc(|a| {
            five(a);
            a.cluster_endpoints[0].region = "mars-1".into();
        }),
        "failover.arc.cluster_endpoints[0].region",
        "",
    );
}

#[test]
fn the_arc_lease_wait_counts_against_the_rto_target() {
    rejects(
        &with(|c| c.failover.authority = crate::config::Authority::Arc),
        "failover.arc.lease_seconds",
        "raise rto_target_seconds or lower failover.arc.lease_seconds",
    );
}
