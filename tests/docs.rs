//! The docs are checked against what drgen renders: the numbers `explain` computes are
//! generated into them, and every Terraform address, output, config field, AWS name and `drgen`
//! command they mention must exist or run.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use drgen::config::Config;
use drgen::model::Topology;

const DOCS: [&str; 2] = ["README.md", "RUNBOOK.md"];
const EXAMPLES: [Option<&str>; 7] = [
    None,
    Some("examples/after-failover.hcl"),
    Some("examples/arc-authority.hcl"),
    Some("examples/cloudwatch-health-checks.hcl"),
    Some("examples/eu-regions.hcl"),
    Some("examples/existing-network.hcl"),
    Some("examples/protected.json"),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(doc: &str) -> String {
    std::fs::read_to_string(root().join(doc)).unwrap()
}

/// Checks (or, with DRGEN_BLESS set, rewrites) a generated region of a doc.
fn region(doc: &str, marker: &str, fresh: &str) {
    let path = root().join(doc);
    let text = std::fs::read_to_string(&path).unwrap();
    let begin = format!("<!-- {marker}:begin -->\n");
    let end = format!("<!-- {marker}:end -->");
    let start = text.find(&begin).unwrap_or_else(|| panic!("{doc} has no {marker} markers")) + begin.len();
    let stop = text.find(&end).unwrap();
    if std::env::var_os("DRGEN_BLESS").is_some() {
        std::fs::write(&path, format!("{}{fresh}{}", &text[..start], &text[stop..])).unwrap();
        return;
    }
    assert_eq!(
        &text[start..stop],
        fresh,
        "{doc}'s {marker} region is stale: run DRGEN_BLESS=1 cargo test --test docs"
    );
}

#[test]
fn numbers_that_explain_computes_are_generated_into_the_docs() {
    region("README.md", "recovery", &drgen::docs::readme_recovery());
    region("RUNBOOK.md", "timeline", &drgen::docs::runbook_timeline());
}

struct Rendered {
    addresses: BTreeSet<String>,
    outputs: BTreeSet<String>,
    text: String,
}

fn rendered() -> Rendered {
    let mut out = Rendered { addresses: BTreeSet::new(), outputs: BTreeSet::new(), text: String::new() };
    for example in EXAMPLES {
        let config = example.map_or_else(Config::default, |p| Config::load(&root().join(p)).unwrap());
        let model = Topology::from_config(&config, Some("prod")).unwrap();
        for (path, bytes) in &drgen::render::render(&model).files {
            if !Path::new(path).extension().is_some_and(|e| e == "tf") {
                continue;
            }
            let text = String::from_utf8_lossy(bytes).to_string();
            let body: hcl::Body = hcl::parse(&text).unwrap();
            for block in body.blocks() {
                let labels: Vec<&str> = block.labels().iter().map(hcl::BlockLabel::as_str).collect();
                match (block.identifier(), labels.as_slice()) {
                    ("resource", [kind, name]) => {
                        out.addresses.insert(format!("{kind}.{name}"));
                    }
                    ("data", [kind, name]) => {
                        out.addresses.insert(format!("data.{kind}.{name}"));
                    }
                    ("output", [name]) => {
                        out.outputs.insert((*name).to_string());
                    }
                    _ => {}
                }
            }
            out.text.push_str(&text);
        }
    }
    out
}

/// Words of the docs that look like `pattern`: runs of [a-z0-9_.] (and `-` when asked) that
/// start with `prefix`.
fn mentions(prefix: &str, dashes: bool) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for doc in DOCS {
        let text = read(doc);
        let mut rest = text.as_str();
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().next_back();
            let word: String = rest[i..]
                .chars()
                .take_while(|c| {
                    c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || *c == '_'
                        || *c == '.'
                        || (dashes && (*c == '-' || *c == '<' || *c == '>' || c.is_ascii_uppercase()))
                })
                .collect();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/') {
                continue;
            }
            found.insert(word.trim_end_matches('.').to_string());
        }
    }
    found
}

