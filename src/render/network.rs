//! The network of one region: VPC, private subnets across availability zones, a route table
//! without internet routes, the default security group locked down, flow logs, and the VPC
//! interface endpoints that other components request. In existing-network mode the VPC and
//! subnets are read through data sources instead.

use hcl::expr::{Expression, Traversal, TraversalOperator};
use hcl::Body;

use super::aws::{account, log_group, name_tag, resource_policy, role, role_policy, Statement};
use super::Doc;
use crate::model::{Network, Side, Topology};
use crate::naming::Role;
use crate::syntax::{arr, call, data, labelled, obj, postcondition, provider, r, resource, rs, strs, t};

/// The id of the side's VPC.
/// The side's VPC range as rendered: the configured one for a VPC drgen creates; for an existing
/// VPC the data source's, so that rules and routes follow the real VPC (a postcondition fails
/// the plan when it differs from the configured one, which drgen's own checks used).
pub fn cidr(m: &Topology, side: Side) -> Expression {
    if m.region(side).is_managed() {
        Expression::from(m.region(side).cidr.to_string())
    } else {
        r(&format!("data.aws_vpc.{side}.cidr_block"))
    }
}

pub fn vpc_id(m: &Topology, side: Side) -> Expression {
    if m.region(side).is_managed() {
        rs("aws_vpc", side, "id")
    } else {
        r(&format!("data.aws_vpc.{side}.id"))
    }
}

/// The ids of the side's private subnets.
pub fn subnet_ids(m: &Topology, side: Side) -> Expression {
    match &m.region(side).network {
        Network::Managed { .. } => r(&format!("aws_subnet.{side}[*].id")),
        // Read through the data sources, so a subnet outside the VPC fails the plan.
        Network::Existing { .. } => Expression::from(Traversal::new(
            call("values", [r(&format!("data.aws_subnet.{side}"))]),
            [TraversalOperator::FullSplat, TraversalOperator::GetAttr("id".into())],
        )),
    }
}

/// The route tables that carry routes to the peer VPC: a `for_each` over the existing ones
/// (when the network exists already), and the expression for one of them.
pub fn route_table(m: &Topology, side: Side) -> (Option<Expression>, Expression) {
    match &m.region(side).network {
        Network::Managed { .. } => (None, rs("aws_route_table", side, "id")),
        Network::Existing { .. } => (Some(r(&format!("data.aws_route_table.{side}"))), r("each.value.id")),
    }
}

fn index(base: Expression, i: Expression) -> Expression {
    Expression::from(Traversal::new(base, [TraversalOperator::Index(i)]))
}

