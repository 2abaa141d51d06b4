//! The rendering after a failover (`database.primary_retired`): the promoted DR instance is the
//! only writer, so it must be protected, backed up and copied to the other region exactly as the
//! primary was, and the root must own everything a destroy has to remove, the DR secret that the
//! failover workflow made standalone included.

use drgen::config::{Config, Format};
use drgen::model::Topology;
use drgen::side::Side;
use hcl::{Block, Body};

const RETIRED: &str = "database {\n  primary_retired = true\n}\n";
const RETIRED_PROTECTED: &str = "destroyable = false\ndatabase {\n  primary_retired = true\n}\n";

fn model(config: &str) -> Topology {
    Topology::from_config(&Config::parse(config, Format::Hcl).unwrap(), Some("prod")).unwrap()
}

struct Rendered {
    tf: Vec<Body>,
    readme: String,
}

fn render(config: &str) -> Rendered {
    let files = drgen::render::render(&model(config)).files;
    let tf = files
        .iter()
        .filter(|(path, _)| {
            !path.contains('/') && std::path::Path::new(path).extension().is_some_and(|e| e == "tf")
        })
        .map(|(_, bytes)| hcl::parse(std::str::from_utf8(bytes).unwrap()).unwrap())
        .collect();
    let readme = String::from_utf8(files["README.md"].clone()).unwrap();
    Rendered { tf, readme }
}

fn resources(r: &Rendered, kind: &str) -> Vec<Block> {
    r.tf.iter()
        .flat_map(Body::blocks)
        .filter(|b| b.identifier() == "resource" && b.labels()[0].as_str() == kind)
        .cloned()
        .collect()
}

fn only(r: &Rendered, kind: &str) -> Block {
    let mut all = resources(r, kind);
    assert_eq!(all.len(), 1, "expected exactly one {kind}");
    all.remove(0)
}

fn named(r: &Rendered, kind: &str, name: &str) -> Option<Block> {
    resources(r, kind).into_iter().find(|b| b.labels()[1].as_str() == name)
}

/// An attribute's expression as text, without white space.
fn attr(block: &Block, key: &str) -> String {
    block.body().attributes().find(|a| a.key() == key).map_or_else(
        || panic!("{:?} has no {key}", block.labels()),
        |a| a.expr().to_string().split_whitespace().collect(),
    )
}

fn nested<'a>(block: &'a Block, ident: &str) -> &'a Block {
    block.body().blocks().find(|b| b.identifier() == ident).unwrap_or_else(|| panic!("no {ident} block"))
}

/// The expression with the two regions' roles exchanged: what the primary's setting becomes for
/// the DR instance.
fn swapped(text: &str) -> String {
    text.replace(".primary.", ".@.")
        .replace(".dr.", ".primary.")
        .replace(".@.", ".dr.")
        .replace("aws.primary", "aws.@")
        .replace("aws.dr", "aws.primary")
        .replace("aws.@", "aws.dr")
}

#[test]
fn the_writer_after_a_failover_replicates_its_automated_backups_to_the_primary_region() {
    let before = render("");
    let after = render(RETIRED);
    let primary = only(&before, "aws_db_instance_automated_backups_replication");
    assert_eq!(attr(&primary, "source_db_instance_arn"), "aws_db_instance.primary.arn");
    let dr = only(&after, "aws_db_instance_automated_backups_replication");
    // Created in the destination region, the primary's now, from the writer, under a key of
    // the destination region, with the primary's retention.
    assert_eq!(attr(&dr, "provider"), "aws.primary");
    assert_eq!(attr(&dr, "source_db_instance_arn"), "aws_db_instance.dr.arn");
    assert_eq!(attr(&dr, "kms_key_id"), "aws_kms_key.primary.arn");
    for key in ["provider", "source_db_instance_arn", "kms_key_id", "retention_period"] {
        assert_eq!(attr(&dr, key), swapped(&attr(&primary, key)), "{key}");
    }
}

#[test]
fn the_writer_after_a_failover_is_in_an_aws_backup_plan_copied_to_the_primary_region() {
    let before = render("");
    let after = render(RETIRED);
    let selection = only(&after, "aws_backup_selection");
    assert_eq!(attr(&selection, "resources"), "[aws_db_instance.dr.arn]");
    assert_eq!(attr(&selection, "provider"), "aws.dr");
    assert!(attr(&selection, "name").contains("var.environment_suffix"));
    // One plan, in the writer's region: none left behind in the primary region.
    let plan = only(&after, "aws_backup_plan");
    assert_eq!(attr(&selection, "plan_id"), format!("aws_backup_plan.{}.id", plan.labels()[1].as_str()));
    assert_eq!(attr(&plan, "provider"), "aws.dr");
    let rule = nested(&plan, "rule");
    assert_eq!(attr(rule, "target_vault_name"), "aws_backup_vault.dr.name");
    assert_eq!(attr(nested(rule, "copy_action"), "destination_vault_arn"), "aws_backup_vault.primary.arn");
    // Exactly the primary's plan, with the regions exchanged: schedule, vaults, lifecycles.
    let primary_plan = only(&before, "aws_backup_plan");
    let primary_rule = nested(&primary_plan, "rule");
    for key in ["rule_name", "target_vault_name", "schedule"] {
        assert_eq!(attr(rule, key), swapped(&attr(primary_rule, key)), "{key}");
    }
    assert_eq!(
        attr(nested(rule, "lifecycle"), "delete_after"),
        attr(nested(primary_rule, "lifecycle"), "delete_after")
    );
    let (copy, primary_copy) = (nested(rule, "copy_action"), nested(primary_rule, "copy_action"));
    assert_eq!(attr(copy, "destination_vault_arn"), swapped(&attr(primary_copy, "destination_vault_arn")));
    assert_eq!(
        attr(nested(copy, "lifecycle"), "delete_after"),
        attr(nested(primary_copy, "lifecycle"), "delete_after")
    );
}

