//! The rendered terraform/RUNBOOK.md: one per rendering, its page → action table complete both
//! ways, its DR-only sections free of the primary region, Terraform and Route 53, and every name
//! it shows one that the rendering creates. The DR region pages on its own on what the monitor
//! publishes.
//!
//! The page subjects come from the drgen package's source (`tests/runbook/subjects.py` reads it
//! with Python's `ast`, so a new `_page(...)`, `notify(...)`, `Action(...)` or gate shows up
//! here without a row) and from the rendered state machine; the alarms and the rules that
//! notify a topic come from the rendered Terraform of every example, both regions. The rows are
//! `src/render/pages.json`. tests/runbook/test_commands.py runs the RUNBOOK's commands.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use drgen::config::Config;
use drgen::model::Topology;
use drgen::side::Side;
use hcl::{Block, Body, Expression};
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The default topology and every config in `examples/`.
fn examples() -> Vec<(String, Option<PathBuf>)> {
    let mut list = vec![("default".to_string(), None)];
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hcl" || e == "json"))
        .collect();
    paths.sort();
    list.extend(paths.into_iter().map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), Some(p))));
    list
}

fn model(config: Option<&Path>) -> Topology {
    let config = config.map_or_else(Config::default, |p| Config::load(p).unwrap());
    Topology::from_config(&config, Some("prod")).unwrap()
}

struct Rendering {
    name: String,
    model: Topology,
    runbook: String,
    tf: Vec<Body>,
    /// Every .tf file's text, with the suffix filled in.
    text: String,
}

fn renderings() -> Vec<Rendering> {
    examples()
        .into_iter()
        .map(|(name, config)| {
            let model = model(config.as_deref());
            let files = drgen::render::render(&model).files;
            let runbook = String::from_utf8(files["RUNBOOK.md"].clone()).unwrap();
            let mut tf = Vec::new();
            let mut text = String::new();
            for (path, bytes) in &files {
                if !path.contains('/') && Path::new(path).extension().is_some_and(|e| e == "tf") {
                    let t = std::str::from_utf8(bytes).unwrap();
                    tf.push(hcl::parse(t).unwrap());
                    text.push_str(&t.replace("${var.environment_suffix}", "prod"));
                }
            }
            Rendering { name, model, runbook, tf, text }
        })
        .collect()
}

fn resources<'a>(r: &'a Rendering, kind: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
    r.tf.iter()
        .flat_map(Body::blocks)
        .filter(move |b| b.identifier() == "resource" && b.labels()[0].as_str() == kind)
}

fn attr<'a>(block: &'a Block, key: &str) -> Option<&'a Expression> {
    block.body().attributes().find(|a| a.key() == key).map(hcl::Attribute::expr)
}