pub fn render(m: &Topology, side: Side, doc: &mut Doc) {
    let region = m.region(side);
    let p = || provider(side);
    match &region.network {
        Network::Managed { subnets, .. } => {
            let name = m.names.regional(side);
            doc.add(
                "network.tf",
                [
                    resource(
                        "aws_vpc",
                        side.label(),
                        Body::builder()
                            .add_attribute(("provider", p()))
                            .add_attribute(("cidr_block", region.cidr.to_string()))
                            .add_attribute(("enable_dns_support", true))
                            .add_attribute(("enable_dns_hostnames", true))
                            .add_attribute(name_tag(&name))
                            .build(),
                    ),
                    resource(
                        "aws_subnet",
                        side.label(),
                        Body::builder()
                            .add_attribute(("provider", p()))
                            .add_attribute(("count", subnets.len() as u64))
                            .add_attribute(("vpc_id", rs("aws_vpc", side, "id")))
                            .add_attribute((
                                "cidr_block",
                                index(strs(subnets.iter().map(ToString::to_string)), r("count.index")),
                            ))
                            .add_attribute((
                                "availability_zone",
                                index(
                                    r(&format!("data.aws_availability_zones.{side}.names")),
                                    r("count.index"),
                                ),
                            ))
                            .add_attribute(("map_public_ip_on_launch", false))
                            .add_attribute((
                                "tags",
                                obj([("Name", t(&format!("{}-private-${{count.index}}", name.template())))]),
                            ))
                            .build(),
                    ),
                    resource(
                        "aws_route_table",
                        side.label(),
                        Body::builder()
                            .add_attribute(("provider", p()))
                            .add_attribute(("vpc_id", rs("aws_vpc", side, "id")))
                            .add_attribute(name_tag(&name))
                            .build(),
                    ),
                    resource(
                        "aws_route_table_association",
                        side.label(),
                        Body::builder()
                            .add_attribute(("provider", p()))
                            .add_attribute(("count", subnets.len() as u64))
                            .add_attribute(("subnet_id", r(&format!("aws_subnet.{side}[count.index].id"))))
                            .add_attribute(("route_table_id", rs("aws_route_table", side, "id")))
                            .build(),
                    ),
                    // No rules: nothing may use the default security group.
                    resource(
                        "aws_default_security_group",
                        side.label(),
                        Body::builder()
                            .add_attribute(("provider", p()))
                            .add_attribute(("vpc_id", rs("aws_vpc", side, "id")))
                            .build(),
                    ),
                ],
            );
            flow_logs(m, side, doc);
        }
        Network::Existing { vpc_id, subnet_ids, route_table_ids, .. } => {
            let within_vpc = |kind: &str, id_attr: &str, ids: &[String]| {
                data(
                    kind,
                    side.label(),
                    Body::builder()
                        .add_attribute(("provider", p()))
                        .add_attribute(("for_each", call("toset", [strs(ids)])))
                        .add_attribute((id_attr, r("each.key")))
                        .add_attribute(("vpc_id", r(&format!("data.aws_vpc.{side}.id"))))
                        .build(),
                )
            };
            doc.add(
                "network.tf",
                [
                    data(
                        "aws_vpc",
                        side.label(),
                        Body::builder()
                            .add_attribute(("provider", p()))
                            .add_attribute(("id", vpc_id.as_str()))
                            .add_block(labelled(
                                "lifecycle",
                                &[],
                                Body::builder()
                                    .add_block(postcondition(
                                        Expression::from(hcl::expr::BinaryOp::new(
                                            r("self.cidr_block"),
                                            hcl::expr::BinaryOperator::Eq,
                                            Expression::from(region.cidr.to_string()),
                                        )),
                                        format!(
                                            "The VPC's CIDR differs from {side}.vpc_cidr ({}) in the drgen config; correct the config and render again.",
                                            region.cidr
                                        ),
                                    ))
                                    // Interface endpoints with private DNS need both DNS
                                    // attributes on the VPC, or the services' names resolve to
                                    // their public addresses, which the functions cannot reach
                                    // (https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html).
                                    .add_block(postcondition(
                                        Expression::from(hcl::expr::BinaryOp::new(
                                            r("self.enable_dns_support"),
                                            hcl::expr::BinaryOperator::And,
                                            r("self.enable_dns_hostnames"),
                                        )),
                                        "The VPC must have DNS support and DNS hostnames enabled: the VPC endpoints that drgen's functions use resolve through private DNS.",
                                    ))
                                    .build(),
                            ))
                            .build(),
                    ),
                    within_vpc("aws_subnet", "id", subnet_ids),
                    within_vpc("aws_route_table", "route_table_id", route_table_ids),
                ],
            );
        }
    }
    endpoints(m, side, doc);
    gateway_endpoints(m, side, doc);
}

