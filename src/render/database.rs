//! The database: the PostgreSQL 15 primary in the primary region and its cross-region read
//! replica in DR, each with its own subnet group, security group, parameter group,
//! enhanced-monitoring role and log groups; and the replication of the writer's automated
//! backups to the other region.

use hcl::expr::Expression;
use hcl::{Block, Body};

use super::aws::{log_group, name_tag, role};
use super::network::{subnet_ids, vpc_id};
use super::Doc;
use crate::model::{Side, Topology};
use crate::naming::Role;
use crate::syntax::{arr, call, labelled, provider, r, resource, rs, strs, t};

/// The logs each instance exports to CloudWatch.
const LOGS: [&str; 2] = ["postgresql", "upgrade"];

/// `aws_db_instance.<side>.<attr>`.
pub fn attr(side: Side, attr: &str) -> Expression {
    rs("aws_db_instance", side, attr)
}

/// Whether the side's instance is rendered (the old primary is not, once retired).
pub fn exists(m: &Topology, side: Side) -> bool {
    !(side == Side::Primary && m.database.primary_retired)
}

/// The side's instance identifier: from the resource, or by name once the instance is retired
/// (the fence and the event rules still name the old primary).
pub fn identifier(m: &Topology, side: Side) -> Expression {
    if exists(m, side) {
        attr(side, "identifier")
    } else {
        m.names.db_identifier(side).expr()
    }
}

/// The side's instance ARN, as `identifier`.
pub fn arn(m: &Topology, side: Side) -> Expression {
    if exists(m, side) {
        attr(side, "arn")
    } else {
        super::aws::arn(m, side, "rds", &format!("db:{}", m.names.db_identifier(side).template()))
    }
}

/// The side that takes writes: the primary, or the DR instance once the primary is retired.
pub fn writer(m: &Topology) -> Side {
    if m.database.primary_retired {
        Side::Dr
    } else {
        Side::Primary
    }
}

/// Whether the side's instance is a read replica: the DR instance until the primary is retired.
fn is_replica(m: &Topology, side: Side) -> bool {
    side == Side::Dr && !m.database.primary_retired
}

/// The side's database security group id.
pub fn security_group(side: Side) -> Expression {
    r(&format!("aws_security_group.{side}_db.id"))
}

fn parameter(name: &str, value: &str, apply: &str) -> Block {
    labelled(
        "parameter",
        &[],
        Body::builder()
            .add_attribute(("name", name))
            .add_attribute(("value", value))
            .add_attribute(("apply_method", apply))
            .build(),
    )
}

/// The networks a database admits: the clients of both regions (after a failover, applications
/// anywhere reach the writer across the peering) and the peer VPC, where drgen's functions probe
/// from. One rule per distinct range: AWS refuses a duplicate rule.
pub fn admitted_cidrs(m: &Topology, side: Side) -> Vec<Expression> {
    let mut literal: Vec<String> = Vec::new();
    let mut vpcs = vec![side.other()];
    for s in Side::BOTH {
        let region = m.region(s);
        if region.clients_are_vpc {
            vpcs.push(s);
        } else {
            literal.extend(region.clients.iter().map(ToString::to_string));
        }
    }
    vpcs.sort();
    vpcs.dedup();
    literal.sort();
    literal.dedup();
    let mut out: Vec<Expression> = Vec::new();
    for s in vpcs {
        let range = m.region(s).cidr.to_string();
        if !m.region(s).is_managed() || !literal.contains(&range) {
            out.push(super::network::cidr(m, s));
        }
    }
    out.extend(literal.into_iter().map(Expression::from));
    out
}

