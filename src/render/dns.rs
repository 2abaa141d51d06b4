//! Failover DNS: the hosted zone (private and associated with both VPCs by default), the
//! health checks, and one CNAME name with a PRIMARY record guarded by the calculated health
//! check and a SECONDARY record for the replica. Everything is created up front: a failover
//! changes no Route 53 configuration, because Route 53's control plane lives in us-east-1.

use hcl::expr::Expression;
use hcl::Body;

use super::alarms::{alarm, Alarm};
use super::observers::{api_host, api_path, metric_mode};
use super::Doc;
use crate::config::DnsSwitch;
use crate::health::{HealthGraph, AUTHORITY_COPIES};
use crate::model::{Side, Topology};
use crate::naming::Function;
use crate::syntax::{arr, labelled, obj, provider, r, resource, rs, t};

/// The writer name as rendered.
pub fn fqdn(m: &Topology) -> Expression {
    t(&format!("{}.{}", m.dns.record_name, m.dns.zone_template(m.suffix.as_str())))
}

fn zone(m: &Topology, doc: &mut Doc) {
    let mut body = Body::builder()
        .add_attribute(("provider", provider(Side::Primary)))
        .add_attribute(("name", t(&m.dns.zone_template(m.suffix.as_str()))))
        .add_attribute(("comment", "drgen failover zone"))
        .add_attribute(("force_destroy", m.destroyable));
    if m.dns.private_zone {
        for side in Side::BOTH {
            body = body.add_block(labelled(
                "vpc",
                &[],
                Body::builder()
                    .add_attribute(("vpc_id", super::network::vpc_id(m, side)))
                    .add_attribute(("vpc_region", m.region(side).region.name()))
                    .build(),
            ));
        }
    }
    doc.add("dns.tf", [resource("aws_route53_zone", "main", body.build())]);
}

fn health_check(m: &Topology, label: &str, what: &str, body: hcl::structure::BodyBuilder) -> hcl::Block {
    resource(
        "aws_route53_health_check",
        label,
        body.add_attribute(("tags", obj([("Name", m.names.health_check(what).expr())]))).build(),
    )
}

/// The health check that follows one region's observer.
fn observer_check(m: &Topology, side: Side, doc: &mut Doc) {
    let f = &m.failover;
    let label = super::functions::label(Function::Observer, side);
    let base = Body::builder().add_attribute(("provider", provider(Side::Primary)));
    let mut blocks = Vec::new();
    let check = if metric_mode(m) {
        let alarm_label = format!("{label}_unreachable");
        blocks.push(alarm(
            side,
            Alarm {
                label: alarm_label.clone(),
                name: m.names.alarm("observer-unreachable", side),
                description: format!("The {side} observer cannot reach the primary database"),
                namespace: m.names.metric_namespace().expr(),
                metric: "PrimaryReachable",
                dimensions: vec![("Observer", Expression::from(side.label()))],
                statistic: "Maximum",
                comparison: "LessThanThreshold",
                threshold: 1.0,
                periods: f.failure_threshold,
                period: 60,
                missing: "breaching",
            },
        ));
        base.add_attribute(("type", "CLOUDWATCH_METRIC"))
            .add_attribute((
                "cloudwatch_alarm_name",
                r(&format!("aws_cloudwatch_metric_alarm.{alarm_label}.alarm_name")),
            ))
            .add_attribute(("cloudwatch_alarm_region", m.region(side).region.name()))
            .add_attribute(("insufficient_data_health_status", "Unhealthy"))
    } else {
        base.add_attribute(("type", "HTTPS"))
            .add_attribute(("fqdn", api_host(m, side)))
            .add_attribute(("port", 443))
            .add_attribute(("resource_path", api_path()))
            .add_attribute(("enable_sni", true))
            .add_attribute(("request_interval", u64::from(f.request_interval_seconds)))
            .add_attribute(("failure_threshold", u64::from(f.failure_threshold)))
    };
    blocks.push(health_check(m, &label, &format!("{side}-observer"), check));
    doc.add("dns.tf", blocks);
}

