//! The RUNBOOK.md of the output directory: the on-call procedures with this rendering's
//! regions, names and numbers, and the page → action table. The table's rows live in
//! `pages.json` (one per page subject, alarm kind and notifying EventBridge rule); this module
//! shows those that the rendering contains, reading the alarms and rules from the rendered
//! configuration itself, so that the table cannot name an alarm that is not there.
//!
//! AWS behaviour the procedures rely on:
//! - a Lambda function's payload from a file with `fileb://` is passed as it is by versions 1
//!   and 2 of the AWS CLI (version 2 reads an inline blob as base64 unless told otherwise, and
//!   version 1 does not know `--cli-binary-format`):
//!   https://docs.aws.amazon.com/cli/v1/userguide/cli-usage-parameters-file.html,
//!   https://docs.aws.amazon.com/cli/latest/userguide/cliv2-migration-changes.html;
//! - the CLI's read timeout (60 s by default) retries a synchronous invocation that takes
//!   longer, so the monitor's commands wait longer than the function's timeout:
//!   https://repost.aws/knowledge-center/lambda-function-retry-timeout-sdk;
//! - a reserved concurrency of 0 throttles every new invocation of a function, and does not
//!   stop one in progress: https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html;
//! - `aws logs tail` exists only in version 2 of the CLI; `filter-log-events` in both.

use std::collections::BTreeMap;

use askama::Template;
use hcl::expr::{Expression, TemplateExpr};
use serde::Deserialize;

use super::Doc;
use crate::config::FailoverMode;
use crate::model::{Side, Topology};
use crate::naming::{Function, SUFFIX_VAR};

/// `pages.json`: what each page, alarm and notification means and what to do about it.
#[derive(Deserialize)]
struct Pages {
    subjects: Vec<SubjectRow>,
    alarms: Vec<AlarmRow>,
    rules: Vec<RuleRow>,
}

#[derive(Deserialize)]
struct SubjectRow {
    subject: String,
    /// Who sends it: `monitor`, `workflow` or `state machine`.
    from: String,
    /// Only in renderings with this setting: `manual` or `dry-run`.
    #[serde(default)]
    when: Option<String>,
    #[serde(flatten)]
    action: Action,
}

#[derive(Deserialize)]
struct AlarmRow {
    /// The alarm's kind: its name less `<name>-` and `-<region role>-<suffix>`.
    alarm: String,
    #[serde(flatten)]
    action: Action,
    /// The DR-region alarms that say the same when this one's region is down.
    instead: Vec<String>,
}

#[derive(Deserialize)]
struct RuleRow {
    rule: String,
    #[serde(flatten)]
    action: Action,
}

#[derive(Deserialize)]
struct Action {
    means: String,
    check: String,
    #[serde(rename = "do")]
    act: String,
}

fn pages() -> Pages {
    serde_json::from_str(include_str!("pages.json")).expect("pages.json is valid")
}

/// An alarm or a notifying rule as rendered: its kind, region role and name (with the suffix).
#[derive(Clone)]
struct Rendered {
    kind: String,
    side: Side,
    name: String,
}

/// The kind and region role in a rendered name `<name>-<kind>-<side>-${var.environment_suffix}`.
fn parse_name(m: &Topology, template: &str) -> Option<(String, Side)> {
    let rest =
        template.strip_prefix(&format!("{}-", m.name))?.strip_suffix(&format!("-${{{SUFFIX_VAR}}}"))?;
    let (kind, side) = rest.rsplit_once('-')?;
    let side = Side::BOTH.into_iter().find(|s| s.label() == side)?;
    Some((kind.to_string(), side))
}

fn quoted(e: &Expression) -> Option<&str> {
    match e {
        Expression::TemplateExpr(t) => match t.as_ref() {
            TemplateExpr::QuotedString(s) => Some(s),
            TemplateExpr::Heredoc(_) => None,
        },
        Expression::String(s) => Some(s),
        _ => None,
    }
}

fn get<'a>(body: &'a hcl::Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(hcl::Attribute::expr)
}

fn text(e: &Expression) -> String {
    hcl::format::to_string(e).unwrap_or_default()
}

/// Every rendered metric alarm.
fn alarms(m: &Topology, doc: &Doc) -> Vec<Rendered> {
    let suffix = m.suffix.as_str();
    let mut found: Vec<Rendered> = doc
        .resources("aws_cloudwatch_metric_alarm")
        .filter_map(|(_, body)| {
            let name = quoted(get(body, "alarm_name")?)?;
            let (kind, side) = parse_name(m, name)?;
            Some(Rendered { kind, side, name: name.replace(&format!("${{{SUFFIX_VAR}}}"), suffix) })
        })
        .collect();
    found.sort_by(|a, b| (a.side, &a.name).cmp(&(b.side, &b.name)));
    found
}