fn network(m: &Topology, side: Side, doc: &mut Doc) {
    let p = || provider(side);
    let sg_label = format!("{side}_db");
    let port = u64::from(m.database.port);
    let mut blocks = vec![
        resource(
            "aws_db_subnet_group",
            side.label(),
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("name", m.names.regional(side).expr()))
                .add_attribute(("description", "Private subnets of the database"))
                .add_attribute(("subnet_ids", subnet_ids(m, side)))
                .build(),
        ),
        resource(
            "aws_security_group",
            &sg_label,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("name", m.names.regional_purpose("db", side).expr()))
                .add_attribute((
                    "description",
                    "PostgreSQL from the listed clients, the peer VPC and drgen's functions only",
                ))
                .add_attribute(("vpc_id", vpc_id(m, side)))
                .add_attribute(name_tag(&m.names.regional_purpose("db", side)))
                .build(),
        ),
        resource(
            "aws_vpc_security_group_ingress_rule",
            &format!("{sg_label}_from_networks"),
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("for_each", call("toset", [arr(admitted_cidrs(m, side))])))
                .add_attribute(("security_group_id", security_group(side)))
                .add_attribute((
                    "description",
                    "PostgreSQL from the clients of both regions and the peer VPC",
                ))
                .add_attribute(("ip_protocol", "tcp"))
                .add_attribute(("from_port", port))
                .add_attribute(("to_port", port))
                .add_attribute(("cidr_ipv4", r("each.key")))
                .build(),
        ),
    ];
    for (i, group) in m.region(side).client_security_groups.iter().enumerate() {
        blocks.push(resource(
            "aws_vpc_security_group_ingress_rule",
            &format!("{sg_label}_from_client_group_{i}"),
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("security_group_id", security_group(side)))
                .add_attribute(("description", "PostgreSQL from a client security group of this region"))
                .add_attribute(("ip_protocol", "tcp"))
                .add_attribute(("from_port", port))
                .add_attribute(("to_port", port))
                .add_attribute(("referenced_security_group_id", group.as_str()))
                .build(),
        ));
    }
    for client in doc.db_clients(side) {
        blocks.push(resource(
            "aws_vpc_security_group_ingress_rule",
            &format!("{sg_label}_from_{}", client.label),
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("security_group_id", security_group(side)))
                .add_attribute(("description", client.description.as_str()))
                .add_attribute(("ip_protocol", "tcp"))
                .add_attribute(("from_port", port))
                .add_attribute(("to_port", port))
                .add_attribute(("referenced_security_group_id", client.security_group_id))
                .build(),
        ));
    }
    blocks.push(resource(
        "aws_db_parameter_group",
        side.label(),
        Body::builder()
            .add_attribute(("provider", p()))
            // A prefix, so that create_before_destroy can make the replacement (a new family in a
            // major-version upgrade) before the old group's name is free.
            .add_attribute(("name_prefix", m.names.db_parameter_group(side).expr()))
            .add_attribute(("family", "postgres15"))
            .add_attribute(("description", "drgen PostgreSQL 15 settings"))
            .add_block(parameter(
                "log_min_duration_statement",
                &m.database.log_min_duration_statement_ms.to_string(),
                "immediate",
            ))
            .add_block(parameter("log_connections", "1", "immediate"))
            .add_block(parameter("log_disconnections", "1", "immediate"))
            .add_block(parameter("rds.force_ssl", "1", "immediate"))
            .add_block(parameter("shared_preload_libraries", "pg_stat_statements", "pending-reboot"))
            .add_block(labelled(
                "lifecycle",
                &[],
                Body::builder().add_attribute(("create_before_destroy", true)).build(),
            ))
            .build(),
    ));
    doc.add("database.tf", blocks);
}

fn monitoring(m: &Topology, side: Side, doc: &mut Doc) {
    let label = format!("{side}_rds_monitoring");
    let mut blocks = role(
        &label,
        side,
        &m.names.role(Role::RdsMonitoring, side),
        "monitoring.rds.amazonaws.com",
        "Lets RDS publish enhanced-monitoring metrics.",
    )
    .to_vec();
    blocks.push(resource(
        "aws_iam_role_policy_attachment",
        &label,
        Body::builder()
            .add_attribute(("provider", provider(side)))
            .add_attribute(("role", r(&format!("aws_iam_role.{label}.name"))))
            .add_attribute((
                "policy_arn",
                t(&format!(
                    "arn:{}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
                    super::aws::partition(side)
                )),
            ))
            .build(),
    ));
    for log in LOGS {
        blocks.push(log_group(m, &format!("{side}_rds_{log}"), side, m.names.db_log_group(side, log).expr()));
    }
    doc.add("database.tf", blocks);
}

