//! The writer authority in Route 53 ARC (`failover.authority = "arc"`): a control panel on a
//! cluster (created, or an existing one), one routing control per region, and two safety rules
//! that together keep exactly one of them On. The DR-region failover workflow switches them in one
//! transaction before it promotes; the primary region's lease keeper reads them and fences its own
//! primary when they name DR or cannot be read for the lease time.
//!
//! The provider sends every Recovery Control Config call to us-west-2 in the aws partition
//! whatever the provider's region (its route53recoverycontrolconfig service package forces the
//! region, as for other global services), so the primary provider serves.

use hcl::expr::Expression;
use hcl::Body;

use super::Doc;
use crate::model::{ArcCluster, Side, Topology};
use crate::syntax::{arr, call, labelled, obj, provider, r, resource};

/// The routing control that says a side holds the writer authority.
pub fn control_arn(side: Side) -> Expression {
    r(&format!("aws_route53recoverycontrolconfig_routing_control.{side}.arn"))
}

/// The cluster's ARN.
fn cluster_arn(m: &Topology) -> Expression {
    match &m.failover.arc.as_ref().expect("rendered with the ARC authority").cluster {
        ArcCluster::Create => r("aws_route53recoverycontrolconfig_cluster.authority.arn"),
        ArcCluster::Existing { arn, .. } => Expression::from(arn.as_str()),
    }
}

/// The cluster's endpoints as JSON (a list of `{endpoint, region}`), for the functions that read
/// or switch the routing controls.
pub fn endpoints_json(m: &Topology) -> Expression {
    call(
        "jsonencode",
        [endpoints(&m.failover.arc.as_ref().expect("rendered with the ARC authority").cluster)],
    )
}

/// The cluster's endpoints, a list of `{endpoint, region}`.
fn endpoints(cluster: &ArcCluster) -> Expression {
    match cluster {
        ArcCluster::Create => r("aws_route53recoverycontrolconfig_cluster.authority.cluster_endpoints"),
        ArcCluster::Existing { endpoints, .. } => arr(endpoints.iter().map(|(endpoint, region)| {
            obj([
                ("endpoint", Expression::from(endpoint.as_str())),
                ("region", Expression::from(region.name())),
            ])
        })),
    }
}

/// One assertion rule over both routing controls.
fn rule(m: &Topology, label: &str, name: &str, inverted: bool, threshold: u64) -> hcl::Block {
    resource(
        "aws_route53recoverycontrolconfig_safety_rule",
        label,
        Body::builder()
            .add_attribute(("provider", provider(Side::Primary)))
            .add_attribute(("name", m.names.arc(name).expr()))
            .add_attribute((
                "control_panel_arn",
                r("aws_route53recoverycontrolconfig_control_panel.authority.arn"),
            ))
            .add_attribute(("asserted_controls", arr(Side::BOTH.map(control_arn))))
            .add_attribute(("wait_period_ms", 5000))
            .add_block(labelled(
                "rule_config",
                &[],
                Body::builder()
                    .add_attribute(("inverted", inverted))
                    .add_attribute(("threshold", threshold))
                    .add_attribute(("type", "ATLEAST"))
                    .build(),
            ))
            .build(),
    )
}

pub fn render(m: &Topology, doc: &mut Doc) {
    let Some(arc) = &m.failover.arc else {
        return;
    };
    let p = || provider(Side::Primary);
    let file = "arc.tf";
    let mut blocks = Vec::new();
    if arc.cluster == ArcCluster::Create {
        blocks.push(resource(
            "aws_route53recoverycontrolconfig_cluster",
            "authority",
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("name", m.names.arc("cluster").expr()))
                .build(),
        ));
    }
    blocks.push(resource(
        "aws_route53recoverycontrolconfig_control_panel",
        "authority",
        Body::builder()
            .add_attribute(("provider", p()))
            .add_attribute(("name", m.names.arc("writer").expr()))
            .add_attribute(("cluster_arn", cluster_arn(m)))
            .build(),
    ));
    for side in Side::BOTH {
        blocks.push(resource(
            "aws_route53recoverycontrolconfig_routing_control",
            side.label(),
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("name", m.names.arc(&format!("writer-{side}")).expr()))
                .add_attribute(("cluster_arn", cluster_arn(m)))
                .add_attribute((
                    "control_panel_arn",
                    r("aws_route53recoverycontrolconfig_control_panel.authority.arn"),
                ))
                .build(),
        ));
    }
    blocks.push(rule(m, "at_least_one", "writer-at-least-one", false, 1));
    blocks.push(rule(m, "at_most_one", "writer-at-most-one", true, 2));
    doc.add(file, blocks);
    for side in Side::BOTH {
        doc.output(
            &format!("{side}_routing_control_arn"),
            &format!("The ARC routing control that says the {side} side holds the writer authority."),
            control_arn(side),
        );
    }
    doc.output(
        "arc_cluster_endpoints",
        "The ARC cluster's regional endpoints: read or switch the routing controls through any of them.",
        endpoints(&arc.cluster),
    );
    if arc.cluster == ArcCluster::Create {
        doc.note(
            file,
            "resource",
            &["aws_route53recoverycontrolconfig_cluster", "authority"],
            "A cluster is billed by the hour whether or not it is used, and one cluster can host the control panels of many applications: to share one, set failover.arc.cluster_arn and its endpoints instead.",
        );
    }
    doc.note(
        file,
        "resource",
        &["aws_route53recoverycontrolconfig_safety_rule", "at_least_one"],
        "An assertion rule judges the end state of a transaction: at least one routing control On (never both Off). Set the primary's On once after the first apply (README.md of this rendering).",
    );
    doc.note(
        file,
        "resource",
        &["aws_route53recoverycontrolconfig_safety_rule", "at_most_one"],
        "ATLEAST 2, inverted: never both On. With at_least_one, exactly one side holds the writer authority; the DR side switches both in one UpdateRoutingControlStates call (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-route53recoverycontrol-safetyrule-ruleconfig.html).",
    );
}
