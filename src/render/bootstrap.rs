//! The `bootstrap/` root (local state): the versioned, CMK-encrypted state bucket, replicated
//! to a bucket in the DR region, and the DynamoDB lock table. It must be applied before the
//! main root can run `terraform init`.

use hcl::expr::Expression;
use hcl::{Block, Body};

use super::aws::{policy, role, role_policy, Statement};
use super::{data, kms, root, Doc};
use crate::model::{Side, Topology};
use crate::naming::Role;
use crate::syntax::{arr, labelled, provider, r, resource, rs, t};

fn bucket_name(m: &Topology, side: Side) -> crate::naming::AwsName {
    match side {
        Side::Primary => m.names.state_bucket(),
        Side::Dr => m.names.state_replica_bucket(),
    }
}

fn block(ident: &str, body: Body) -> Block {
    labelled(ident, &[], body)
}

fn bucket_ref(side: Side) -> Expression {
    rs("aws_s3_bucket", side, "id")
}

/// The start of every per-bucket setting resource: its provider and bucket.
fn for_bucket(side: Side) -> hcl::structure::BodyBuilder {
    Body::builder().add_attribute(("provider", provider(side))).add_attribute(("bucket", bucket_ref(side)))
}

/// One state bucket: versioned, encrypted with the side's key, private, TLS only, with
/// old versions expiring.
fn bucket(m: &Topology, side: Side) -> Vec<Block> {
    let p = || provider(side);
    let label = side.label();
    let bucket_arn = format!("${{aws_s3_bucket.{label}.arn}}");
    let mut extra = vec![resource(
        "aws_s3_bucket_notification",
        label,
        for_bucket(side).add_attribute(("eventbridge", true)).build(),
    )];
    if let Some(logs) = &m.state_access_logs {
        let target = match side {
            Side::Primary => &logs.0,
            Side::Dr => &logs.1,
        };
        extra.push(resource(
            "aws_s3_bucket_logging",
            label,
            for_bucket(side)
                .add_attribute(("target_bucket", target.as_str()))
                .add_attribute(("target_prefix", t(&format!("${{aws_s3_bucket.{label}.id}}/"))))
                .build(),
        ));
    }
    let (tls_doc, tls_policy) = policy(
        &format!("{label}_bucket"),
        side,
        [Statement::deny(
            "DenyInsecureTransport",
            &["s3:*"],
            vec![t(&bucket_arn), t(&format!("{bucket_arn}/*"))],
        )
        .principal("AWS", [Expression::from("*")])
        .when("Bool", "aws:SecureTransport", [Expression::from("false")])],
    );
    let mut blocks = vec![
        tls_doc,
        resource(
            "aws_s3_bucket",
            label,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("bucket", bucket_name(m, side).expr()))
                .add_attribute(("force_destroy", m.destroyable))
                .build(),
        ),
        resource(
            "aws_s3_bucket_ownership_controls",
            label,
            for_bucket(side)
                .add_block(block(
                    "rule",
                    Body::builder().add_attribute(("object_ownership", "BucketOwnerEnforced")).build(),
                ))
                .build(),
        ),
        resource(
            "aws_s3_bucket_versioning",
            label,
            for_bucket(side)
                .add_block(block(
                    "versioning_configuration",
                    Body::builder().add_attribute(("status", "Enabled")).build(),
                ))
                .build(),
        ),
        resource(
            "aws_s3_bucket_server_side_encryption_configuration",
            label,
            for_bucket(side)
                .add_block(block(
                    "rule",
                    Body::builder()
                        .add_block(block(
                            "apply_server_side_encryption_by_default",
                            Body::builder()
                                .add_attribute(("sse_algorithm", "aws:kms"))
                                .add_attribute(("kms_master_key_id", rs("aws_kms_key", side, "arn")))
                                .build(),
                        ))
                        .add_attribute(("bucket_key_enabled", true))
                        .build(),
                ))
                .build(),
        ),
        resource(
            "aws_s3_bucket_public_access_block",
            label,
            for_bucket(side)
                .add_attribute(("block_public_acls", true))
                .add_attribute(("block_public_policy", true))
                .add_attribute(("ignore_public_acls", true))
                .add_attribute(("restrict_public_buckets", true))
                .build(),
        ),
        resource(
            "aws_s3_bucket_policy",
            label,
            for_bucket(side)
                .add_attribute(("policy", tls_policy))
                .add_attribute((
                    "depends_on",
                    arr([r(&format!("aws_s3_bucket_public_access_block.{label}"))]),
                ))
                .build(),
        ),
        resource(
            "aws_s3_bucket_lifecycle_configuration",
            label,
            for_bucket(side)
                .add_block(block(
                    "rule",
                    Body::builder()
                        .add_attribute(("id", "expire-old-state-versions"))
                        .add_attribute(("status", "Enabled"))
                        .add_block(block("filter", Body::builder().build()))
                        .add_block(block(
                            "noncurrent_version_expiration",
                            Body::builder().add_attribute(("noncurrent_days", 90)).build(),
                        ))
                        .add_block(block(
                            "abort_incomplete_multipart_upload",
                            Body::builder().add_attribute(("days_after_initiation", 7)).build(),
                        ))
                        .build(),
                ))
                .add_attribute(("depends_on", arr([r(&format!("aws_s3_bucket_versioning.{label}"))])))
                .build(),
        ),
    ];
    blocks.extend(extra);
    blocks
}