#[test]
fn every_terraform_address_the_docs_mention_is_rendered() {
    let r = rendered();
    let mut checked = 0;
    for address in mentions("aws_", false) {
        let parts: Vec<&str> = address.split('.').collect();
        if parts.len() < 2 || parts[1].is_empty() {
            continue; // a resource type alone, such as aws_db_instance
        }
        checked += 1;
        let base = format!("{}.{}", parts[0], parts[1]);
        assert!(
            r.addresses.contains(&base) || r.addresses.contains(&format!("data.{base}")),
            "the docs mention {address}, which no rendering has"
        );
    }
    assert!(checked >= 1, "no Terraform address found in the docs");
}

#[test]
fn every_output_the_docs_name_exists() {
    let r = rendered();
    let mut named = BTreeSet::new();
    for doc in DOCS {
        let text = read(doc);
        for part in text.split("output").skip(1) {
            let part = part.trim_start_matches('s').trim_start();
            // `output `name``, `outputs `a` and `b``, `terraform output -raw name`.
            for piece in part.split_whitespace().take(4) {
                let word = piece.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_');
                if word.contains('_') && word.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    named.insert(word.to_string());
                }
            }
        }
    }
    assert!(named.contains("writer_dns_name"), "{named:?}");
    for name in named {
        assert!(r.outputs.contains(&name), "the docs name the output {name}, which is not rendered");
    }
}

#[test]
fn every_config_field_the_docs_name_exists() {
    let fields: BTreeSet<String> = drgen::starter::settings().into_iter().map(|s| s.path).collect();
    let mut checked = 0;
    for doc in DOCS {
        let text = read(doc);
        for quoted in text.split('`').skip(1).step_by(2) {
            let head = quoted.split([' ', '=']).next().unwrap_or_default();
            let top = head.split('.').next().unwrap_or_default();
            let sections = ["primary", "dr", "database", "dns", "failover", "monitoring", "backup", "state"];
            if head.contains('.')
                && sections.contains(&top)
                && head.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
            {
                assert!(fields.contains(head), "{doc} names the config field {head}, which does not exist");
                checked += 1;
            }
        }
    }
    assert!(checked > 10, "only {checked} config fields found in the docs");
}

#[test]
fn every_aws_name_the_docs_show_is_one_drgen_creates() {
    let config = Config::default();
    let model = Topology::from_config(&config, Some("prod")).unwrap();
    let names: BTreeSet<String> = model.names.all().iter().map(|n| n.with_suffix("<S>")).collect();
    let mut checked = 0;
    for name in mentions("trading-db-", true) {
        let generic = name.replace("-drill", "-<S>").replace("-prod", "-<S>");
        if !generic.ends_with("-<S>") {
            continue;
        }
        checked += 1;
        assert!(names.contains(&generic), "the docs show the AWS name {name}, which drgen does not create");
    }
    assert!(checked >= 5, "only {checked} AWS names found in the docs");
}

/// The `drgen` commands the docs show: in code spans and in fenced code blocks.
fn commands(doc: &str) -> Vec<String> {
    let text = read(doc);
    let mut candidates: Vec<String> = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            candidates.push(line.trim().to_string());
        } else {
            candidates.extend(line.split('`').skip(1).step_by(2).map(str::to_string));
        }
    }
    candidates
        .into_iter()
        .filter_map(|c| {
            let start = if c.starts_with("drgen ") { Some(0) } else { c.find("&& drgen ").map(|i| i + 3) }?;
            let command =
                c[start + "drgen ".len()..].split(" &&").next().unwrap().split(" #").next().unwrap();
            Some(command.trim().to_string())
        })
        // Page subjects such as `drgen failover dry run` are not commands.
        .filter(|c| {
            ["render", "validate", "explain", "init", "schema"].contains(&c.split(' ').next().unwrap_or(""))
        })
        .collect()
}

#[test]
fn every_drgen_command_in_the_docs_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut ran = 0;
    for doc in DOCS {
        for command in commands(doc) {
            let args: Vec<String> = command
                .split_whitespace()
                .filter(|a| !a.starts_with('[') && !a.ends_with(']'))
                .map(|a| match a {
                    "S" | "<S>" | "<suffix>" => "prod".to_string(),
                    "F" | "drgen.hcl" => root().join("examples/eu-regions.hcl").display().to_string(),
                    "DIR" => dir.path().join("out").display().to_string(),
                    "PATH" => dir.path().join("new/drgen.hcl").display().to_string(),
                    other => other.to_string(),
                })
                .collect();
            if args.is_empty() || args.iter().any(|a| a.contains('<') || a.contains('|')) {
                continue;
            }
            let out = Command::new(env!("CARGO_BIN_EXE_drgen"))
                .args(&args)
                .current_dir(dir.path())
                .output()
                .unwrap();
            let code = out.status.code().unwrap();
            // --check may find differences (1); everything else must succeed.
            let allowed = code == 0 || (code == 1 && args.iter().any(|a| a == "--check"));
            assert!(
                allowed,
                "{doc}: drgen {command} exited {code}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            ran += 1;
        }
    }
    assert!(ran >= 5, "only {ran} drgen commands found in the docs");
}

