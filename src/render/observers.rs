//! Connectivity observers: a small function in each region's private subnets that probes the
//! primary database (the DR one across the peering). Route 53 health checkers cannot reach
//! private addresses, so the observers expose what they see: through an API Gateway REST API that
//! Route 53 checks over HTTPS (endpoint mode), or as a metric and alarm (CloudWatch mode).

use hcl::expr::Expression;
use hcl::Body;

use super::aws::{log_group, resource_policy, Statement};
use super::functions::{self, Destination, Spec};
use super::{DbClient, Doc};
use crate::config::HealthCheckMode;
use crate::model::{Side, Topology};
use crate::naming::{Function, Role};
use crate::package::Package;
use crate::syntax::{arr, call, data, json, labelled, obj, provider, r, resource, rs, strs, t};

/// The observers' path token, kept in an SSM parameter so that it is stable across plans.
pub const TOKEN: &str = "aws_ssm_parameter.probe_token.value";

/// Whether the observers publish a metric (CloudWatch mode) instead of answering Route 53.
pub fn metric_mode(m: &Topology) -> bool {
    m.failover.health_check_mode == HealthCheckMode::Cloudwatch
}

/// The token, generated once by the provider's random-password data source.
pub fn token(m: &Topology, doc: &mut Doc) {
    let side = Side::Primary;
    if !metric_mode(m) {
        doc.add(
            "observers.tf",
            [data(
                "aws_ip_ranges",
                "route53_healthchecks",
                Body::builder()
                    .add_attribute(("provider", provider(side)))
                    .add_attribute(("services", strs(["route53_healthchecks"])))
                    .build(),
            )],
        );
    }
    doc.add(
        "observers.tf",
        [
            data(
                "aws_secretsmanager_random_password",
                "probe_token",
                Body::builder()
                    .add_attribute(("provider", provider(side)))
                    .add_attribute(("password_length", 40))
                    .add_attribute(("exclude_punctuation", true))
                    .build(),
            ),
            resource(
                "aws_ssm_parameter",
                "probe_token",
                Body::builder()
                    .add_attribute(("provider", provider(side)))
                    .add_attribute(("name", m.names.probe_token().expr()))
                    .add_attribute(("description", "Path token of the drgen observers' APIs"))
                    .add_attribute(("type", "SecureString"))
                    .add_attribute(("key_id", rs("aws_kms_key", side, "arn")))
                    .add_attribute((
                        "value",
                        r("data.aws_secretsmanager_random_password.probe_token.random_password"),
                    ))
                    .add_block(labelled(
                        "lifecycle",
                        &[],
                        Body::builder().add_attribute(("ignore_changes", arr([r("value")]))).build(),
                    ))
                    .build(),
            ),
        ],
    );
    doc.note(
        "observers.tf",
        "resource",
        &["aws_ssm_parameter", "probe_token"],
        "The data source yields a new token on every plan; the parameter keeps the first one.",
    );
}

/// The observer of one region.
pub fn render(m: &Topology, side: Side, doc: &mut Doc) {
    let f = &m.failover;
    let label = functions::label(Function::Observer, side);
    let egress = vec![(
        "to_primary_db",
        "PostgreSQL to the primary database".to_string(),
        m.database.port,
        Destination::Cidr(super::network::cidr(m, super::database::writer(m))),
    )];
    // The primary-region observer leaves the heartbeat in its region's copy of the state table.
    let heartbeat = match side {
        Side::Primary => r("aws_dynamodb_table.failover.name"),
        Side::Dr => Expression::from(""),
    };
    functions::render(
        m,
        Spec {
            function: Function::Observer,
            side,
            role: Role::Observer,
            package: Package::Observer,
            description: "drgen observer: probes the primary PostgreSQL database",
            timeout_seconds: f.probe_timeout_seconds + 3,
            reserved_concurrency: f.observer_reserved_concurrency,
            environment: vec![
                ("PRIMARY_HOST", rs("aws_db_instance", super::database::writer(m), "address")),
                ("PRIMARY_PORT", Expression::from(m.database.port.to_string())),
                ("PROBE_TIMEOUT_SECONDS", Expression::from(f.probe_timeout_seconds.to_string())),
                ("PATH_TOKEN", r(TOKEN)),
                ("METRIC_NAMESPACE", m.names.metric_namespace().expr()),
                ("OBSERVER", Expression::from(side.label())),
                ("PUBLISH_METRIC", Expression::from(metric_mode(m).to_string())),
                ("HEARTBEAT_TABLE", heartbeat),
                ("STATE_TABLE", r("aws_dynamodb_table.failover.name")),
                // The side whose instance is probed: the authority demotes it unless it names it.
                ("TARGET_SIDE", Expression::from(super::database::writer(m).label())),
            ],
            egress,
            in_vpc: true,
        },
        doc,
    );
    if side == Side::Primary {
        doc.db_client(
            side,
            DbClient {
                label: "observer".into(),
                description: "PostgreSQL from the primary region's observer".into(),
                security_group_id: functions::security_group(Function::Observer, side),
            },
        );
    }
    // A schedule publishes the metric (CloudWatch mode) and, in the primary region, the heartbeat.
    let mut blocks = if metric_mode(m) || side == Side::Primary {
        functions::schedule(m, side, &label, "observer-schedule", "rate(1 minute)")
    } else {
        Vec::new()
    };
    if !metric_mode(m) {
        blocks.extend(api(m, side, &label));
    }
    doc.add("observers.tf", blocks);
}