/// A quoted string or template, as written.
fn string(e: &Expression) -> String {
    match e {
        Expression::String(s) => s.clone(),
        Expression::TemplateExpr(t) => t.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

fn expression_text(e: &Expression) -> String {
    hcl::format::to_string(e).unwrap()
}

/// (kind, side, name with the suffix) of a name `<name>-<kind>-<side>-${var.environment_suffix}`.
fn kind_of(r: &Rendering, template: &str) -> (String, Side, String) {
    let rest = template
        .strip_prefix(&format!("{}-", r.model.name))
        .and_then(|t| t.strip_suffix("-${var.environment_suffix}"))
        .unwrap_or_else(|| panic!("{}: {template} is not <name>-<kind>-<side>-<suffix>", r.name));
    let (kind, side) = rest.rsplit_once('-').unwrap();
    let side =
        Side::BOTH.into_iter().find(|s| s.label() == side).unwrap_or_else(|| panic!("{template}: side"));
    (kind.to_string(), side, template.replace("${var.environment_suffix}", "prod"))
}

fn alarms(r: &Rendering) -> Vec<(String, Side, String)> {
    resources(r, "aws_cloudwatch_metric_alarm")
        .map(|b| kind_of(r, &string(attr(b, "alarm_name").unwrap())))
        .collect()
}

/// The EventBridge rules whose target is an alerts topic.
fn notifying_rules(r: &Rendering) -> Vec<(String, Side, String)> {
    let names: BTreeMap<String, String> = resources(r, "aws_cloudwatch_event_rule")
        .map(|b| (b.labels()[1].as_str().to_string(), string(attr(b, "name").unwrap())))
        .collect();
    resources(r, "aws_cloudwatch_event_target")
        .filter(|b| {
            let arn = expression_text(attr(b, "arn").unwrap());
            arn.starts_with("aws_sns_topic.") && arn.ends_with("_alerts.arn")
        })
        .map(|b| {
            let rule = expression_text(attr(b, "rule").unwrap());
            let label = rule.trim_start_matches("aws_cloudwatch_event_rule.").trim_end_matches(".name");
            kind_of(r, &names[label])
        })
        .collect()
}

/// Every `"Subject": "..."` in the rendered state machine's definition.
fn state_machine_subjects(r: &Rendering) -> BTreeSet<String> {
    fn walk(e: &Expression, found: &mut BTreeSet<String>) {
        match e {
            Expression::Object(o) => {
                for (k, v) in o {
                    let key = match k {
                        hcl::ObjectKey::Identifier(i) => i.to_string(),
                        hcl::ObjectKey::Expression(e) => expression_text(e).trim_matches('"').to_string(),
                        _ => String::new(),
                    };
                    if key == "Subject" {
                        found.insert(string(v));
                    }
                    walk(v, found);
                }
            }
            Expression::Array(items) => items.iter().for_each(|i| walk(i, found)),
            _ => {}
        }
    }
    let mut found = BTreeSet::new();
    for block in r.tf.iter().flat_map(Body::blocks).filter(|b| b.identifier() == "locals") {
        for a in block.body().attributes() {
            walk(a.expr(), &mut found);
        }
    }
    found
}

/// The package's page subjects, with the file that sends each, from tests/runbook/subjects.py.
fn package_subjects(package: &Path) -> Result<Vec<(String, String)>, String> {
    let out = Command::new("python3")
        .arg(root().join("tests/runbook/subjects.py"))
        .arg(package)
        .output()
        .expect("python3 runs");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    Ok(found
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["subject"].as_str().unwrap().to_string(), s["file"].as_str().unwrap().to_string()))
        .collect())
}

fn pages() -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("src/render/pages.json")).unwrap()).unwrap()
}

fn rows<'a>(pages: &'a Value, list: &str, key: &str) -> Vec<(&'a str, &'a Value)> {
    pages[list].as_array().unwrap().iter().map(|r| (r[key].as_str().unwrap(), r)).collect()
}

/// Who sends a subject, as pages.json names it, from the file it is in.
fn sender(file: &str) -> &'static str {
    match file {
        "fsm.py" | "monitor.py" => "monitor",
        "workflow.py" => "workflow",
        "lease.py" => "lease keeper",
        "observer.py" => "observer",
        other => panic!("a page subject in {other}: say in tests/runbook.rs who sends it"),
    }
}

#[test]
fn every_rendering_has_a_runbook_and_the_module_layout_the_same() {
    for r in renderings() {
        assert!(r.runbook.starts_with("# On-call runbook: "), "{}", r.name);
        assert!(
            !r.runbook.contains("<<") && !r.runbook.contains("(no entry"),
            "{}: a placeholder or a row is missing",
            r.name
        );
    }
    // The module layout's differs only where the root layout's README.md is referred to.
    let m = model(None);
    let module = String::from_utf8(
        drgen::render::render_layout(&m, drgen::render::Layout::Module).files["RUNBOOK.md"].clone(),
    )
    .unwrap();
    let root_runbook = String::from_utf8(drgen::render::render(&m).files["RUNBOOK.md"].clone()).unwrap();
    let differing: Vec<(&str, &str)> =
        module.lines().zip(root_runbook.lines()).filter(|(a, b)| a != b).collect();
    assert!(!differing.is_empty() && differing.len() <= 6, "{differing:#?}");
    for (line, _) in differing {
        assert!(line.contains("root layout") || line.contains("module") || line.contains("root's"), "{line}");
    }
}

