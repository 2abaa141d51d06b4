//! One drgen Lambda function with everything that hardens it: its own role, log group (with
//! retention and the CMK), security group, reserved concurrency, a dead-letter queue and an
//! on-failure destination, X-Ray tracing and environment variables encrypted with the CMK.

use hcl::expr::Expression;
use hcl::{Block, Body};

use super::aws::{arn, log_group, name_tag, role, role_policy, Statement};
use super::calls;
use super::network::{subnet_ids, vpc_id};
use super::Doc;
use crate::model::{Side, Topology};
use crate::naming::{Function, Role};
use crate::package::Package;
use crate::syntax::{arr, call, labelled, obj, provider, r, resource, rs, t};

/// Where an egress rule admits traffic.
#[derive(Clone)]
pub enum Destination {
    Cidr(Expression),
    /// A managed prefix list: a gateway endpoint's service.
    PrefixList(Expression),
}

/// What differs between drgen's functions.
pub struct Spec {
    pub function: Function,
    pub side: Side,
    pub role: Role,
    pub package: Package,
    pub description: &'static str,
    pub timeout_seconds: u32,
    /// Reserved concurrency, when any.
    pub reserved_concurrency: Option<u32>,
    pub environment: Vec<(&'static str, Expression)>,
    /// Outbound TCP besides the AWS calls' endpoints: (label, description, port, destination).
    pub egress: Vec<(&'static str, String, u16, Destination)>,
    /// In the region's private subnets (true), or outside any VPC.
    pub in_vpc: bool,
}

impl Spec {
    /// The resource label shared by the function's pieces, e.g. `dr_monitor`.
    pub fn label(&self) -> String {
        label(self.function, self.side)
    }
}

pub fn label(function: Function, side: Side) -> String {
    format!("{side}_{}", function.word())
}

/// The function's security group id.
pub fn security_group(function: Function, side: Side) -> Expression {
    r(&format!("aws_security_group.{}.id", label(function, side)))
}

/// The path of a package in the output directory, as Terraform sees it.
fn package_path(package: Package) -> Expression {
    t(&format!("${{path.module}}/{}", package.path()))
}

pub fn render(m: &Topology, spec: Spec, doc: &mut Doc) {
    let side = spec.side;
    let label = spec.label();
    let p = || provider(side);
    let name = m.names.function(spec.function, side);
    let file = "functions.tf";
    let key = rs("aws_kms_key", side, "arn");
    let queue = format!("aws_sqs_queue.{label}_dlq");

    let mut blocks: Vec<Block> = vec![
        log_group(m, &label, side, m.names.function_log_group(&name).expr()),
        resource(
            "aws_sqs_queue",
            &format!("{label}_dlq"),
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("name", m.names.dead_letter_queue(spec.function, side).expr()))
                .add_attribute(("message_retention_seconds", 1_209_600))
                .add_attribute(("kms_master_key_id", key.clone()))
                .add_attribute(("kms_data_key_reuse_period_seconds", 300))
                .build(),
        ),
    ];
    doc.function(side, spec.function);
    if spec.in_vpc {
        blocks.push(resource(
            "aws_security_group",
            &label,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("name", m.names.regional_purpose(spec.function.word(), side).expr()))
                .add_attribute(("description", spec.description))
                .add_attribute(("vpc_id", vpc_id(m, side)))
                .add_attribute(name_tag(&m.names.regional_purpose(spec.function.word(), side)))
                .build(),
        ));
    }
    // The AWS calls the function's code makes, from the package's declaration.
    let made = calls::made(spec.function, &spec.environment);
    if spec.in_vpc {
        // Every function in a VPC sends its X-Ray traces through the VPC's endpoint.
        doc.endpoint(side, "xray");
        let (interface, gateway) = calls::endpoints(side, &made);
        let mut egress: Vec<(String, String, u16, Destination)> =
            spec.egress.iter().map(|(l, d, p, dst)| ((*l).to_string(), d.clone(), *p, dst.clone())).collect();
        for service in interface {
            doc.endpoint(side, service);
        }
        egress.push((
            "to_endpoints".to_string(),
            "HTTPS to the VPC interface endpoints".to_string(),
            443,
            Destination::Cidr(super::network::cidr(m, side)),
        ));
        for service in gateway {
            doc.gateway_endpoint(side, service);
            egress.push((
                format!("to_{service}"),
                format!("HTTPS to {service} through its gateway endpoint (the service's prefix list)"),
                443,
                Destination::PrefixList(super::network::prefix_list(m, side, service)),
            ));
        }
        for (rule, description, port, destination) in egress {
            let (key, value) = match destination {
                Destination::Cidr(e) => ("cidr_ipv4", e),
                Destination::PrefixList(e) => ("prefix_list_id", e),
            };
            blocks.push(resource(
                "aws_vpc_security_group_egress_rule",
                &format!("{label}_{rule}"),
                Body::builder()
                    .add_attribute(("provider", p()))
                    .add_attribute(("security_group_id", security_group(spec.function, side)))
                    .add_attribute(("description", description.as_str()))
                    .add_attribute(("ip_protocol", "tcp"))
                    .add_attribute(("from_port", u64::from(port)))
                    .add_attribute(("to_port", u64::from(port)))
                    .add_attribute((key, value))
                    .build(),
            ));
        }
    }
    blocks.extend(role(
        &label,
        side,
        &m.names.role(spec.role, side),
        "lambda.amazonaws.com",
        spec.description,
    ));

