//! `backend.tf`: the S3 state backend that `bootstrap/` creates, with a key per suffix.

use hcl::Body;

use super::Doc;
use crate::model::{Side, Topology};
use crate::syntax::labelled;

pub fn render(m: &Topology, doc: &mut Doc) {
    let suffix = m.suffix.as_str();
    let backend = labelled(
        "backend",
        &["s3"],
        Body::builder()
            .add_attribute(("bucket", m.names.state_bucket().with_suffix(suffix)))
            .add_attribute(("key", m.names.state_key(suffix)))
            .add_attribute(("region", m.primary.region.name()))
            .add_attribute(("encrypt", true))
            .add_attribute(("kms_key_id", m.names.state_kms_alias(Side::Primary).with_suffix(suffix)))
            .add_attribute(("dynamodb_table", m.names.lock_table().with_suffix(suffix)))
            .build(),
    );
    doc.add("backend.tf", [labelled("terraform", &[], Body::builder().add_block(backend).build())]);
    // The same state in the DR region, for `terraform init -reconfigure -backend-config=backend-dr.hcl`
    // while the primary region is down: the replicated bucket (same key, the DR state key) and
    // the lock table's DR replica.
    let dr = Body::builder()
        .add_attribute(("bucket", m.names.state_replica_bucket().with_suffix(suffix)))
        .add_attribute(("key", m.names.state_key(suffix)))
        .add_attribute(("region", m.dr.region.name()))
        .add_attribute(("encrypt", true))
        .add_attribute(("kms_key_id", m.names.state_kms_alias(Side::Dr).with_suffix(suffix)))
        .add_attribute(("dynamodb_table", m.names.lock_table().with_suffix(suffix)))
        .build();
    doc.add_body("backend-dr.hcl", dr);
}