#[test]
fn every_page_subject_has_a_row_and_every_subject_row_a_sender() {
    let pages = pages();
    let mut sources: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (subject, file) in package_subjects(&root().join("lambda/drgen_lambda")).unwrap() {
        sources.entry(subject).or_default().insert(sender(&file).to_string());
    }
    for r in renderings() {
        for subject in state_machine_subjects(&r) {
            sources.entry(subject).or_default().insert("state machine".into());
        }
    }
    assert!(sources.len() >= 20, "only {} subjects found: {sources:?}", sources.len());
    let rows: BTreeMap<&str, &Value> = rows(&pages, "subjects", "subject").into_iter().collect();
    let missing: Vec<&String> = sources.keys().filter(|s| !rows.contains_key(s.as_str())).collect();
    assert!(missing.is_empty(), "page subjects without a row in src/render/pages.json: {missing:#?}");
    let orphans: Vec<&&str> = rows.keys().filter(|s| !sources.contains_key(**s)).collect();
    assert!(orphans.is_empty(), "rows of src/render/pages.json for subjects nothing sends: {orphans:#?}");
    for (subject, senders) in &sources {
        let from = rows[subject.as_str()]["from"].as_str().unwrap();
        assert!(
            senders.contains(from),
            "{subject}: the row says it comes from the {from}, the source from {senders:?}"
        );
    }
}

#[test]
fn every_alarm_and_notifying_rule_has_a_row_and_every_row_its_alarm() {
    let pages = pages();
    let rendered = renderings();
    for (list, key, found) in [
        ("alarms", "alarm", rendered.iter().flat_map(alarms).collect::<Vec<_>>()),
        ("rules", "rule", rendered.iter().flat_map(notifying_rules).collect()),
    ] {
        let kinds: BTreeSet<&str> = found.iter().map(|(k, _, _)| k.as_str()).collect();
        let rows: BTreeSet<&str> = rows(&pages, list, key).into_iter().map(|(k, _)| k).collect();
        let missing: Vec<&&str> = kinds.difference(&rows).collect();
        assert!(missing.is_empty(), "{list} without a row in src/render/pages.json: {missing:?}");
        let orphans: Vec<&&str> = rows.difference(&kinds).collect();
        assert!(orphans.is_empty(), "rows for {list} that no rendering has: {orphans:?}");
        // Both regions are covered.
        for side in Side::BOTH {
            assert!(found.iter().any(|(_, s, _)| *s == side), "no {list} in the {side} region");
        }
    }
    for (kind, row) in rows(&pages, "alarms", "alarm") {
        for instead in row["instead"].as_array().unwrap() {
            let instead = instead.as_str().unwrap();
            assert!(
                rendered.iter().flat_map(alarms).any(|(k, s, _)| k == instead && s == Side::Dr),
                "{kind}: `instead` names {instead}, which no rendering has in the DR region"
            );
        }
    }
}

/// The rows of the RUNBOOK's table, by their first cell.
fn table(runbook: &str) -> Vec<String> {
    let start = runbook.find("| page | arrives on |").expect("the page table");
    runbook[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.split(" | ").next().unwrap().trim_start_matches("| ").to_string())
        .collect()
}