/// The stage of the observers' APIs; part of the path Route 53 requests.
pub const STAGE: &str = "observe";

/// Requests per second and burst of each observer API: Route 53's checkers together send
/// several requests a second whatever the interval, and a throttled answer (429) moves DNS.
const THROTTLE_RATE: u32 = 50;
const THROTTLE_BURST: u32 = 100;

/// The REST API in front of one observer (endpoint mode). The per-deployment token is a literal
/// resource path, so API Gateway answers every other path itself and never invokes the function;
/// the resource policy admits only Route 53's health-checker address ranges.
fn api(m: &Topology, side: Side, label: &str) -> Vec<hcl::Block> {
    let p = || provider(side);
    let api = format!("aws_api_gateway_rest_api.{label}");
    let api_id = || r(&format!("{api}.id"));
    let ranges = "data.aws_ip_ranges.route53_healthchecks";
    let (policy_local, policy) = resource_policy(
        &format!("{label}_api_policy"),
        [Statement::allow("RouteFiftyThreeHealthCheckersOnly", &["execute-api:Invoke"], "execute-api:/*")
            .principal("AWS", [Expression::from("*")])
            .when(
                "IpAddress",
                "aws:SourceIp",
                [call(
                    "concat",
                    [r(&format!("{ranges}.cidr_blocks")), r(&format!("{ranges}.ipv6_cidr_blocks"))],
                )],
            )],
    );
    let mut blocks = vec![
        policy_local,
        resource(
            "aws_api_gateway_rest_api",
            label,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("name", m.names.regional_purpose("observer-api", side).expr()))
                .add_attribute(("description", "Route 53 health checks of the drgen observer"))
                .add_attribute(("policy", policy.clone()))
                .add_block(labelled(
                    "endpoint_configuration",
                    &[],
                    Body::builder().add_attribute(("types", strs(["REGIONAL"]))).build(),
                ))
                .add_block(labelled(
                    "lifecycle",
                    &[],
                    Body::builder().add_attribute(("create_before_destroy", true)).build(),
                ))
                .build(),
        ),
        resource(
            "aws_api_gateway_request_validator",
            label,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("rest_api_id", api_id()))
                .add_attribute(("name", "parameters"))
                .add_attribute(("validate_request_parameters", true))
                .add_attribute(("validate_request_body", false))
                .build(),
        ),
        resource(
            "aws_api_gateway_resource",
            label,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("rest_api_id", api_id()))
                .add_attribute(("parent_id", r(&format!("{api}.root_resource_id"))))
                .add_attribute(("path_part", r(TOKEN)))
                .build(),
        ),
        resource(
            "aws_api_gateway_method",
            label,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("rest_api_id", api_id()))
                .add_attribute(("resource_id", r(&format!("aws_api_gateway_resource.{label}.id"))))
                .add_attribute(("http_method", "GET"))
                .add_attribute(("authorization", "NONE"))
                .add_attribute((
                    "request_validator_id",
                    r(&format!("aws_api_gateway_request_validator.{label}.id")),
                ))
                .build(),
        ),
        resource(
            "aws_api_gateway_integration",
            label,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("rest_api_id", api_id()))
                .add_attribute(("resource_id", r(&format!("aws_api_gateway_resource.{label}.id"))))
                .add_attribute(("http_method", r(&format!("aws_api_gateway_method.{label}.http_method"))))
                .add_attribute(("type", "AWS_PROXY"))
                .add_attribute(("integration_http_method", "POST"))
                .add_attribute(("uri", r(&format!("aws_lambda_function.{label}.invoke_arn"))))
                .build(),
        ),
        resource(
            "aws_lambda_permission",
            &format!("{label}_api"),
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("statement_id", "ObserverApi"))
                .add_attribute(("action", "lambda:InvokeFunction"))
                .add_attribute(("function_name", r(&format!("aws_lambda_function.{label}.function_name"))))
                .add_attribute(("principal", "apigateway.amazonaws.com"))
                .add_attribute(("source_arn", t(&format!("${{{api}.execution_arn}}/*/GET/*"))))
                .build(),
        ),
        resource(
            "aws_api_gateway_deployment",
            label,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("rest_api_id", api_id()))
                .add_attribute((
                    "triggers",
                    obj([(
                        "redeployment",
                        call(
                            "sha1",
                            [json(arr([
                                policy,
                                r(&format!("aws_api_gateway_resource.{label}.id")),
                                r(&format!("aws_api_gateway_method.{label}.id")),
                                r(&format!("aws_api_gateway_integration.{label}.id")),
                            ]))],
                        ),
                    )]),
                ))
                .add_block(labelled(
                    "lifecycle",
                    &[],
                    Body::builder().add_attribute(("create_before_destroy", true)).build(),
                ))
                .add_attribute(("depends_on", arr([r(&format!("aws_api_gateway_integration.{label}"))])))
                .build(),
        ),
    ];
    let mut stage = Body::builder()
        .add_attribute(("provider", p()))
        .add_attribute(("rest_api_id", api_id()))
        .add_attribute(("deployment_id", r(&format!("aws_api_gateway_deployment.{label}.id"))))
        .add_attribute(("stage_name", STAGE))
        .add_attribute(("xray_tracing_enabled", true));
    if m.failover.observer_access_logs {
        blocks.push(log_group(m, &format!("{label}_api"), side, m.names.api_log_group(side).expr()));
        stage = stage.add_block(labelled(
            "access_log_settings",
            &[],
            Body::builder()
                .add_attribute(("destination_arn", r(&format!("aws_cloudwatch_log_group.{label}_api.arn"))))
                .add_attribute((
                    "format",
                    json(obj([
                        ("requestId", Expression::from("$context.requestId")),
                        ("ip", Expression::from("$context.identity.sourceIp")),
                        ("status", Expression::from("$context.status")),
                        ("latency", Expression::from("$context.responseLatency")),
                    ])),
                ))
                .build(),
        ));
    }
    blocks.push(resource("aws_api_gateway_stage", label, stage.build()));
    blocks.push(resource(
        "aws_api_gateway_method_settings",
        label,
        Body::builder()
            .add_attribute(("provider", p()))
            .add_attribute(("rest_api_id", api_id()))
            .add_attribute(("stage_name", r(&format!("aws_api_gateway_stage.{label}.stage_name"))))
            .add_attribute(("method_path", "*/*"))
            .add_block(labelled(
                "settings",
                &[],
                Body::builder()
                    .add_attribute(("throttling_rate_limit", u64::from(THROTTLE_RATE)))
                    .add_attribute(("throttling_burst_limit", u64::from(THROTTLE_BURST)))
                    .add_attribute(("metrics_enabled", true))
                    .add_attribute((
                        "logging_level",
                        if m.failover.observer_access_logs { "ERROR" } else { "OFF" },
                    ))
                    .add_attribute(("caching_enabled", false))
                    .add_attribute(("cache_data_encrypted", true))
                    .build(),
            ))
            .build(),
    ));
    blocks
}

/// The address Route 53 checks: the API's regional host and the stage and token path.
pub fn api_host(m: &Topology, side: Side) -> Expression {
    let label = functions::label(Function::Observer, side);
    t(&format!(
        "${{aws_api_gateway_rest_api.{label}.id}}.execute-api.{}.amazonaws.com",
        m.region(side).region
    ))
}

/// The path Route 53 requests.
pub fn api_path() -> Expression {
    t(&format!("/{STAGE}/${{{TOKEN}}}"))
}