/// Replication of the state bucket to the DR bucket, re-encrypted with the DR key.
fn replication(m: &Topology) -> Vec<Block> {
    let side = Side::Primary;
    let label = "state_replication";
    let src = "${aws_s3_bucket.primary.arn}";
    let dst = "${aws_s3_bucket.dr.arn}";
    let s3_via = |s: Side| Expression::String(format!("s3.{}.amazonaws.com", m.region(s).region));
    let mut blocks = role(
        label,
        side,
        &m.names.role(Role::StateReplication, side),
        "s3.amazonaws.com",
        "Replicates the Terraform state bucket to the DR region.",
    )
    .to_vec();
    blocks.extend(role_policy(
        label,
        side,
        label,
        vec![
            Statement::allow(
                "ReadReplicationConfiguration",
                &["s3:GetReplicationConfiguration", "s3:ListBucket"],
                t(src),
            ),
            Statement::allow(
                "ReadSourceVersions",
                &[
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging",
                ],
                t(&format!("{src}/*")),
            ),
            Statement::allow(
                "WriteReplicas",
                &["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                t(&format!("{dst}/*")),
            ),
            Statement::allow("DecryptSource", &["kms:Decrypt"], rs("aws_kms_key", Side::Primary, "arn"))
                .when("StringEquals", "kms:ViaService", [s3_via(Side::Primary)]),
            Statement::allow(
                "EncryptReplica",
                &["kms:Encrypt", "kms:GenerateDataKey"],
                rs("aws_kms_key", Side::Dr, "arn"),
            )
            .when("StringEquals", "kms:ViaService", [s3_via(Side::Dr)]),
        ],
    ));
    blocks.push(resource(
        "aws_s3_bucket_replication_configuration",
        "primary",
        Body::builder()
            .add_attribute(("provider", provider(side)))
            .add_attribute(("role", r(&format!("aws_iam_role.{label}.arn"))))
            .add_attribute(("bucket", bucket_ref(side)))
            .add_block(block(
                "rule",
                Body::builder()
                    .add_attribute(("id", "state-to-dr"))
                    .add_attribute(("status", "Enabled"))
                    .add_block(block("filter", Body::builder().build()))
                    .add_block(block(
                        "delete_marker_replication",
                        Body::builder().add_attribute(("status", "Enabled")).build(),
                    ))
                    .add_block(block(
                        "source_selection_criteria",
                        Body::builder()
                            .add_block(block(
                                "sse_kms_encrypted_objects",
                                Body::builder().add_attribute(("status", "Enabled")).build(),
                            ))
                            .build(),
                    ))
                    .add_block(block(
                        "destination",
                        Body::builder()
                            .add_attribute(("bucket", rs("aws_s3_bucket", Side::Dr, "arn")))
                            .add_attribute(("storage_class", "STANDARD"))
                            .add_block(block(
                                "encryption_configuration",
                                Body::builder()
                                    .add_attribute(("replica_kms_key_id", rs("aws_kms_key", Side::Dr, "arn")))
                                    .build(),
                            ))
                            .build(),
                    ))
                    .build(),
            ))
            .add_attribute((
                "depends_on",
                arr([r("aws_s3_bucket_versioning.primary"), r("aws_s3_bucket_versioning.dr")]),
            ))
            .build(),
    ));
    blocks
}

fn lock_table(m: &Topology) -> Block {
    resource(
        "aws_dynamodb_table",
        "lock",
        Body::builder()
            .add_attribute(("provider", provider(Side::Primary)))
            .add_attribute(("name", m.names.lock_table().expr()))
            .add_attribute(("billing_mode", "PAY_PER_REQUEST"))
            .add_attribute(("hash_key", "LockID"))
            .add_attribute(("deletion_protection_enabled", !m.destroyable))
            // A global table: the DR replica keeps locking usable when the primary region is
            // down (RUNBOOK, "Terraform state during an outage"). Replicas need the stream.
            .add_attribute(("stream_enabled", true))
            .add_attribute(("stream_view_type", "NEW_AND_OLD_IMAGES"))
            .add_block(block(
                "attribute",
                Body::builder().add_attribute(("name", "LockID")).add_attribute(("type", "S")).build(),
            ))
            .add_block(block(
                "point_in_time_recovery",
                Body::builder().add_attribute(("enabled", true)).build(),
            ))
            .add_block(block(
                "server_side_encryption",
                Body::builder()
                    .add_attribute(("enabled", true))
                    .add_attribute(("kms_key_arn", rs("aws_kms_key", Side::Primary, "arn")))
                    .build(),
            ))
            .add_block(block(
                "replica",
                Body::builder()
                    .add_attribute(("region_name", m.dr.region.name()))
                    .add_attribute(("kms_key_arn", rs("aws_kms_key", Side::Dr, "arn")))
                    .add_attribute(("point_in_time_recovery", true))
                    .build(),
            ))
            .build(),
    )
}

pub fn render(m: &Topology, doc: &mut Doc) {
    doc.add("versions.tf", [root::versions()]);
    doc.add("providers.tf", Side::BOTH.map(|side| root::provider(m, side)));
    doc.add("variables.tf", [root::suffix_variable(m)]);
    doc.add_body("terraform.tfvars", root::tfvars(m));
    for side in Side::BOTH {
        doc.add("data.tf", data::identity(side));
        let description = format!("drgen {} Terraform state key ({})", m.name, m.region(side).region);
        doc.add(
            "kms.tf",
            kms::key(
                m,
                side,
                side.label(),
                &m.names.state_kms_alias(side),
                &description,
                &["s3", "dynamodb"],
                &[],
            ),
        );
        doc.add("state.tf", bucket(m, side));
    }
    doc.add("state.tf", replication(m));
    doc.add("state.tf", [lock_table(m)]);
    doc.output(
        "state_bucket",
        "Name of the S3 bucket that holds the Terraform state.",
        rs("aws_s3_bucket", Side::Primary, "id"),
    );
    doc.output(
        "state_replica_bucket",
        "Name of the DR-region bucket the state replicates to.",
        rs("aws_s3_bucket", Side::Dr, "id"),
    );
    doc.output(
        "lock_table",
        "Name of the DynamoDB table that holds the state locks.",
        r("aws_dynamodb_table.lock.name"),
    );
    doc.output(
        "state_kms_key_arn",
        "ARN of the KMS key that encrypts the state.",
        rs("aws_kms_key", Side::Primary, "arn"),
    );
}