/// The PRIMARY or SECONDARY record of one region.
fn record(m: &Topology, side: Side, doc: &mut Doc) {
    let (role, check) = match side {
        Side::Primary => ("PRIMARY", Some(r("aws_route53_health_check.primary_alive.id"))),
        Side::Dr => ("SECONDARY", None),
    };
    let mut body = Body::builder()
        .add_attribute(("provider", provider(Side::Primary)))
        .add_attribute(("zone_id", r("aws_route53_zone.main.zone_id")))
        .add_attribute(("name", fqdn(m)))
        .add_attribute(("type", "CNAME"))
        .add_attribute(("ttl", u64::from(m.dns.ttl_seconds)))
        // Once the primary is retired both records name the writer, the DR instance.
        .add_attribute((
            "records",
            arr([rs(
                "aws_db_instance",
                if super::database::exists(m, side) { side } else { Side::Dr },
                "address",
            )]),
        ))
        .add_attribute(("set_identifier", side.label()));
    if let Some(check) = check {
        body = body.add_attribute(("health_check_id", check));
    }
    body = body.add_block(labelled(
        "failover_routing_policy",
        &[],
        Body::builder().add_attribute(("type", role)).build(),
    ));
    doc.add("dns.tf", [resource("aws_route53_record", &format!("writer_{side}"), body.build())]);
}

/// The writer authority: an alarm in the DR region on the monitor's WriterIsDr metric, and the
/// health checks that follow it (three copies; see `health::AUTHORITY_COPIES`).
fn authority(m: &Topology, doc: &mut Doc) {
    let side = Side::Dr;
    let alarm_block = alarm(
        side,
        Alarm {
            label: "writer_authority".into(),
            name: m.names.alarm("writer-authority", side),
            description: "The writer authority says DR: a promotion of the replica has started. DNS never moves back by itself; failback resets it (RUNBOOK.md).".into(),
            namespace: m.names.metric_namespace().expr(),
            metric: "WriterIsDr",
            dimensions: vec![],
            statistic: "Maximum",
            comparison: "GreaterThanOrEqualToThreshold",
            threshold: 1.0,
            periods: 1,
            period: 60,
            missing: "ignore",
        },
    );
    let body = Body::builder()
        .add_attribute(("provider", provider(Side::Primary)))
        .add_attribute(("count", u64::from(AUTHORITY_COPIES)));
    let body = if m.failover.arc.is_some() {
        // Healthy while the primary's routing control is On: Route 53 evaluates it in its data
        // plane, from the ARC cluster's state.
        body.add_attribute(("type", "RECOVERY_CONTROL"))
            .add_attribute(("routing_control_arn", super::arc::control_arn(Side::Primary)))
    } else {
        body.add_attribute(("type", "CLOUDWATCH_METRIC"))
            .add_attribute((
                "cloudwatch_alarm_name",
                r("aws_cloudwatch_metric_alarm.writer_authority.alarm_name"),
            ))
            .add_attribute(("cloudwatch_alarm_region", m.dr.region.name()))
            .add_attribute(("insufficient_data_health_status", "LastKnownStatus"))
    };
    let check = health_check(m, "writer_authority", "writer-authority", body);
    doc.add("dns.tf", [alarm_block, check]);
    doc.note(
        "dns.tf",
        "resource",
        &["aws_cloudwatch_metric_alarm", "writer_authority"],
        "Missing data keeps the alarm's state (treat_missing_data = ignore): a silent monitor never moves the writer back. The monitor publishes WriterIsDr on every tick; 1 from the moment PromoteReadReplica succeeded.",
    );
    doc.note(
        "dns.tf",
        "resource",
        &["aws_route53_health_check", "writer_authority"],
        if m.failover.arc.is_some() {
            "Three checks on the primary's ARC routing control (child_healthchecks is a set, so one id twice would count once): healthy while it is On. The failover workflow turns it Off when the DR side takes the authority."
        } else {
            "Three checks on the same alarm (child_healthchecks is a set, so one id twice would count once). LastKnownStatus: a check with no data keeps its last status, and a new check starts healthy (Route 53 API reference, HealthCheckConfig.InsufficientDataHealthStatus)."
        },
    );
}

