//! Cross-region VPC peering: the requester in the primary region, the accepter in DR, DNS
//! resolution across the peering, and a route to the peer VPC in each region.

use hcl::{Block, Body};

use super::aws::name_tag;
use super::network::{route_table, vpc_id};
use super::Doc;
use crate::model::{Side, Topology};
use crate::syntax::{labelled, provider, r, resource};

const CONNECTION: &str = "aws_vpc_peering_connection_accepter.dr.id";

pub fn render(m: &Topology, doc: &mut Doc) {
    doc.add(
        "peering.tf",
        [
            resource(
                "aws_vpc_peering_connection",
                "primary_to_dr",
                Body::builder()
                    .add_attribute(("provider", provider(Side::Primary)))
                    .add_attribute(("vpc_id", vpc_id(m, Side::Primary)))
                    .add_attribute(("peer_vpc_id", vpc_id(m, Side::Dr)))
                    .add_attribute(("peer_region", m.dr.region.name()))
                    .add_attribute(("auto_accept", false))
                    .add_attribute(name_tag(&m.names.regional(Side::Primary)))
                    .build(),
            ),
            resource(
                "aws_vpc_peering_connection_accepter",
                "dr",
                Body::builder()
                    .add_attribute(("provider", provider(Side::Dr)))
                    .add_attribute((
                        "vpc_peering_connection_id",
                        r("aws_vpc_peering_connection.primary_to_dr.id"),
                    ))
                    .add_attribute(("auto_accept", true))
                    .add_attribute(name_tag(&m.names.regional(Side::Dr)))
                    .build(),
            ),
        ],
    );
    for side in Side::BOTH {
        doc.add("peering.tf", side_of_peering(m, side));
    }
}

/// DNS resolution of the peer's private names, and the route to the peer's CIDR.
fn side_of_peering(m: &Topology, side: Side) -> [Block; 2] {
    let role = match side {
        Side::Primary => "requester",
        Side::Dr => "accepter",
    };
    let options = resource(
        "aws_vpc_peering_connection_options",
        side.label(),
        Body::builder()
            .add_attribute(("provider", provider(side)))
            .add_attribute(("vpc_peering_connection_id", r(CONNECTION)))
            .add_block(labelled(
                role,
                &[],
                Body::builder().add_attribute(("allow_remote_vpc_dns_resolution", true)).build(),
            ))
            .build(),
    );
    let (for_each, table) = route_table(m, side);
    let mut route = Body::builder().add_attribute(("provider", provider(side)));
    if let Some(tables) = for_each {
        route = route.add_attribute(("for_each", tables));
    }
    let route = resource(
        "aws_route",
        &format!("{side}_to_{}", side.other()),
        route
            .add_attribute(("route_table_id", table))
            .add_attribute(("destination_cidr_block", super::network::cidr(m, side.other())))
            .add_attribute(("vpc_peering_connection_id", r(CONNECTION)))
            .build(),
    );
    [options, route]
}
