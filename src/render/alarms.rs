//! CloudWatch alarms, each sending alarm and OK notifications to the SNS topic of its own
//! region: the database's CPU, connections and free storage in both regions, the replica's
//! lag, errors of every drgen function, and in the DR region what the monitor publishes
//! (the primary unreachable, a held failover, split-brain risk, commits at risk), so that the
//! DR side pages on its own when the primary region, where Route 53's metrics are, is down.

use hcl::expr::Expression;
use hcl::Body;

use super::alerts::topic;
use super::Doc;
use crate::model::{Side, Topology};
use crate::naming::Function;
use crate::syntax::{arr, obj, provider, r, resource, rs};

/// One alarm on one metric.
pub struct Alarm<'a> {
    pub label: String,
    pub name: crate::naming::AwsName,
    pub description: String,
    pub namespace: Expression,
    pub metric: &'a str,
    pub dimensions: Vec<(&'a str, Expression)>,
    pub statistic: &'a str,
    pub comparison: &'a str,
    pub threshold: f64,
    pub periods: u32,
    pub period: u32,
    pub missing: &'a str,
}

/// An alarm; without dimensions when none are given.
pub fn alarm(side: Side, a: Alarm<'_>) -> hcl::Block {
    let body = Body::builder()
        .add_attribute(("provider", provider(side)))
        .add_attribute(("alarm_name", a.name.expr()))
        .add_attribute(("alarm_description", a.description))
        .add_attribute(("namespace", a.namespace))
        .add_attribute(("metric_name", a.metric));
    let body =
        if a.dimensions.is_empty() { body } else { body.add_attribute(("dimensions", obj(a.dimensions))) };
    resource(
        "aws_cloudwatch_metric_alarm",
        &a.label,
        body.add_attribute(("statistic", a.statistic))
            .add_attribute(("comparison_operator", a.comparison))
            .add_attribute(("threshold", a.threshold))
            .add_attribute(("evaluation_periods", u64::from(a.periods)))
            .add_attribute(("period", u64::from(a.period)))
            .add_attribute(("treat_missing_data", a.missing))
            .add_attribute(("alarm_actions", arr([topic(side)])))
            .add_attribute(("ok_actions", arr([topic(side)])))
            .build(),
    )
}

/// The alarms of one region.
pub fn render(m: &Topology, side: Side, doc: &mut Doc) {
    let db = || vec![("DBInstanceIdentifier", rs("aws_db_instance", side, "identifier"))];
    let mut blocks = Vec::new();
    if !super::database::exists(m, side) {
        blocks.extend(function_alarms(m, side, doc));
        doc.add("alarms.tf", blocks);
        return;
    }
    let rds = || Expression::from("AWS/RDS");
    // At most 5000, so exact as f64.
    let connections = f64::from(u32::try_from(m.database.max_connections() * 8 / 10).expect("at most 5000"));
    let gib = f64::from(m.monitoring.free_storage_threshold_gb) * 1_073_741_824.0;
    blocks.extend([
        alarm(
            side,
            Alarm {
                label: format!("{side}_cpu"),
                name: m.names.alarm("cpu", side),
                description: format!("CPU above {} % for 15 minutes", m.monitoring.cpu_threshold_percent),
                namespace: rds(),
                metric: "CPUUtilization",
                dimensions: db(),
                statistic: "Average",
                comparison: "GreaterThanThreshold",
                threshold: f64::from(m.monitoring.cpu_threshold_percent),
                periods: 3,
                period: 300,
                missing: "missing",
            },
        ),
        alarm(
            side,
            Alarm {
                label: format!("{side}_connections"),
                name: m.names.alarm("connections", side),
                description: format!(
                    "Connections above 80 % of max_connections ({}) of {}",
                    m.database.max_connections(),
                    m.database.instance_class
                ),
                namespace: rds(),
                metric: "DatabaseConnections",
                dimensions: db(),
                statistic: "Maximum",
                comparison: "GreaterThanThreshold",
                threshold: connections,
                periods: 3,
                period: 60,
                missing: "missing",
            },
        ),
        alarm(
            side,
            Alarm {
                label: format!("{side}_free_storage"),
                name: m.names.alarm("free-storage", side),
                description: format!("Free storage below {} GiB", m.monitoring.free_storage_threshold_gb),
                namespace: rds(),
                metric: "FreeStorageSpace",
                dimensions: db(),
                statistic: "Minimum",
                comparison: "LessThanThreshold",
                threshold: gib,
                periods: 1,
                period: 300,
                missing: "missing",
            },
        ),
    ]);
    if side == Side::Dr {
        blocks.push(alarm(
            side,
            Alarm {
                label: "dr_replica_lag".into(),
                name: m.names.alarm("replica-lag", side),
                description: format!("Replica lag above {} s", m.failover.lag_threshold_seconds),
                namespace: rds(),
                metric: "ReplicaLag",
                dimensions: db(),
                statistic: "Maximum",
                comparison: "GreaterThanThreshold",
                threshold: f64::from(m.failover.lag_threshold_seconds),
                periods: 1,
                period: 60,
                missing: "notBreaching",
            },
        ));
        if !m.database.primary_retired {
            blocks.extend(monitor_alarms(m));
        }
    }
    blocks.extend(function_alarms(m, side, doc));
    doc.add("alarms.tf", blocks);
}

