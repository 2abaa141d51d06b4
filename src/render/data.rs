//! Data sources per region: availability zones, the PostgreSQL 15 engine version, the caller
//! identity and the partition.

use hcl::Body;

use super::Doc;
use crate::model::{Network, Side, Topology};
use crate::syntax::{data, labelled, provider, strs};

/// The identity data sources every root needs for ARNs.
pub fn identity(side: Side) -> [hcl::Block; 2] {
    let p = || Body::builder().add_attribute(("provider", provider(side))).build();
    [data("aws_caller_identity", side.label(), p()), data("aws_partition", side.label(), p())]
}

pub fn render(m: &Topology, doc: &mut Doc) {
    for side in Side::BOTH {
        let mut blocks = identity(side).to_vec();
        if let Network::Managed { zones, .. } = &m.region(side).network {
            // The zones are pinned by name, so the subnets never move when AWS adds a zone.
            blocks.push(data(
                "aws_availability_zones",
                side.label(),
                Body::builder()
                    .add_attribute(("provider", provider(side)))
                    .add_attribute(("state", "available"))
                    .add_block(labelled(
                        "filter",
                        &[],
                        Body::builder()
                            .add_attribute(("name", "zone-name"))
                            .add_attribute(("values", strs(zones)))
                            .build(),
                    ))
                    .build(),
            ));
        }
        blocks.push(data(
            "aws_rds_engine_version",
            side.label(),
            Body::builder()
                .add_attribute(("provider", provider(side)))
                .add_attribute(("engine", "postgres"))
                .add_attribute(("version", "15"))
                .add_attribute(("latest", true))
                .build(),
        ));
        doc.add("data.tf", blocks);
    }
}