#[test]
fn each_runbook_lists_exactly_the_pages_alarms_and_rules_of_its_rendering() {
    let pages = pages();
    let subjects: Vec<(String, String)> = package_subjects(&root().join("lambda/drgen_lambda")).unwrap();
    for r in renderings() {
        let shown: BTreeSet<String> = table(&r.runbook).into_iter().collect();
        let mut expected = BTreeSet::new();
        for (_, _, name) in alarms(&r) {
            expected.insert(format!("alarm `{name}`"));
        }
        for (_, _, name) in notifying_rules(&r) {
            expected.insert(format!("event from rule `{name}`"));
        }
        let monitor = !r.model.database.primary_retired;
        for (subject, row) in rows(&pages, "subjects", "subject") {
            let applies = match row["from"].as_str().unwrap() {
                "monitor" | "lease keeper" => monitor,
                _ => true,
            } && match row.get("when").and_then(Value::as_str) {
                Some("manual") => r.model.failover.mode == drgen::config::FailoverMode::Manual,
                Some("dry-run") => r.model.failover.dry_run,
                Some("arc") => r.model.failover.arc.is_some(),
                Some(other) => panic!("{subject}: unknown condition {other}"),
                None => true,
            };
            if applies {
                expected.insert(format!("`{subject}`"));
            }
        }
        assert_eq!(shown, expected, "{}: the RUNBOOK's table and the rendering disagree", r.name);
        // A rendering with a monitor shows every subject the package sends (but the modal ones,
        // and the lease keeper's without the ARC authority).
        if monitor {
            for (subject, file) in &subjects {
                let modal = subject.ends_with("(manual)")
                    || subject == "drgen failover dry run"
                    || (file == "lease.py" && r.model.failover.arc.is_none());
                assert!(modal || shown.contains(&format!("`{subject}`")), "{}: {subject} missing", r.name);
            }
        }
    }
}

/// `## ` sections: (heading, body).
fn sections(runbook: &str) -> Vec<(String, String)> {
    runbook
        .split("\n## ")
        .skip(1)
        .map(|part| {
            let (heading, body) = part.split_once('\n').unwrap_or((part, ""));
            (heading.trim().to_string(), body.to_string())
        })
        .collect()
}

/// The commands of a section: lines of fenced blocks (less comments), and code spans that start
/// with `aws ` or `terraform `.
fn commands(body: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut fenced = false;
    for line in body.lines() {
        let line = line.trim();
        if line.starts_with("```") {
            fenced = !fenced;
        } else if fenced {
            if !line.is_empty() && !line.starts_with('#') {
                found.push(line.to_string());
            }
        } else {
            found.extend(
                line.split('`')
                    .skip(1)
                    .step_by(2)
                    .filter(|s| s.starts_with("aws ") || s.starts_with("terraform "))
                    .map(str::to_string),
            );
        }
    }
    found
}

/// The `aws <service> ...` invocations in a command line (also inside `$(...)` and pipes), each
/// as its words up to the next `)` or `|`.
fn aws_calls(line: &str) -> Vec<Vec<String>> {
    let mut calls = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("aws ") {
        let at_command = i == 0 || rest[..i].ends_with("$(") || rest[..i].trim_end().ends_with('|');
        let tail = &rest[i..];
        if at_command {
            let end = tail.find(['|', ')']).unwrap_or(tail.len());
            calls.push(tail[..end].split_whitespace().map(str::to_string).collect());
        }
        rest = &tail[4..];
    }
    calls
}

/// Services whose endpoints are global or live in us-east-1 (Route 53's control plane, IAM,
/// global STS, Organizations, CloudFront), which a DR-only step must not need.
const GLOBAL_SERVICES: [&str; 7] =
    ["route53", "route53domains", "iam", "sts", "organizations", "cloudfront", "globalaccelerator"];