/// Alarms on the health checks' own status. Route 53 publishes HealthCheckStatus only in
/// us-east-1, so they exist when one of the two regions is us-east-1 (a warning says otherwise).
fn check_alarms(m: &Topology, doc: &mut Doc) {
    let Some(side) = Side::BOTH.into_iter().find(|s| m.region(*s).region.name() == "us-east-1") else {
        return;
    };
    let status = |label: &str, name: &str, check: Expression, description: String| {
        alarm(
            side,
            Alarm {
                label: label.into(),
                name: m.names.alarm(name, side),
                description,
                namespace: Expression::from("AWS/Route53"),
                metric: "HealthCheckStatus",
                dimensions: vec![("HealthCheckId", check)],
                statistic: "Minimum",
                comparison: "LessThanThreshold",
                threshold: 1.0,
                periods: 1,
                period: 60,
                missing: "breaching",
            },
        )
    };
    let mut blocks: Vec<hcl::Block> = Side::BOTH
        .iter()
        .map(|observer| {
            let label = super::functions::label(Function::Observer, *observer);
            status(
                &format!("{label}_check"),
                &format!("{observer}-observer-check"),
                r(&format!("aws_route53_health_check.{label}.id")),
                format!("Route 53 sees the {observer} observer's check unhealthy: that observer cannot reach the primary"),
            )
        })
        .collect();
    blocks.push(status(
        "primary_alive_check",
        "primary-alive-check",
        r("aws_route53_health_check.primary_alive.id"),
        "The PRIMARY record is unhealthy: the writer name points at the DR region".into(),
    ));
    let query = |i: u32| {
        labelled(
            "metric_query",
            &[],
            Body::builder()
                .add_attribute(("id", format!("a{i}")))
                .add_block(labelled(
                    "metric",
                    &[],
                    Body::builder()
                        .add_attribute(("namespace", "AWS/Route53"))
                        .add_attribute(("metric_name", "HealthCheckStatus"))
                        .add_attribute(("period", 60))
                        .add_attribute(("stat", "Minimum"))
                        .add_attribute((
                            "dimensions",
                            obj([(
                                "HealthCheckId",
                                r(&format!("aws_route53_health_check.writer_authority[{i}].id")),
                            )]),
                        ))
                        .build(),
                ))
                .build(),
        )
    };
    let mut disagree = Body::builder()
        .add_attribute(("provider", provider(side)))
        .add_attribute(("alarm_name", m.names.alarm("authority-disagree", side).expr()))
        .add_attribute((
            "alarm_description",
            "The three writer-authority checks disagree for two minutes: one of them does not follow the alarm, and one more fault (an observer lost) would move the writer name",
        ))
        .add_attribute(("comparison_operator", "GreaterThanThreshold"))
        .add_attribute(("threshold", 0))
        // Two minutes, not five: a stuck authority check uses the margin that an observer's
        // loss would also use, so it pages as the first of two faults. One minute would page
        // on the seconds in which the checks follow the alarm at slightly different times.
        .add_attribute(("evaluation_periods", 2))
        .add_attribute(("treat_missing_data", "breaching"))
        .add_attribute(("alarm_actions", arr([super::alerts::topic(side)])))
        .add_attribute(("ok_actions", arr([super::alerts::topic(side)])))
        .add_block(labelled(
            "metric_query",
            &[],
            Body::builder()
                .add_attribute(("id", "spread"))
                .add_attribute(("expression", "MAX([a0, a1, a2]) - MIN([a0, a1, a2])"))
                .add_attribute(("label", "writer-authority checks that disagree"))
                .add_attribute(("return_data", true))
                .build(),
        ));
    for i in 0..AUTHORITY_COPIES {
        disagree = disagree.add_block(query(i));
    }
    blocks.push(resource("aws_cloudwatch_metric_alarm", "writer_authority_disagree", disagree.build()));
    doc.add("dns.tf", blocks);
}

