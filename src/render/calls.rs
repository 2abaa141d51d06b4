//! What a function's declared AWS calls (`lambda/calls.json`) need in the account: its IAM
//! statements, and, for a function in a VPC, the endpoints of its region's VPC and the egress
//! that reaches them. Nothing here is written by hand per function.

use hcl::expr::Expression;

use super::aws::{arn, Resources, Statement};
use crate::calls::{declaration, Call, CallRegion};
use crate::model::{Side, Topology};
use crate::naming::Function;
use crate::syntax::r;

/// Whether the call happens with this environment: its `when` variable is set to something other
/// than an empty string or `false` (a reference counts as set).
fn happens(call: &Call, environment: &[(&'static str, Expression)]) -> bool {
    let Some(variable) = &call.when else { return true };
    match environment.iter().find(|(name, _)| name == variable) {
        None => false,
        Some((_, Expression::String(s))) => !(s.is_empty() || s == "false"),
        Some(_) => true,
    }
}

/// The calls a function makes with this environment.
pub fn made(function: Function, environment: &[(&'static str, Expression)]) -> Vec<&'static Call> {
    declaration().calls(function).iter().filter(|c| happens(c, environment)).collect()
}

/// The region a call goes to.
pub fn target(call: &Call, side: Side) -> Side {
    match call.region {
        // The cluster's endpoints are in other regions; what the call names is global.
        CallRegion::Own | CallRegion::Cluster => side,
        CallRegion::Primary => Side::Primary,
    }
}

/// The Terraform expression of a declared resource, in the region the call goes to.
fn resource(m: &Topology, name: &str, region: Side) -> Expression {
    match name {
        "any" | "metric_namespace" => Expression::from("*"),
        "state_table" => match region {
            Side::Primary => super::failover::primary_table_arn(m),
            Side::Dr => r("aws_dynamodb_table.failover.arn"),
        },
        "replica_instance" => super::database::arn(m, Side::Dr),
        "primary_instance" => super::database::arn(m, Side::Primary),
        "dr_secret" => super::monitor::dr_secret_arn(m),
        "state_machine" => r("aws_sfn_state_machine.promote.arn"),
        "default_bus" => arn(m, region, "events", "event-bus/default"),
        "topic" => super::alerts::topic(region),
        "rotation_function" => r(
            "aws_serverlessapplicationrepository_cloudformation_stack.dr_rotation.outputs.RotationLambdaARN",
        ),
        other => unreachable!("the declaration is checked against calls::RESOURCES: {other}"),
    }
}

/// The IAM resources of a declared resource: both routing controls for `routing_controls`.
fn resources(m: &Topology, name: &str, region: Side) -> Resources {
    if name == "routing_controls" {
        Resources(Side::BOTH.map(super::arc::control_arn).to_vec())
    } else {
        resource(m, name, region).into()
    }
}

/// One IAM statement per declared call group.
pub fn statements(m: &Topology, side: Side, calls: &[&Call]) -> Vec<Statement> {
    calls
        .iter()
        .map(|call| {
            let actions = call.iam_actions();
            let actions: Vec<&str> = actions.iter().map(String::as_str).collect();
            let statement =
                Statement::allow(&call.sid, &actions, resources(m, &call.resource, target(call, side)));
            if call.resource == "metric_namespace" {
                statement.when("StringEquals", "cloudwatch:namespace", [m.names.metric_namespace().expr()])
            } else {
                statement
            }
        })
        .collect()
}

/// The endpoint services (interface, gateway) that the calls need in the function's region.
pub fn endpoints(side: Side, calls: &[&Call]) -> (Vec<&'static str>, Vec<&'static str>) {
    let d = declaration();
    let mut interface = Vec::new();
    let mut gateway = Vec::new();
    for call in calls.iter().filter(|c| c.is_call()) {
        assert!(
            target(call, side) == side && call.region != CallRegion::Cluster,
            "{}: a function in a VPC reaches only its own region's endpoints",
            call.sid
        );
        let service = d.service(call);
        let list = if service.gateway { &mut gateway } else { &mut interface };
        if !list.contains(&service.endpoint.as_str()) {
            list.push(service.endpoint.as_str());
        }
    }
    (interface, gateway)
}
