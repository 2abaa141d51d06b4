//! The master credentials: a secret in the primary region replicated to DR, both under
//! CMKs; an initial password from the provider's random-password data source (no literal
//! anywhere); and rotation by AWS's published single-user PostgreSQL rotation application,
//! deployed into the private subnets.

use hcl::expr::Expression;
use hcl::Body;

use super::aws::{log_group, name_tag};
use super::network::{subnet_ids, vpc_id};
use super::{DbClient, Doc};
use crate::model::{Side, Topology};
use crate::syntax::{arr, call, data, json, labelled, obj, provider, r, resource, rs};

/// The Serverless Application Repository application AWS publishes for this rotation.
const ROTATION_APP: &str =
    "arn:aws:serverlessrepo:us-east-1:297356227824:applications/SecretsManagerRDSPostgreSQLRotationSingleUser";

/// Characters the generated passwords avoid: RDS refuses `/`, `@`, `"` and space, and the
/// rest would need quoting in connection strings.
const EXCLUDED: &str = " %+~`#$&*()|[]{}:;<>?!'/@\"\\";

pub fn render(m: &Topology, doc: &mut Doc) {
    let side = Side::Primary;
    let p = || provider(side);
    let d = &m.database;
    let secret = resource(
        "aws_secretsmanager_secret",
        "master",
        Body::builder()
            .add_attribute(("provider", p()))
            .add_attribute(("name", m.names.secret().expr()))
            .add_attribute(("description", "Master credentials of the drgen PostgreSQL database"))
            .add_attribute(("kms_key_id", rs("aws_kms_key", side, "arn")))
            .add_attribute(("recovery_window_in_days", recovery_window(m)))
            .add_block(labelled(
                "replica",
                &[],
                Body::builder()
                    .add_attribute(("region", m.dr.region.name()))
                    .add_attribute(("kms_key_id", rs("aws_kms_key", Side::Dr, "arn")))
                    .build(),
            ))
            .add_block(labelled(
                "lifecycle",
                &[],
                // After a failover the DR copy is standalone; re-adding the replica would fail
                // (a secret of that name exists there) or overwrite the live DR secret.
                Body::builder().add_attribute(("ignore_changes", arr([r("replica")]))).build(),
            ))
            .build(),
    );
    let password = data(
        "aws_secretsmanager_random_password",
        "master",
        Body::builder()
            .add_attribute(("provider", p()))
            .add_attribute(("password_length", 32))
            .add_attribute(("exclude_characters", EXCLUDED))
            .build(),
    );
    // The host is the instance endpoint: the rotation function connects with
    // sslmode=verify-full and the RDS certificate names the instance, not the failover CNAME;
    // "ssl" = true keeps it from ever trying plaintext. Clients use `dns_name`. After a failover
    // the workflow points the DR copy at the promoted instance.
    let value = obj([
        ("engine", Expression::from("postgres")),
        ("host", rs("aws_db_instance", super::database::writer(m), "address")),
        ("dns_name", super::dns::fqdn(m)),
        ("ssl", Expression::from(true)),
        ("port", Expression::from(u64::from(d.port))),
        ("username", Expression::String(d.master_username.clone())),
        ("password", r("data.aws_secretsmanager_random_password.master.random_password")),
        ("dbname", Expression::String(d.db_name.clone())),
    ]);
    let version = resource(
        "aws_secretsmanager_secret_version",
        "master",
        Body::builder()
            .add_attribute(("provider", p()))
            .add_attribute(("secret_id", r("aws_secretsmanager_secret.master.id")))
            .add_attribute(("secret_string", json(value)))
            .add_block(labelled(
                "lifecycle",
                &[],
                Body::builder().add_attribute(("ignore_changes", arr([r("secret_string")]))).build(),
            ))
            .build(),
    );
    doc.add("secrets.tf", [secret, password, version]);
    doc.note(
        "secrets.tf",
        "resource",
        &["aws_secretsmanager_secret_version", "master"],
        "The random-password data source yields a new value on every plan; only the first is stored, and rotation owns the value afterwards. The password also sits in the (encrypted) Terraform state.",
    );
    if m.database.primary_retired {
        standalone_dr(m, doc);
    }
    for side in Side::BOTH {
        rotation(m, side, doc);
    }
    if m.database.primary_retired {
        doc.output(
            "master_secret_arn",
            "ARN of the live secret with the master credentials: the DR region's, standalone since the failover. The value itself is never output.",
            r(&format!("{DR_SECRET}.arn")),
        );
    } else {
        doc.output(
            "master_secret_arn",
            "ARN of the secret with the master credentials (replicated to the DR region). The value itself is never output.",
            r("aws_secretsmanager_secret.master.arn"),
        );
    }
}