#[test]
fn dr_only_sections_name_only_the_dr_region_and_need_no_terraform_or_route53() {
    let mut checked = 0;
    for r in renderings() {
        let dr = r.model.dr.region.to_string();
        let primary = r.model.primary.region.to_string();
        for (heading, body) in sections(&r.runbook) {
            let dr_only = body.contains("**DR region only.**");
            let on_purpose = body.contains(&format!("**Acts on {primary} on purpose"));
            let lines = commands(&body);
            assert!(
                lines.is_empty() || dr_only || on_purpose,
                "{}: {heading} has commands but no region label",
                r.name
            );
            for line in &lines {
                for call in aws_calls(line) {
                    let regions: Vec<&String> =
                        call.windows(2).filter(|w| w[0] == "--region").map(|w| &w[1]).collect();
                    assert_eq!(
                        regions.len(),
                        1,
                        "{}: {heading}: `{}` must name one region",
                        r.name,
                        call.join(" ")
                    );
                    assert!(!call.iter().any(|w| w == "--endpoint-url"), "{}: {line}", r.name);
                    if dr_only {
                        assert_eq!(regions[0], &dr, "{}: {heading} is DR region only: {line}", r.name);
                        assert!(
                            !GLOBAL_SERVICES.contains(&call[1].as_str()),
                            "{}: {heading}: {line}",
                            r.name
                        );
                        checked += 1;
                    }
                }
                if dr_only {
                    assert!(!line.contains(&primary), "{}: {heading} is DR region only: {line}", r.name);
                    let first = line.split_whitespace().next().unwrap_or_default();
                    assert!(first != "terraform", "{}: {heading} is DR region only: {line}", r.name);
                    assert!(!line.contains("route53"), "{}: {heading}: {line}", r.name);
                }
            }
        }
    }
    assert!(checked > 60, "only {checked} DR-region commands checked");
}

#[test]
fn every_name_the_runbook_shows_is_one_its_rendering_creates() {
    for r in renderings() {
        let prefix = format!("{}-", r.model.name);
        let mut checked = 0;
        let mut rest = r.runbook.as_str();
        while let Some(i) = rest.find(&prefix) {
            let before = rest[..i].chars().next_back();
            let word: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
                .collect();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-') {
                continue;
            }
            // `<name>-...-prod`, less a tail the RUNBOOK adds itself (the diverged snapshot).
            let Some(end) = word.rfind("-prod") else { continue };
            let name = &word[..end + "-prod".len()];
            assert!(
                r.text.contains(name),
                "{}: the RUNBOOK names {name}, which its rendering does not create",
                r.name
            );
            checked += 1;
        }
        assert!(checked >= 10, "{}: only {checked} names found", r.name);
        // A retired primary has no monitor: the RUNBOOK must not name one.
        let monitor = format!("{prefix}monitor-dr-prod");
        assert_eq!(r.runbook.contains(&monitor), r.text.contains(&monitor), "{}: {monitor}", r.name);
    }
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn every_link_of_the_runbook_leads_to_one_of_its_sections() {
    for r in renderings() {
        let anchors: BTreeSet<String> = sections(&r.runbook).iter().map(|(h, _)| slug(h)).collect();
        let mut links = 0;
        for part in r.runbook.split("](#").skip(1) {
            let anchor = part.split(')').next().unwrap();
            assert!(
                anchors.contains(anchor),
                "{}: a link to #{anchor}, which is no section: {anchors:?}",
                r.name
            );
            links += 1;
        }
        assert!(links >= 5, "{}: only {links} links", r.name);
    }
}

#[test]
fn the_dr_region_pages_on_its_own_on_what_the_monitor_publishes() {
    // What the monitor puts with put_metrics (monitor.py, workflow.py), and the alarm on each.
    let published = ["WriterIsDr", "PrimaryReachable", "Held", "SplitBrainRisk", "DataAtRiskSeconds"];
    let monitor = std::fs::read_to_string(root().join("lambda/drgen_lambda/monitor.py")).unwrap();
    for metric in published {
        assert!(monitor.contains(&format!("(\"{metric}\"")), "the monitor no longer publishes {metric}");
    }
    for r in renderings().into_iter().filter(|r| !r.model.database.primary_retired) {
        let namespace = format!("drgen/{}-${{var.environment_suffix}}", r.model.name);
        for metric in published {
            let alarm = resources(&r, "aws_cloudwatch_metric_alarm").find(|b| {
                attr(b, "metric_name").map(string).as_deref() == Some(metric)
                    && attr(b, "namespace").map(string) == Some(namespace.clone())
                    && attr(b, "dimensions").is_none()
            });
            let alarm = alarm.unwrap_or_else(|| panic!("{}: no DR alarm on {metric}", r.name));
            assert_eq!(expression_text(attr(alarm, "provider").unwrap()), "aws.dr", "{}: {metric}", r.name);
            assert_eq!(
                expression_text(attr(alarm, "alarm_actions").unwrap()).split_whitespace().collect::<String>(),
                "[aws_sns_topic.dr_alerts.arn]",
                "{}: {metric} must page the DR topic",
                r.name
            );
        }
    }
}

