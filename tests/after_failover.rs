//! The rendering after a failover (`database.primary_retired`): the promoted DR instance is the
//! only writer, so it must be protected, backed up and copied to the other region exactly as the
//! primary was.

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
    Rendered { tf }
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