/// The address of the DR region's secret once it is standalone (rendered only with
/// `database.primary_retired`); RUNBOOK.md and the rendered README import it there.
pub const DR_SECRET: &str = "aws_secretsmanager_secret.dr";

/// Days Secrets Manager keeps a deleted secret: none when destroyable, so that a destroy frees
/// the name at once and the same suffix can be rendered again.
fn recovery_window(m: &Topology) -> u64 {
    if m.destroyable {
        0
    } else {
        30
    }
}

/// The DR region's copy of the master secret after the failover. The workflow made it standalone
/// (`StopReplicationToReplica`), so the primary region's `aws_secretsmanager_secret.master` no
/// longer owns it and a destroy of that resource leaves it behind; its name would then block the
/// replica of the next rendering of this suffix. This rendering owns it: the operator imports the
/// existing secret once (RUNBOOK.md, "Failback"), after which a destroy deletes it with the
/// recovery window of `destroyable`. Its value is the workflow's and rotation's, so no version is
/// rendered.
fn standalone_dr(m: &Topology, doc: &mut Doc) {
    let side = Side::Dr;
    let (kind, label) = DR_SECRET.split_once('.').expect("an address");
    doc.add(
        "secrets.tf",
        [resource(
            kind,
            label,
            Body::builder()
                .add_attribute(("provider", provider(side)))
                .add_attribute(("name", m.names.secret().expr()))
                .add_attribute(("description", "Master credentials of the drgen PostgreSQL database"))
                .add_attribute(("kms_key_id", rs("aws_kms_key", side, "arn")))
                .add_attribute(("recovery_window_in_days", recovery_window(m)))
                .build(),
        )],
    );
    doc.note(
        "secrets.tf",
        "resource",
        &[kind, label],
        "The DR copy of the master secret, standalone since the failover. It exists before this rendering is first applied: import it first (terraform import, see README.md in this directory), or the apply fails with ResourceExistsException.",
    );
}