/// The arguments both instances share.
fn common(m: &Topology, side: Side, body: hcl::structure::BodyBuilder) -> hcl::structure::BodyBuilder {
    let d = &m.database;
    let label = side.label();
    let mut body = body
        .add_attribute(("instance_class", d.instance_class.as_str()))
        .add_attribute(("storage_type", "gp3"))
        .add_attribute(("max_allocated_storage", u64::from(d.max_allocated_storage_gb)))
        .add_attribute(("storage_encrypted", true))
        .add_attribute(("kms_key_id", rs("aws_kms_key", side, "arn")))
        .add_attribute(("multi_az", d.multi_az))
        .add_attribute(("db_subnet_group_name", rs("aws_db_subnet_group", side, "name")))
        .add_attribute(("vpc_security_group_ids", arr([security_group(side)])))
        .add_attribute(("parameter_group_name", rs("aws_db_parameter_group", side, "name")))
        .add_attribute(("publicly_accessible", false))
        .add_attribute(("iam_database_authentication_enabled", true))
        .add_attribute(("auto_minor_version_upgrade", true))
        .add_attribute(("backup_retention_period", u64::from(d.backup_retention_days)))
        .add_attribute(("backup_window", d.backup_window.as_str()))
        .add_attribute(("maintenance_window", d.maintenance_window.as_str()))
        .add_attribute(("copy_tags_to_snapshot", true))
        .add_attribute(("performance_insights_enabled", true))
        .add_attribute(("performance_insights_kms_key_id", rs("aws_kms_key", side, "arn")))
        .add_attribute((
            "performance_insights_retention_period",
            u64::from(d.performance_insights_retention_days),
        ))
        .add_attribute(("monitoring_interval", u64::from(d.monitoring_interval_seconds)))
        .add_attribute(("monitoring_role_arn", r(&format!("aws_iam_role.{label}_rds_monitoring.arn"))))
        .add_attribute(("enabled_cloudwatch_logs_exports", strs(LOGS)))
        .add_attribute(("deletion_protection", !m.destroyable))
        // RDS refuses a final snapshot when it deletes a read replica: the replica skips it (the
        // primary's final snapshot and the replicated backups cover the data). The writer, the
        // promoted DR instance once the primary is retired, takes one unless destroyable.
        .add_attribute(("skip_final_snapshot", m.destroyable || is_replica(m, side)))
        .add_attribute(("delete_automated_backups", m.destroyable));
    if !m.destroyable && !is_replica(m, side) {
        body = body.add_attribute(("final_snapshot_identifier", m.names.final_snapshot(side).expr()));
    }
    body.add_attribute((
        "depends_on",
        arr(LOGS
            .iter()
            .map(|log| r(&format!("aws_cloudwatch_log_group.{label}_rds_{log}")))
            .chain([r(&format!("aws_iam_role_policy_attachment.{label}_rds_monitoring"))])),
    ))
}