    let mut statements = vec![
        Statement::allow(
            "WriteOwnLogs",
            &["logs:CreateLogStream", "logs:PutLogEvents"],
            t(&format!("${{aws_cloudwatch_log_group.{label}.arn}}:*")),
        ),
        Statement::allow("SendFailedInvocations", &["sqs:SendMessage"], r(&format!("{queue}.arn"))),
        Statement::allow("UseTheKey", &["kms:Decrypt", "kms:GenerateDataKey"], key.clone()),
        // X-Ray has no resource-level permissions.
        Statement::allow("Tracing", &["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*"),
    ];
    if spec.in_vpc {
        statements.extend(network_interface_statements(m, side));
    }
    statements.extend(calls::statements(m, side, &made));
    blocks.extend(role_policy(&label, side, &label, statements));

    let environment = obj(spec.environment);
    let mut function = Body::builder()
        .add_attribute(("provider", p()))
        .add_attribute(("function_name", name.expr()))
        .add_attribute(("description", spec.description))
        .add_attribute(("role", r(&format!("aws_iam_role.{label}.arn"))))
        .add_attribute(("runtime", m.failover.lambda_runtime.as_str()))
        .add_attribute(("handler", spec.package.handler()))
        .add_attribute(("filename", package_path(spec.package)))
        .add_attribute(("source_code_hash", call("filebase64sha256", [package_path(spec.package)])))
        .add_attribute(("architectures", arr([Expression::from("arm64")])))
        .add_attribute(("memory_size", 256))
        .add_attribute(("timeout", u64::from(spec.timeout_seconds)))
        .add_attribute(("kms_key_arn", key))
        .add_block(labelled(
            "environment",
            &[],
            Body::builder().add_attribute(("variables", environment)).build(),
        ));
    if let Some(n) = spec.reserved_concurrency {
        function = function.add_attribute(("reserved_concurrent_executions", u64::from(n)));
    }
    if spec.in_vpc {
        function = function.add_block(labelled(
            "vpc_config",
            &[],
            Body::builder()
                .add_attribute(("subnet_ids", subnet_ids(m, side)))
                .add_attribute(("security_group_ids", arr([security_group(spec.function, side)])))
                .build(),
        ));
    }
    blocks.push(resource(
        "aws_lambda_function",
        &label,
        function
            .add_block(labelled(
                "tracing_config",
                &[],
                Body::builder().add_attribute(("mode", "Active")).build(),
            ))
            .add_block(labelled(
                "dead_letter_config",
                &[],
                Body::builder().add_attribute(("target_arn", r(&format!("{queue}.arn")))).build(),
            ))
            .add_attribute((
                "depends_on",
                arr([
                    r(&format!("aws_cloudwatch_log_group.{label}")),
                    r(&format!("aws_iam_role_policy.{label}")),
                ]),
            ))
            .build(),
    ));
    blocks.push(invoke_config(&label, side, &queue));
    doc.add(file, blocks);
}

/// What a function in a VPC needs to manage its network interfaces (as AWS's
/// AWSLambdaVPCAccessExecutionRole grants).
fn network_interface_statements(m: &Topology, side: Side) -> Vec<Statement> {
    vec![
        // These Describe calls have no resource-level permissions.
        Statement::allow(
            "FindNetworkInterfaces",
            &["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
            "*",
        ),
        Statement::allow(
            "CreateNetworkInterfaces",
            &["ec2:CreateNetworkInterface"],
            vec![
                arn(m, side, "ec2", "network-interface/*"),
                arn(m, side, "ec2", "subnet/*"),
                arn(m, side, "ec2", "security-group/*"),
            ],
        ),
        Statement::allow(
            "ManageNetworkInterfaces",
            &["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
            arn(m, side, "ec2", "network-interface/*"),
        ),
    ]
}

fn invoke_config(label: &str, side: Side, queue: &str) -> Block {
    resource(
        "aws_lambda_function_event_invoke_config",
        label,
        Body::builder()
            .add_attribute(("provider", provider(side)))
            .add_attribute(("function_name", r(&format!("aws_lambda_function.{label}.function_name"))))
            .add_attribute(("maximum_retry_attempts", 0))
            .add_attribute(("maximum_event_age_in_seconds", 300))
            .add_block(labelled(
                "destination_config",
                &[],
                Body::builder()
                    .add_block(labelled(
                        "on_failure",
                        &[],
                        Body::builder().add_attribute(("destination", r(&format!("{queue}.arn")))).build(),
                    ))
                    .build(),
            ))
            .build(),
    )
}

/// An EventBridge schedule that invokes the function `label`.
pub fn schedule(m: &Topology, side: Side, label: &str, rule_name: &str, expression: &str) -> Vec<hcl::Block> {
    let p = || provider(side);
    let rule = format!("{label}_schedule");
    vec![
        resource(
            "aws_cloudwatch_event_rule",
            &rule,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("name", m.names.rule(rule_name, side).expr()))
                .add_attribute(("description", "Runs the drgen function on a schedule"))
                .add_attribute(("schedule_expression", expression))
                .build(),
        ),
        resource(
            "aws_cloudwatch_event_target",
            &rule,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("rule", r(&format!("aws_cloudwatch_event_rule.{rule}.name"))))
                .add_attribute(("arn", r(&format!("aws_lambda_function.{label}.arn"))))
                .build(),
        ),
        resource(
            "aws_lambda_permission",
            &rule,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("statement_id", "EventBridgeSchedule"))
                .add_attribute(("action", "lambda:InvokeFunction"))
                .add_attribute(("function_name", r(&format!("aws_lambda_function.{label}.function_name"))))
                .add_attribute(("principal", "events.amazonaws.com"))
                .add_attribute(("source_arn", r(&format!("aws_cloudwatch_event_rule.{rule}.arn"))))
                .build(),
        ),
    ]
}