/// The published rotation function in one region's private subnets. The primary's rotates the
/// secret from the start; the DR region's exists up front so that the failover workflow can turn
/// rotation on for the standalone DR secret.
fn rotation(m: &Topology, side: Side, doc: &mut Doc) {
    let p = || provider(side);
    let region = m.region(side);
    let sg = format!("{side}_rotation");
    let sg = sg.as_str();
    let stack = format!("{side}_rotation");
    let function = m.names.rotation_function(side);
    doc.endpoint(side, "secretsmanager");
    doc.db_client(
        side,
        DbClient {
            label: "rotation".into(),
            description: "PostgreSQL from the secret rotation function".into(),
            security_group_id: r(&format!("aws_security_group.{sg}.id")),
        },
    );
    let egress = |label: &str, description: &str, port: u64| {
        resource(
            "aws_vpc_security_group_egress_rule",
            &format!("{sg}_{label}"),
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("security_group_id", r(&format!("aws_security_group.{sg}.id"))))
                .add_attribute(("description", description))
                .add_attribute(("ip_protocol", "tcp"))
                .add_attribute(("from_port", port))
                .add_attribute(("to_port", port))
                .add_attribute(("cidr_ipv4", super::network::cidr(m, side)))
                .build(),
        )
    };
    let blocks = vec![
        resource(
            "aws_security_group",
            sg,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("name", m.names.regional_purpose("rotation", side).expr()))
                .add_attribute((
                    "description",
                    "Secret rotation function: the database and the Secrets Manager endpoint",
                ))
                .add_attribute(("vpc_id", vpc_id(m, side)))
                .add_attribute(name_tag(&m.names.regional_purpose("rotation", side)))
                .build(),
        ),
        egress("to_db", "PostgreSQL to the database", u64::from(m.database.port)),
        egress("to_endpoints", "HTTPS to the Secrets Manager endpoint", 443),
        log_group(m, &stack, side, m.names.function_log_group(&function).expr()),
        data(
            "aws_serverlessapplicationrepository_application",
            &stack,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("application_id", ROTATION_APP))
                .build(),
        ),
        resource(
            "aws_serverlessapplicationrepository_cloudformation_stack",
            &stack,
            Body::builder()
                .add_attribute(("provider", p()))
                .add_attribute(("name", m.names.rotation_stack(side).expr()))
                .add_attribute((
                    "application_id",
                    r(&format!(
                        "data.aws_serverlessapplicationrepository_application.{stack}.application_id"
                    )),
                ))
                .add_attribute((
                    "semantic_version",
                    r(&format!(
                        "data.aws_serverlessapplicationrepository_application.{stack}.semantic_version"
                    )),
                ))
                .add_attribute((
                    "capabilities",
                    r(&format!(
                        "data.aws_serverlessapplicationrepository_application.{stack}.required_capabilities"
                    )),
                ))
                .add_attribute((
                    "parameters",
                    obj([
                        (
                            "endpoint",
                            Expression::String(format!(
                                "https://secretsmanager.{}.amazonaws.com",
                                region.region
                            )),
                        ),
                        ("functionName", function.expr()),
                        ("vpcSubnetIds", call("join", [Expression::from(","), subnet_ids(m, side)])),
                        ("vpcSecurityGroupIds", r(&format!("aws_security_group.{sg}.id"))),
                        ("kmsKeyArn", rs("aws_kms_key", side, "arn")),
                        ("excludeCharacters", Expression::from(EXCLUDED)),
                    ]),
                ))
                .add_attribute(("depends_on", arr([r(&format!("aws_cloudwatch_log_group.{stack}"))])))
                .add_block(labelled(
                    "lifecycle",
                    &[],
                    // A newer published version is adopted deliberately, not on every plan.
                    Body::builder().add_attribute(("ignore_changes", arr([r("semantic_version")]))).build(),
                ))
                .build(),
        ),
    ];
    doc.add("secrets.tf", blocks);
    // Rotation of the primary region's copy needs the primary; once it is retired, the DR copy
    // (standalone since the failover) is rotated in the DR region. The workflow turned that
    // rotation on already, so this one does not rotate immediately.
    if side == Side::Primary && super::database::exists(m, side) {
        doc.add(
            "secrets.tf",
            [schedule(
                m,
                side,
                "master",
                r("aws_secretsmanager_secret.master.id"),
                None,
                &[r("aws_db_instance.primary"), r("aws_secretsmanager_secret_version.master")],
            )],
        );
    }
    if side == Side::Dr && m.database.primary_retired {
        doc.add(
            "secrets.tf",
            [schedule(m, side, "dr", r(&format!("{DR_SECRET}.id")), Some(false), &[r("aws_db_instance.dr")])],
        );
    }
}

/// The rotation schedule of one region's secret, by that region's rotation function.
fn schedule(
    m: &Topology,
    side: Side,
    label: &str,
    secret_id: Expression,
    rotate_immediately: Option<bool>,
    depends_on: &[Expression],
) -> hcl::Block {
    let mut body = Body::builder()
        .add_attribute(("provider", provider(side)))
        .add_attribute(("secret_id", secret_id))
        .add_attribute((
            "rotation_lambda_arn",
            r(&format!(
                "aws_serverlessapplicationrepository_cloudformation_stack.{side}_rotation.outputs.RotationLambdaARN"
            )),
        ));
    if let Some(now) = rotate_immediately {
        body = body.add_attribute(("rotate_immediately", now));
    }
    resource(
        "aws_secretsmanager_secret_rotation",
        label,
        body.add_block(labelled(
            "rotation_rules",
            &[],
            Body::builder()
                .add_attribute(("automatically_after_days", u64::from(m.database.password_rotation_days)))
                .build(),
        ))
        .add_attribute(("depends_on", arr(depends_on.iter().cloned())))
        .build(),
    )
}