/// Every rendered EventBridge rule whose target is an alerts topic.
fn notifying_rules(m: &Topology, doc: &Doc) -> Vec<Rendered> {
    let rules: BTreeMap<String, String> = doc
        .resources("aws_cloudwatch_event_rule")
        .filter_map(|(label, body)| Some((label.to_string(), quoted(get(body, "name")?)?.to_string())))
        .collect();
    let mut found = Vec::new();
    for (_, body) in doc.resources("aws_cloudwatch_event_target") {
        let (Some(arn), Some(rule)) = (get(body, "arn"), get(body, "rule")) else { continue };
        if !(text(arn).starts_with("aws_sns_topic.") && text(arn).ends_with("_alerts.arn")) {
            continue;
        }
        let label =
            text(rule).trim_start_matches("aws_cloudwatch_event_rule.").trim_end_matches(".name").to_string();
        let Some(name) = rules.get(&label) else { continue };
        if let Some((kind, side)) = parse_name(m, name) {
            found.push(Rendered {
                kind,
                side,
                name: name.replace(&format!("${{{SUFFIX_VAR}}}"), m.suffix.as_str()),
            });
        }
    }
    found.sort_by(|a, b| (a.side, &a.name).cmp(&(b.side, &b.name)));
    found
}

/// Replaces every `<<key>>` with its value; a key without a value is a bug in pages.json.
fn fill(text: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<<") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find(">>").expect("a closed placeholder") + start;
        let key = &rest[start + 2..end];
        let value = values.get(key).unwrap_or_else(|| panic!("pages.json: unknown placeholder <<{key}>>"));
        out.push_str(value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// One line of the page → action table.
struct Row {
    page: String,
    arrives: String,
    means: String,
    check: String,
    act: String,
}

/// A primary-region alarm and the DR-region alarms to expect instead when that region is down.
struct Instead {
    alarm: String,
    dr: String,
}

#[derive(Template)]
#[template(path = "output-runbook.md", escape = "none")]
struct Runbook {
    name: String,
    suffix: String,
    primary_region: String,
    dr_region: String,
    primary_db: String,
    replica_db: String,
    dns_name: String,
    private_zone: bool,
    monitor: String,
    guard: String,
    guard_rule: String,
    workflow: String,
    state_machine: String,
    state_machine_log_group: String,
    topic_primary: String,
    topic_dr: String,
    namespace: String,
    table: String,
    schedule_rule: String,
    fence_group: String,
    secret: String,
    rotation_function: String,
    alarm_tail: String,
    retired: bool,
    module_layout: bool,
    /// Where the steps of the apply after a failover are written.
    apply_after: String,
    manual: bool,
    dry_run: bool,
    monitor_reserved: Option<u32>,
    confirm: u32,
    rpo: u32,
    monitor_timeout: u32,
    schedule_minutes: u32,
    rotation_days: u16,
    reroute: u32,
    promotion_start: u32,
    guard_interval: u32,
    silence: u32,
    short_path: u32,
    rows: Vec<Row>,
    instead: Vec<Instead>,
}

/// The rendered RUNBOOK.md. Reads the alarms and rules from `doc`, so call it once the
/// configuration is complete.
pub fn render(m: &Topology, doc: &Doc, layout: super::Layout) -> String {
    let s = m.suffix.as_str();
    let n = &m.names;
    let retired = m.database.primary_retired;
    let monitor = n.function(Function::Monitor, Side::Dr).with_suffix(s);
    let topic = |side: Side| n.topic(side).with_suffix(s);
    let region = |side: Side| m.region(side).region.to_string();
    let db = |side: Side| n.db_identifier(side).with_suffix(s);

    let mut values: BTreeMap<&str, String> = BTreeMap::new();
    values.insert("prefix", format!("{}-", m.name));
    values.insert("suffix", s.to_string());
    values.insert("primary", region(Side::Primary));
    values.insert("dr", region(Side::Dr));
    values.insert("primary_db", db(Side::Primary));
    values.insert("replica", db(Side::Dr));
    values.insert("fence_apply", crate::rto::SG_APPLY_SECONDS.to_string());
    values.insert("table", n.failover_table().with_suffix(s));
    values.insert("state_machine", n.state_machine().with_suffix(s));
    values.insert("workflow", n.function(Function::Failover, Side::Dr).with_suffix(s));
    values.insert("schedule_rule", n.rule("monitor-schedule", Side::Dr).with_suffix(s));
    values.insert("confirm", m.failover.confirm_seconds.to_string());
    values.insert("lag", m.failover.lag_threshold_seconds.to_string());
    values.insert("rpo", m.failover.max_data_loss_seconds.to_string());
    values.insert("expiry", m.failover.recovery_event_expiry_seconds.to_string());
    values.insert("promotion_bound", super::stepfunctions::PROMOTION_BOUND_SECONDS.to_string());
    values.insert("cpu", m.monitoring.cpu_threshold_percent.to_string());
    values.insert("storage", m.monitoring.free_storage_threshold_gb.to_string());

    let pages = pages();
    let mut rows = Vec::new();
    for row in &pages.subjects {
        let shown = match row.from.as_str() {
            "monitor" | "lease keeper" => !retired,
            _ => true,
        } && match row.when.as_deref() {
            Some("manual") => m.failover.mode == FailoverMode::Manual,
            Some("dry-run") => m.failover.dry_run,
            Some("arc") => m.failover.arc.is_some(),
            _ => true,
        };
        // The lease keeper pages in its own region, the primary's.
        let side = if row.from == "lease keeper" { Side::Primary } else { Side::Dr };
        if shown {
            rows.push(Row {
                page: format!("`{}`", row.subject),
                arrives: format!("`{}` ({}), from the {}", topic(side), region(side), row.from),
                means: fill(&row.action.means, &values),
                check: fill(&row.action.check, &values),
                act: fill(&row.action.act, &values),
            });
        }
    }
    let rendered_alarms = alarms(m, doc);
    let mut instead = Vec::new();
    for alarm in &rendered_alarms {
        let mut values = values.clone();
        values.insert("side", alarm.side.label().to_string());
        values.insert("region", region(alarm.side));
        values.insert("db", db(alarm.side));
        let found = pages.alarms.iter().find(|r| r.alarm == alarm.kind);
        let (means, check, act) = found.map_or_else(
            || {
                // tests/runbook.rs keeps every rendered kind in pages.json; this only keeps a
                // rendering of an unforeseen model from failing.
                ("(no entry: read the alarm's description)".to_string(), String::new(), String::new())
            },
            |r| {
                (fill(&r.action.means, &values), fill(&r.action.check, &values), fill(&r.action.act, &values))
            },
        );
        rows.push(Row {
            page: format!("alarm `{}`", alarm.name),
            arrives: format!("`{}` ({})", topic(alarm.side), region(alarm.side)),
            means,
            check,
            act,
        });
        if alarm.side == Side::Primary {
            let dr: Vec<String> = found
                .map(|r| r.instead.clone())
                .unwrap_or_default()
                .iter()
                .filter_map(|kind| {
                    rendered_alarms
                        .iter()
                        .find(|a| a.side == Side::Dr && &a.kind == kind)
                        .map(|a| format!("`{}`", a.name))
                })
                .collect();
            instead.push(Instead {
                alarm: alarm.name.clone(),
                dr: if dr.is_empty() {
                    "none: the DR side cannot observe it".to_string()
                } else {
                    dr.join(", ")
                },
            });
        }
    }
    for rule in notifying_rules(m, doc) {
        let found = pages.rules.iter().find(|r| r.rule == rule.kind);
        if let Some(r) = found {
            rows.push(Row {
                page: format!("event from rule `{}`", rule.name),
                arrives: format!("`{}` ({})", topic(rule.side), region(rule.side)),
                means: fill(&r.action.means, &values),
                check: fill(&r.action.check, &values),
                act: fill(&r.action.act, &values),
            });
        }
    }

    Runbook {
        name: m.name.clone(),
        suffix: s.to_string(),
        primary_region: region(Side::Primary),
        dr_region: region(Side::Dr),
        primary_db: db(Side::Primary),
        replica_db: db(Side::Dr),
        dns_name: m.dns.fqdn(),
        private_zone: m.dns.private_zone,
        monitor,
        guard: n.function(Function::Guard, Side::Primary).with_suffix(s),
        guard_rule: n.rule("guard-schedule", Side::Primary).with_suffix(s),
        workflow: values["workflow"].clone(),
        state_machine: values["state_machine"].clone(),
        state_machine_log_group: n.state_machine_log_group().with_suffix(s),
        topic_primary: topic(Side::Primary),
        topic_dr: topic(Side::Dr),
        namespace: n.metric_namespace().with_suffix(s),
        table: values["table"].clone(),
        schedule_rule: values["schedule_rule"].clone(),
        fence_group: n.regional_purpose("fenced", Side::Primary).with_suffix(s),
        secret: n.secret().with_suffix(s),
        rotation_function: n.rotation_function(Side::Dr).with_suffix(s),
        alarm_tail: format!("-{}-{s}", Side::Dr.label()),
        retired,
        module_layout: layout == super::Layout::Module,
        apply_after: match layout {
            super::Layout::Root => "README.md, \"Apply after the failover\"".to_string(),
            super::Layout::Module => "\"Apply after the failover\" in the README.md of the root layout (`--layout root`), with the module's address before each Terraform address".to_string(),
        },
        manual: m.failover.mode == FailoverMode::Manual,
        dry_run: m.failover.dry_run,
        monitor_reserved: m.failover.observer_reserved_concurrency.map(|_| 1),
        confirm: m.failover.confirm_seconds,
        rpo: m.failover.max_data_loss_seconds,
        monitor_timeout: m.failover.monitor_timeout_seconds(),
        schedule_minutes: m.failover.monitor_schedule_minutes,
        rotation_days: m.database.password_rotation_days,
        reroute: m.rto.reroute_seconds(),
        promotion_start: m.rto.promotion_start_seconds(),
        guard_interval: m.failover.guard_interval_seconds,
        silence: m.rto.silence,
        short_path: m.rto.short_path_seconds(),
        rows,
        instead,
    }
    .render()
    .expect("the template renders every model")
        + "\n"
}