/// An alarm on any occurrence of a counted event (errors, throttles, failed executions) in one
/// minute.
fn occurrences<'a>(
    m: &Topology,
    side: Side,
    label: String,
    name: &str,
    description: String,
    (namespace, metric): (&str, &'a str),
    dimensions: Vec<(&'a str, Expression)>,
) -> hcl::Block {
    alarm(
        side,
        Alarm {
            label,
            name: m.names.alarm(name, side),
            description,
            namespace: Expression::from(namespace),
            metric,
            dimensions,
            statistic: "Sum",
            comparison: "GreaterThanThreshold",
            threshold: 0.0,
            periods: 1,
            period: 60,
            missing: "notBreaching",
        },
    )
}

/// The errors (and, for observers, throttles) of every drgen function in the region.
fn function_alarms(m: &Topology, side: Side, doc: &Doc) -> Vec<hcl::Block> {
    let mut blocks = Vec::new();
    for function in doc.functions(side) {
        let label = super::functions::label(function, side);
        let name = || vec![("FunctionName", r(&format!("aws_lambda_function.{label}.function_name")))];
        if function == Function::Observer {
            // A throttled observer answers Route 53 with an error, which moves DNS.
            blocks.push(occurrences(
                m,
                side,
                format!("{label}_throttles"),
                "observer-throttles",
                "The observer was throttled: Route 53 sees failures that are not the database's".into(),
                ("AWS/Lambda", "Throttles"),
                name(),
            ));
        }
        blocks.push(occurrences(
            m,
            side,
            format!("{label}_errors"),
            &format!("{}-errors", function.word()),
            format!("The {} function failed", function.word()),
            ("AWS/Lambda", "Errors"),
            name(),
        ));
    }
    blocks
}

/// The monitor's own signals and the failover workflow's outcome, in the DR region.
fn monitor_alarms(m: &Topology) -> Vec<hcl::Block> {
    let side = Side::Dr;
    // A flag the monitor raises (1) on a tick: held, split-brain risk.
    let raised = |label: &str, name: &str, description: &str, metric: &'static str| {
        alarm(
            side,
            Alarm {
                label: label.into(),
                name: m.names.alarm(name, side),
                description: description.into(),
                namespace: m.names.metric_namespace().expr(),
                metric,
                dimensions: vec![],
                statistic: "Maximum",
                comparison: "GreaterThanOrEqualToThreshold",
                threshold: 1.0,
                periods: 1,
                period: 60,
                missing: "notBreaching",
            },
        )
    };
    let machine = || vec![("StateMachineArn", r("aws_sfn_state_machine.promote.arn"))];
    vec![
        // Missing data breaches: a silent monitor pages as loudly as an unreachable primary.
        alarm(
            side,
            Alarm {
                label: "dr_probe_failures".into(),
                name: m.names.alarm("probe-failures", side),
                description: "The DR monitor could not reach the primary, or published nothing (a silent monitor), for three minutes".into(),
                namespace: m.names.metric_namespace().expr(),
                metric: "PrimaryReachable",
                dimensions: vec![],
                statistic: "Maximum",
                comparison: "LessThanThreshold",
                threshold: 1.0,
                periods: 3,
                period: 60,
                missing: "breaching",
            },
        ),
        // What the Route 53 check alarms in us-east-1 would say, from the DR side: they are
        // silent when that region is the one that failed.
        alarm(
            side,
            Alarm {
                label: "dr_primary_unreachable".into(),
                name: m.names.alarm("primary-unreachable", side),
                description: "The DR monitor did not reach the primary once in a minute: when the primary region's observer cannot either, Route 53 has moved the writer name to the read-only replica".into(),
                namespace: m.names.metric_namespace().expr(),
                metric: "PrimaryReachable",
                dimensions: vec![],
                statistic: "Maximum",
                comparison: "LessThanThreshold",
                threshold: 1.0,
                periods: 1,
                period: 60,
                // A silent monitor is the probe-failures alarm's page, not this one's.
                missing: "notBreaching",
            },
        ),
        // Published while the monitor can measure it; the RPO gate pages when it is unknown.
        alarm(
            side,
            Alarm {
                label: "dr_data_at_risk".into(),
                name: m.names.alarm("data-at-risk", side),
                description: format!(
                    "More than {} s of the primary's commits are not on the replica: an automatic promotion now would be refused by the RPO gate",
                    m.failover.max_data_loss_seconds
                ),
                namespace: m.names.metric_namespace().expr(),
                metric: "DataAtRiskSeconds",
                dimensions: vec![],
                statistic: "Maximum",
                comparison: "GreaterThanThreshold",
                threshold: f64::from(m.failover.max_data_loss_seconds),
                periods: 1,
                period: 60,
                missing: "notBreaching",
            },
        ),
        raised(
            "dr_failover_held",
            "failover-held",
            "The primary is down for the confirm window but a gate holds automatic promotion: a human decides (see the page)",
            "Held",
        ),
        raised(
            "dr_split_brain",
            "split-brain",
            "split-brain risk: the old primary accepts connections while the writer authority says DR",
            "SplitBrainRisk",
        ),
        occurrences(
            m,
            side,
            "dr_workflow_failed".into(),
            "workflow-failed",
            "The failover workflow failed (see its page)".into(),
            ("AWS/States", "ExecutionsFailed"),
            machine(),
        ),
        occurrences(
            m,
            side,
            "dr_workflow_timed_out".into(),
            "workflow-timed-out",
            "The failover workflow timed out".into(),
            ("AWS/States", "ExecutionsTimedOut"),
            machine(),
        ),
    ]
}