/// A package with the paging calls the other parts of drgen use, for the extractor itself.
const FAKE_FSM: &str = r#"
"""drgen: a docstring is not a subject."""
class Gate:
    pass
def gate(x):
    if x == 1:
        return Gate("partition", "m", True)
    if x == 2:
        return Gate("veto", "m", False)
    if x == 3:
        return Gate("dry-run", "m")
    return Gate("flapping", "m")
def _hold(state, g):
    if g.key == "dry-run":
        return _page(state, key=g.key, subject="drgen failover dry run", message="m")
    return _page(state, key=g.key, subject=f"drgen: failover held ({g.key})", message="m")
def other(self, state):
    self._throttled(state, "k", "drgen: primary flapping", "message")
    return [Action("page", "drgen: promotion under way", "m")]
"#;

#[test]
fn the_subject_extractor_finds_new_subjects_and_gates_and_refuses_what_it_cannot_expand() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fsm.py"), FAKE_FSM).unwrap();
    let found: BTreeSet<String> = package_subjects(dir.path()).unwrap().into_iter().map(|(s, _)| s).collect();
    let expected: BTreeSet<String> = [
        "drgen failover dry run",
        "drgen: failover held (partition)",
        "drgen: failover held (flapping)",
        "drgen: primary flapping",
        "drgen: promotion under way",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    assert_eq!(found, expected);
    std::fs::write(
        dir.path().join("monitor.py"),
        "def f(self, x):\n    self._page(f\"drgen: lost {x}\", \"m\")\n",
    )
    .unwrap();
    let refused = package_subjects(dir.path()).unwrap_err();
    assert!(refused.contains("cannot expand the placeholder 'x'"), "{refused}");
}

#[test]
fn a_manual_dry_run_rendering_with_reservations_shows_its_own_pages_and_restores_its_reservation() {
    let mut config = Config::default();
    config.failover.mode = drgen::config::FailoverMode::Manual;
    config.failover.dry_run = true;
    config.failover.observer_reserved_concurrency = Some(5);
    let m = Topology::from_config(&config, Some("prod")).unwrap();
    let runbook = String::from_utf8(drgen::render::render(&m).files["RUNBOOK.md"].clone()).unwrap();
    let shown: BTreeSet<String> = table(&runbook).into_iter().collect();
    assert!(shown.contains("`drgen: failover held (manual)`"), "{shown:#?}");
    assert!(shown.contains("`drgen failover dry run`"), "{shown:#?}");
    assert!(
        runbook.contains("`failover.mode = \"manual\"`") && runbook.contains("`failover.dry_run = true`")
    );
    // The abort gives the monitor back the reservation it had (1), instead of removing it.
    assert!(runbook.contains("--function-name trading-db-monitor-dr-prod --reserved-concurrent-executions 1"));
    assert!(!runbook.contains("delete-function-concurrency"));
    // The default rendering shows neither modal page, and removes the throttle.
    let default = String::from_utf8(drgen::render::render(&model(None)).files["RUNBOOK.md"].clone()).unwrap();
    let shown: BTreeSet<String> = table(&default).into_iter().collect();
    assert!(
        !shown.contains("`drgen: failover held (manual)`") && !shown.contains("`drgen failover dry run`")
    );
    assert!(default.contains(
        "delete-function-concurrency --region us-west-2 --function-name trading-db-monitor-dr-prod"
    ));
}