#[test]
fn the_writer_after_a_failover_takes_a_final_snapshot_and_is_protected_unless_destroyable() {
    let protected = render(RETIRED_PROTECTED);
    let writer = named(&protected, "aws_db_instance", "dr").unwrap();
    assert_eq!(attr(&writer, "deletion_protection"), "true");
    assert_eq!(attr(&writer, "skip_final_snapshot"), "false");
    assert_eq!(attr(&writer, "delete_automated_backups"), "false");
    let snapshot = model(RETIRED_PROTECTED).names.final_snapshot(Side::Dr).expr().to_string();
    assert_eq!(attr(&writer, "final_snapshot_identifier"), snapshot.split_whitespace().collect::<String>());

    let destroyable = render(RETIRED);
    let writer = named(&destroyable, "aws_db_instance", "dr").unwrap();
    assert_eq!(attr(&writer, "deletion_protection"), "false");
    assert_eq!(attr(&writer, "skip_final_snapshot"), "true");
}

#[test]
fn after_a_failover_the_rendering_owns_the_standalone_dr_secret() {
    // Before a failover the DR copy is the master secret's replica, owned through `replica`.
    assert!(named(&render(""), "aws_secretsmanager_secret", "dr").is_none());

    for (config, window) in [(RETIRED, "0"), (RETIRED_PROTECTED, "30")] {
        let after = render(config);
        let master = named(&after, "aws_secretsmanager_secret", "master").unwrap();
        let dr = named(&after, "aws_secretsmanager_secret", "dr").expect("the standalone DR secret is owned");
        assert_eq!(attr(&dr, "provider"), "aws.dr");
        assert_eq!(attr(&dr, "name"), attr(&master, "name"), "the replica kept the master's name");
        assert_eq!(attr(&dr, "kms_key_id"), "aws_kms_key.dr.arn");
        // A destroy deletes it with the recovery window that `destroyable` sets for the master.
        assert_eq!(attr(&dr, "recovery_window_in_days"), window);
        assert_eq!(attr(&master, "recovery_window_in_days"), window);
        // Rotated by the DR region's function; the workflow turned rotation on already.
        let rotation = named(&after, "aws_secretsmanager_secret_rotation", "dr").unwrap();
        assert_eq!(attr(&rotation, "secret_id"), "aws_secretsmanager_secret.dr.id");
        assert!(attr(&rotation, "rotation_lambda_arn").contains("dr_rotation"));
        assert_eq!(attr(&rotation, "rotate_immediately"), "false");
        let outputs: Vec<Block> = after
            .tf
            .iter()
            .flat_map(Body::blocks)
            .filter(|b| b.identifier() == "output" && b.labels()[0].as_str() == "master_secret_arn")
            .cloned()
            .collect();
        assert_eq!(attr(&outputs[0], "value"), "aws_secretsmanager_secret.dr.arn");
    }
}

/// The `terraform import <address> <id>` commands of a text.
fn imports(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("terraform import "))
        .map(|rest| {
            let (address, id) = rest.split_once(' ').expect("terraform import <address> <id>");
            (address.to_string(), id.to_string())
        })
        .collect()
}

#[test]
fn the_documented_import_names_the_owned_dr_secret_of_this_rendering() {
    let after = render(RETIRED);
    let m = model(RETIRED);
    let secret = m.names.secret().with_suffix("prod");
    let readme = imports(&after.readme);
    assert_eq!(readme.len(), 1, "the rendered README shows one import: {readme:?}");
    let runbook =
        imports(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/RUNBOOK.md")).unwrap());
    assert!(!runbook.is_empty(), "RUNBOOK.md shows the import");
    for (address, id) in readme.iter().chain(&runbook) {
        let (kind, name) = address.split_once('.').unwrap();
        let block = named(&after, kind, name).unwrap_or_else(|| panic!("{address} is not in the rendering"));
        assert_eq!(kind, "aws_secretsmanager_secret");
        assert_eq!(attr(&block, "provider"), "aws.dr");
        // The id is the secret's ARN, looked up in the DR region by the rendered name.
        assert!(id.contains("aws secretsmanager describe-secret") && id.contains("--query ARN"), "{id}");
        assert!(id.contains(&format!("--region {}", m.dr.region)), "{id}");
    }
    let (_, id) = &readme[0];
    assert!(id.contains(&format!("--secret-id {secret} ")), "{id}");
    // The README of a rendering before any failover shows no import.
    assert!(imports(&render("").readme).is_empty());
}
