//! AWS Backup: a CMK-encrypted vault in each region and a daily plan for the writer whose
//! recovery points are copied to the other region's vault.

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

/// The daily plan and its selection live in the writer's region (AWS Backup plans and selections
/// are regional): the primary's, or the promoted DR instance's once the primary is retired. The
/// recovery points are copied to the other region's vault with the same lifecycle.
pub fn render(m: &Topology, doc: &mut Doc) {
    if !m.backup.aws_backup {
        return;
    }
    doc.add("backup.tf", Side::BOTH.map(|s| vault(m, s)));
    // IAM is global: one role, declared through the primary region's provider, serves the plan
    // in either region.
    let mut blocks = role(
        "backup",
        Side::Primary,
        &m.names.role(Role::Backup, Side::Primary),
        "backup.amazonaws.com",
        "Runs the AWS Backup plan of the database.",
    )
    .to_vec();
    for policy in ["AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"] {
        blocks.push(resource(
            "aws_iam_role_policy_attachment",
            &format!("backup_{}", if policy.ends_with("Backup") { "backup" } else { "restores" }),
            Body::builder()
                .add_attribute(("provider", provider(Side::Primary)))
                .add_attribute(("role", r("aws_iam_role.backup.name")))
                .add_attribute((
                    "policy_arn",
                    t(&format!(
                        "arn:{}:iam::aws:policy/service-role/{policy}",
                        super::aws::partition(Side::Primary)
                    )),
                ))
                .build(),
        ));
    }
    let side = super::database::writer(m);
    let plan = plan_label(side);
    let retention = m.backup.retention_days;
    blocks.push(resource(
        "aws_backup_plan",
        &plan,
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
                            .add_attribute((
                                "destination_vault_arn",
                                rs("aws_backup_vault", side.other(), "arn"),
                            ))
                            .add_block(lifecycle(retention))
                            .build(),
                    ))
                    .build(),
            ))
            .build(),
    ));
    blocks.push(resource(
        "aws_backup_selection",
        side.label(),
        Body::builder()
            .add_attribute(("provider", provider(side)))
            .add_attribute(("name", m.names.backup_selection(side).expr()))
            .add_attribute(("plan_id", r(&format!("aws_backup_plan.{plan}.id"))))
            .add_attribute(("iam_role_arn", r("aws_iam_role.backup.arn")))
            .add_attribute(("resources", arr([super::database::attr(side, "arn")])))
            .build(),
    ));
    doc.add("backup.tf", blocks);
}

/// The plan's label: `daily` in the primary region, as before any failover; `dr_daily` in the DR
/// region, a separate address, so that retiring the primary deletes the primary region's plan
/// rather than leaving it behind when its provider changes.
fn plan_label(side: Side) -> String {
    match side {
        Side::Primary => "daily".to_string(),
        Side::Dr => format!("{side}_daily"),
    }
}