fn db_instance(m: &Topology, side: Side, doc: &mut Doc) {
    let d = &m.database;
    let base = Body::builder()
        .add_attribute(("provider", provider(side)))
        .add_attribute(("identifier", m.names.db_identifier(side).expr()));
    let block = match side {
        Side::Primary => {
            let body = base
                .add_attribute(("engine", "postgres"))
                .add_attribute(("engine_version", r("data.aws_rds_engine_version.primary.version_actual")))
                .add_attribute(("allocated_storage", u64::from(d.allocated_storage_gb)))
                .add_attribute(("db_name", d.db_name.as_str()))
                .add_attribute(("username", d.master_username.as_str()))
                // The same generated value the secret version stores in the same apply; the
                // secret's host names this instance, so reading the password back from the
                // secret would be a cycle.
                .add_attribute((
                    "password",
                    r("data.aws_secretsmanager_random_password.master.random_password"),
                ))
                .add_attribute(("port", u64::from(d.port)));
            let body = common(m, side, body).add_block(labelled(
                "lifecycle",
                &[],
                Body::builder()
                    // vpc_security_group_ids: an apply must never undo the fence of an old primary.
                    .add_attribute((
                        "ignore_changes",
                        arr([r("password"), r("engine_version"), r("vpc_security_group_ids")]),
                    ))
                    .build(),
            ));
            resource("aws_db_instance", side.label(), body.build())
        }
        Side::Dr => {
            let body = base.add_attribute(("replicate_source_db", arn(m, Side::Primary)));
            let body = common(m, side, body).add_block(labelled(
                "lifecycle",
                &[],
                Body::builder().add_attribute(("ignore_changes", arr([r("replicate_source_db")]))).build(),
            ));
            resource("aws_db_instance", side.label(), body.build())
        }
    };
    doc.add("database.tf", [block]);
    doc.note("database.tf", "resource", &["aws_db_instance", side.label()], match (side, is_replica(m, side)) {
        (Side::Primary, _) => "The writable primary. The password is the master secret's first value; rotation owns it afterwards, so it is ignored, as is engine_version: RDS applies minor versions in the maintenance window.",
        (Side::Dr, true) => "The cross-region read replica. replicate_source_db is ignored so that after a promotion the next apply does not destroy the new primary (see RUNBOOK.md, failback).",
        (Side::Dr, false) => "The promoted DR instance, the writer since the failover. replicate_source_db is ignored so that no apply destroys it (see RUNBOOK.md, failback); it is backed up, and its backups copied to the other region, as the primary was.",
    });
    let (what, id_desc) = match (side, is_replica(m, side)) {
        (Side::Primary, _) => ("primary", "writable primary"),
        (Side::Dr, true) => ("replica", "cross-region read replica"),
        // The output keeps its name: scripts read it before and after the failover.
        (Side::Dr, false) => ("replica", "writer (the promoted DR instance)"),
    };
    doc.output(
        &format!("{what}_endpoint"),
        &format!("Address and port of the {id_desc}."),
        attr(side, "endpoint"),
    );
    doc.output(&format!("{what}_arn"), &format!("ARN of the {id_desc}."), attr(side, "arn"));
}

/// Everything of the database that exists in one region.
pub fn render(m: &Topology, side: Side, doc: &mut Doc) {
    network(m, side, doc);
    monitoring(m, side, doc);
    if exists(m, side) {
        db_instance(m, side, doc);
    }
}

/// Automated backups of the writer, replicated to the other region under that region's key, so
/// that point-in-time recovery survives the loss of the writer's region: from the primary to DR,
/// and from the promoted DR instance back to the primary region once the primary is retired.
///
/// The resource is created in the destination region (the provider of the other side) and takes
/// the source instance's ARN and a KMS key of the destination region:
/// <https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/db_instance_automated_backups_replication>,
/// <https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_StartDBInstanceAutomatedBackupsReplication.html>.
pub fn replication(m: &Topology, doc: &mut Doc) {
    let source = writer(m);
    let destination = source.other();
    doc.add(
        "database.tf",
        [resource(
            "aws_db_instance_automated_backups_replication",
            &format!("{source}_to_{destination}"),
            Body::builder()
                .add_attribute(("provider", provider(destination)))
                .add_attribute(("source_db_instance_arn", attr(source, "arn")))
                .add_attribute(("kms_key_id", rs("aws_kms_key", destination, "arn")))
                .add_attribute(("retention_period", u64::from(m.database.backup_retention_days)))
                .build(),
        )],
    );
}