pub fn render(m: &Topology, doc: &mut Doc) {
    zone(m, doc);
    for side in Side::BOTH {
        observer_check(m, side, doc);
    }
    authority(m, doc);
    let graph = HealthGraph::new(m);
    let mut children = Vec::new();
    for child in &graph.children {
        if child.role == "authority" {
            children.extend(
                (0..child.copies).map(|i| r(&format!("aws_route53_health_check.writer_authority[{i}].id"))),
            );
        } else {
            children.push(r(&format!("{}.id", child.address)));
        }
    }
    doc.add(
        "dns.tf",
        [
            health_check(
                m,
                "primary_alive",
                "primary-alive",
                Body::builder()
                    .add_attribute(("provider", provider(Side::Primary)))
                    .add_attribute(("type", "CALCULATED"))
                    .add_attribute(("child_health_threshold", u64::from(graph.threshold)))
                    .add_attribute(("child_healthchecks", arr(children))),
            ),
            health_check(
                m,
                "replica_lag",
                "replica-lag",
                Body::builder()
                    .add_attribute(("provider", provider(Side::Primary)))
                    .add_attribute(("type", "CLOUDWATCH_METRIC"))
                    .add_attribute((
                        "cloudwatch_alarm_name",
                        r("aws_cloudwatch_metric_alarm.dr_replica_lag.alarm_name"),
                    ))
                    .add_attribute(("cloudwatch_alarm_region", m.dr.region.name()))
                    .add_attribute(("insufficient_data_health_status", "Healthy")),
            ),
        ],
    );
    let rule = match m.dns.switch {
        _ if m.database.primary_retired => "After a failover (database.primary_retired): healthy while at least one observer reaches the writer, the DR instance that both records name. The writer authority says DR for good, so its checks are not children here.",
        DnsSwitch::Detection => "Healthy when at least 4 of its 5 children are: the three writer-authority checks (the authority says primary) and at least one observer reaching the primary. Truth table: authority primary (3 healthy) + 0 observers = 3, unhealthy; + 1 or 2 observers = 4 or 5, healthy. Authority DR (0 healthy) + 2 observers = 2, unhealthy; one authority check lagging behind (1 healthy) + 2 observers = 3, unhealthy. One observer region lost never moves traffic while the other reaches the primary.",
        DnsSwitch::Promotion => "dns.switch = promotion: healthy while at least 2 of the 3 writer-authority checks say primary. DNS moves only once a promotion has started; one lagging authority check cannot outvote the other two.",
    };
    doc.note("dns.tf", "resource", &["aws_route53_health_check", "primary_alive"], rule);
    doc.note(
        "dns.tf",
        "resource",
        &["aws_route53_health_check", "replica_lag"],
        "Follows the replica-lag alarm for the Route 53 dashboard; it guards no record. insufficient_data_health_status is Healthy on purpose: a promoted replica stops reporting ReplicaLag, and that must not show the new primary as failing.",
    );
    for side in Side::BOTH {
        record(m, side, doc);
    }
    check_alarms(m, doc);
    doc.output("writer_dns_name", "Name that always resolves to the writable database.", fqdn(m));
    doc.output("hosted_zone_id", "Hosted zone of the failover records.", r("aws_route53_zone.main.zone_id"));
    doc.output(
        "primary_health_check_id",
        "Calculated health check that guards the PRIMARY record.",
        r("aws_route53_health_check.primary_alive.id"),
    );
    doc.output(
        "writer_authority_health_check_ids",
        "The three health checks on the writer-authority alarm.",
        r("aws_route53_health_check.writer_authority[*].id"),
    );
    doc.output(
        "observer_health_check_ids",
        "The observers' health checks, by region role.",
        obj(Side::BOTH.map(|side| {
            (
                side.label(),
                r(&format!(
                    "aws_route53_health_check.{}.id",
                    super::functions::label(Function::Observer, side)
                )),
            )
        })),
    );
}
