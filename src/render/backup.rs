//! AWS Backup: a CMK-encrypted vault in each region and a daily plan for the primary whose
//! recovery points are copied to the DR vault.

use hcl::Body;

use super::aws::role;
use super::Doc;
use crate::model::{Side, Topology};
use crate::naming::Role;
use crate::syntax::{arr, labelled, provider, r, resource, rs, t};

fn vault(m: &Topology, side: Side) -> hcl::Block {
    resource(
        "aws_backup_vault",
        side.label(),
        Body::builder()
            .add_attribute(("provider", provider(side)))
            .add_attribute(("name", m.names.backup_vault(side).expr()))
            .add_attribute(("kms_key_arn", rs("aws_kms_key", side, "arn")))
            .add_attribute(("force_destroy", m.destroyable))
            .build(),
    )
}

fn lifecycle(days: u32) -> hcl::Block {
    labelled("lifecycle", &[], Body::builder().add_attribute(("delete_after", u64::from(days))).build())
}

pub fn render(m: &Topology, doc: &mut Doc) {
    if !m.backup.aws_backup {
        return;
    }
    let side = Side::Primary;
    doc.add("backup.tf", Side::BOTH.map(|s| vault(m, s)));
    let mut blocks = role(
        "backup",
        side,
        &m.names.role(Role::Backup, side),
        "backup.amazonaws.com",
        "Runs the AWS Backup plan of the database.",
    )
    .to_vec();
    for policy in ["AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"] {
        blocks.push(resource(
            "aws_iam_role_policy_attachment",
            &format!("backup_{}", if policy.ends_with("Backup") { "backup" } else { "restores" }),
            Body::builder()
                .add_attribute(("provider", provider(side)))
                .add_attribute(("role", r("aws_iam_role.backup.name")))
                .add_attribute((
                    "policy_arn",
                    t(&format!("arn:{}:iam::aws:policy/service-role/{policy}", super::aws::partition(side))),
                ))
                .build(),
        ));
    }
    let retention = m.backup.retention_days;
    blocks.push(resource(
        "aws_backup_plan",
        "daily",
        Body::builder()
            .add_attribute(("provider", provider(side)))
            .add_attribute(("name", m.names.backup_plan().expr()))
            .add_block(labelled(
                "rule",
                &[],
                Body::builder()
                    .add_attribute(("rule_name", "daily"))
                    .add_attribute(("target_vault_name", rs("aws_backup_vault", side, "name")))
                    .add_attribute(("schedule", m.backup.schedule.as_str()))
                    .add_block(lifecycle(retention))
                    .add_block(labelled(
                        "copy_action",
                        &[],
                        Body::builder()
                            .add_attribute(("destination_vault_arn", rs("aws_backup_vault", Side::Dr, "arn")))
                            .add_block(lifecycle(retention))
                            .build(),
                    ))
                    .build(),
            ))
            .build(),
    ));
    // Once the primary is retired, its region has nothing left to back up; the DR instance
    // keeps its automated backups.
    if !super::database::exists(m, side) {
        doc.add("backup.tf", blocks);
        return;
    }
    blocks.push(resource(
        "aws_backup_selection",
        "primary",
        Body::builder()
            .add_attribute(("provider", provider(side)))
            .add_attribute(("name", m.names.backup_selection().expr()))
            .add_attribute(("plan_id", r("aws_backup_plan.daily.id")))
            .add_attribute(("iam_role_arn", r("aws_iam_role.backup.arn")))
            .add_attribute(("resources", arr([r("aws_db_instance.primary.arn")])))
            .build(),
    ));
    doc.add("backup.tf", blocks);
}