#[test]
fn the_output_layout_lists_every_rendered_file() {
    let readme = read("README.md");
    let start = readme.find("## Output layout").unwrap();
    let layout = &readme[start..start + readme[start..].find("\n## ").unwrap_or(readme.len() - start)];
    let model = Topology::from_config(&Config::default(), Some("prod")).unwrap();
    for path in drgen::render::render(&model).files.keys() {
        if path.starts_with("bootstrap/") {
            continue;
        }
        assert!(layout.contains(path.as_str()), "README's output layout does not list {path}");
    }
}

/// The service each rendered resource type belongs to, as the README's credentials list names
/// it. A type missing here fails the test below, so a new kind of resource cannot slip past the
/// list of what the applying principal needs.
const SERVICE_OF: &[(&str, &str)] = &[
    ("aws_api_gateway_", "API Gateway"),
    ("aws_backup_", "AWS Backup"),
    ("aws_cloudwatch_event_", "EventBridge"),
    ("aws_cloudwatch_log_", "CloudWatch and Logs"),
    ("aws_cloudwatch_metric_alarm", "CloudWatch and Logs"),
    ("aws_db_", "RDS"),
    ("aws_default_security_group", "EC2 (security"),
    ("aws_dynamodb_", "DynamoDB"),
    ("aws_flow_log", "flow logs"),
    ("aws_iam_", "IAM (roles and inline policies)"),
    ("aws_kms_", "KMS"),
    ("aws_lambda_", "Lambda"),
    ("aws_route53recoverycontrolconfig_", "Route 53 Application Recovery Controller"),
    ("aws_route53_", "Route 53"),
    ("aws_route_table", "VPC"),
    ("aws_route", "VPC"),
    ("aws_secretsmanager_", "Secrets Manager"),
    ("aws_security_group", "EC2 (security"),
    ("aws_serverlessapplicationrepository_", "Serverless Application Repository"),
    ("aws_sfn_", "Step Functions"),
    ("aws_sns_", "SNS"),
    ("aws_sqs_", "SQS"),
    ("aws_ssm_", "Systems Manager Parameter Store"),
    ("aws_subnet", "VPC"),
    ("aws_vpc_endpoint", "endpoints"),
    ("aws_vpc_peering_", "peering"),
    ("aws_vpc_security_group_", "EC2 (security"),
    ("aws_vpc", "VPC"),
    ("aws_s3_", "S3 (bootstrap)"),
];

#[test]
fn the_credentials_list_names_the_service_of_every_rendered_resource() {
    let readme = read("README.md");
    let start = readme.find("- **Credentials**: one principal").expect("the credentials item");
    let end = start + readme[start..].find("\n- **").expect("the next item");
    let list = readme[start..end].split_whitespace().collect::<Vec<_>>().join(" ");
    let mut kinds = BTreeSet::new();
    for example in EXAMPLES {
        let config = example.map_or_else(Config::default, |p| Config::load(&root().join(p)).unwrap());
        let model = Topology::from_config(&config, Some("prod")).unwrap();
        for (path, bytes) in &drgen::render::render(&model).files {
            if Path::new(path).extension().is_some_and(|e| e == "tf") {
                let body: hcl::Body = hcl::parse(&String::from_utf8_lossy(bytes)).unwrap();
                for block in body.blocks().filter(|b| b.identifier() == "resource") {
                    kinds.insert(block.labels()[0].as_str().to_string());
                }
            }
        }
    }
    for kind in kinds {
        let (_, service) =
            SERVICE_OF.iter().find(|(prefix, _)| kind.starts_with(prefix)).unwrap_or_else(|| {
                panic!("{kind}: which service? add it to SERVICE_OF and to the README's list")
            });
        assert!(list.contains(service), "README's credentials list does not name {service:?} ({kind})");
    }
}