fn flow_logs(m: &Topology, side: Side, doc: &mut Doc) {
    let label = format!("{side}_flow_logs");
    let role_name = m.names.role(Role::FlowLogs, side);
    doc.add("network.tf", [log_group(m, &label, side, m.names.flow_log_group(side).expr())]);
    doc.add(
        "network.tf",
        role(
            &label,
            side,
            &role_name,
            "vpc-flow-logs.amazonaws.com",
            "Delivers VPC flow logs to CloudWatch Logs.",
        ),
    );
    doc.add(
        "network.tf",
        role_policy(
            &label,
            side,
            &label,
            vec![Statement::allow(
                "WriteFlowLogs",
                &["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                t(&format!("${{aws_cloudwatch_log_group.{label}.arn}}:*")),
            )],
        ),
    );
    doc.add(
        "network.tf",
        [resource(
            "aws_flow_log",
            side.label(),
            Body::builder()
                .add_attribute(("provider", provider(side)))
                .add_attribute(("vpc_id", rs("aws_vpc", side, "id")))
                .add_attribute(("traffic_type", "ALL"))
                .add_attribute(("log_destination_type", "cloud-watch-logs"))
                .add_attribute(("log_destination", r(&format!("aws_cloudwatch_log_group.{label}.arn"))))
                .add_attribute(("iam_role_arn", r(&format!("aws_iam_role.{label}.arn"))))
                .add_attribute(("max_aggregation_interval", 60))
                .build(),
        )],
    );
}

/// The id of the prefix list of a gateway endpoint's service (`dynamodb`, `s3`) in the side's
/// region: a gateway endpoint routes to the service's public addresses, so a security group
/// admits the traffic only through an egress rule to this list. From the endpoint drgen creates,
/// or, when the VPC has one already, from the region's AWS-managed list by name.
pub fn prefix_list(m: &Topology, side: Side, service: &str) -> Expression {
    if already_there(m, side, service) {
        r(&format!("data.aws_prefix_list.{side}_{service}.id"))
    } else {
        r(&format!("aws_vpc_endpoint.{side}_{service}.prefix_list_id"))
    }
}

/// Whether an existing VPC already has an endpoint for the service.
fn already_there(m: &Topology, side: Side, service: &str) -> bool {
    match &m.region(side).network {
        Network::Existing { existing_endpoints, .. } => existing_endpoints.iter().any(|e| e == service),
        Network::Managed { .. } => false,
    }
}

/// The gateway endpoints requested for this side, on each of its route tables.
fn gateway_endpoints(m: &Topology, side: Side, doc: &mut Doc) {
    let region = m.region(side);
    let existing: Vec<_> = doc
        .gateway_endpoints(side)
        .filter(|s| already_there(m, side, s))
        .map(|service| {
            data(
                "aws_prefix_list",
                &format!("{side}_{service}"),
                Body::builder()
                    .add_attribute(("provider", provider(side)))
                    .add_attribute(("name", format!("com.amazonaws.{}.{service}", region.region)))
                    .build(),
            )
        })
        .collect();
    doc.add("network.tf", existing);
    let blocks: Vec<_> = doc
        .gateway_endpoints(side)
        .filter(|s| !already_there(m, side, s))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|service| {
            let tables = match &region.network {
                Network::Managed { .. } => arr([rs("aws_route_table", side, "id")]),
                Network::Existing { route_table_ids, .. } => strs(route_table_ids),
            };
            resource(
                "aws_vpc_endpoint",
                &format!("{side}_{service}"),
                Body::builder()
                    .add_attribute(("provider", provider(side)))
                    .add_attribute(("vpc_id", vpc_id(m, side)))
                    .add_attribute(("service_name", format!("com.amazonaws.{}.{service}", region.region)))
                    .add_attribute(("vpc_endpoint_type", "Gateway"))
                    .add_attribute(("route_table_ids", tables))
                    .build(),
            )
        })
        .collect();
    doc.add("network.tf", blocks);
}

/// The interface endpoints requested for this side, behind one security group that admits
/// HTTPS from the VPC only.
fn endpoints(m: &Topology, side: Side, doc: &mut Doc) {
    let services: Vec<&str> = doc.endpoints(side).filter(|s| !already_there(m, side, s)).collect();
    if services.is_empty() {
        return;
    }
    let label = format!("{side}_endpoints");
    let region = m.region(side);
    let (policy_doc, endpoint_policy) =
        resource_policy(
            &format!("{label}_policy"),
            [Statement::allow("ThisAccountOnly", &["*"], "*")
                .principal("AWS", [Expression::from("*")])
                .when("StringEquals", "aws:PrincipalAccount", [t(&account(side))])],
        );
    let blocks = [
        policy_doc,
        resource(
            "aws_security_group",
            &label,
            Body::builder()
                .add_attribute(("provider", provider(side)))
                .add_attribute(("name", m.names.regional_purpose("endpoints", side).expr()))
                .add_attribute(("description", "HTTPS from the VPC to the AWS service endpoints"))
                .add_attribute(("vpc_id", vpc_id(m, side)))
                .add_attribute(name_tag(&m.names.regional_purpose("endpoints", side)))
                .build(),
        ),
        resource(
            "aws_vpc_security_group_ingress_rule",
            &label,
            Body::builder()
                .add_attribute(("provider", provider(side)))
                .add_attribute(("security_group_id", r(&format!("aws_security_group.{label}.id"))))
                .add_attribute(("description", "HTTPS from inside the VPC"))
                .add_attribute(("ip_protocol", "tcp"))
                .add_attribute(("from_port", 443))
                .add_attribute(("to_port", 443))
                .add_attribute(("cidr_ipv4", cidr(m, side)))
                .build(),
        ),
        resource(
            "aws_vpc_endpoint",
            side.label(),
            Body::builder()
                .add_attribute(("provider", provider(side)))
                .add_attribute(("for_each", call("toset", [strs(&services)])))
                .add_attribute(("vpc_id", vpc_id(m, side)))
                .add_attribute(("service_name", t(&format!("com.amazonaws.{}.${{each.key}}", region.region))))
                .add_attribute(("vpc_endpoint_type", "Interface"))
                .add_attribute(("private_dns_enabled", true))
                .add_attribute(("subnet_ids", subnet_ids(m, side)))
                .add_attribute(("security_group_ids", arr([r(&format!("aws_security_group.{label}.id"))])))
                .add_attribute(("policy", endpoint_policy))
                .build(),
        ),
    ];
    doc.add("network.tf", blocks);
}
