//! Terraform settings, providers, the suffix variable and its value: `versions.tf`,
//! `providers.tf`, `variables.tf` and `terraform.tfvars`. The bootstrap root uses them too.

use hcl::expr::{BinaryOp, BinaryOperator, Expression};
use hcl::{Block, Body};

use super::Doc;
use crate::model::{Side, Topology, SLUG_REGEX};
use crate::naming::SUFFIX_VAR;
use crate::syntax::{call, labelled, obj, r};

/// The `terraform` block: Terraform >= 1.5 and the AWS provider 5.x, nothing else.
pub fn versions() -> Block {
    versions_with(None)
}

/// The `terraform` block, with the provider's `configuration_aliases` for a child module.
pub fn versions_with(aliases: Option<Expression>) -> Block {
    let mut aws =
        vec![("source", Expression::from("hashicorp/aws")), ("version", Expression::from("~> 5.0"))];
    if let Some(aliases) = aliases {
        aws.push(("configuration_aliases", aliases));
    }
    labelled(
        "terraform",
        &[],
        Body::builder()
            .add_attribute(("required_version", ">= 1.5"))
            .add_block(labelled(
                "required_providers",
                &[],
                Body::builder().add_attribute(("aws", obj(aws))).build(),
            ))
            .build(),
    )
}

/// `provider "aws"` for one side, with the default tags.
pub fn provider(m: &Topology, side: Side) -> Block {
    let tags = m.default_tags().into_iter().map(|(k, v)| {
        let value = if k == "environmentSuffix" { r(SUFFIX_VAR) } else { Expression::String(v) };
        (k, value)
    });
    labelled(
        "provider",
        &["aws"],
        Body::builder()
            .add_attribute(("alias", side.label()))
            .add_attribute(("region", m.region(side).region.name()))
            .add_block(labelled(
                "default_tags",
                &[],
                Body::builder().add_attribute(("tags", obj(tags))).build(),
            ))
            .build(),
    )
}

/// The `environment_suffix` variable, validated as drgen validates it.
pub fn suffix_variable(m: &Topology) -> Block {
    let (max, tightest) = m.names.max_suffix_len();
    let condition = Expression::from(BinaryOp::new(
        call("can", [call("regex", [Expression::from(SLUG_REGEX), r(SUFFIX_VAR)])]),
        BinaryOperator::And,
        Expression::from(BinaryOp::new(
            call("length", [r(SUFFIX_VAR)]),
            BinaryOperator::LessEq,
            Expression::from(max as u64),
        )),
    ));
    let message = format!(
        "The environment suffix must be 1 to {max} lowercase letters, digits and single hyphens, start with a letter and not end with a hyphen; {max} is what the {} allows.",
        tightest.service
    );
    labelled(
        "variable",
        &["environment_suffix"],
        Body::builder()
            .add_attribute(("description", "Suffix of every resource name, for example prod or staging."))
            .add_attribute(("type", r("string")))
            .add_block(labelled(
                "validation",
                &[],
                Body::builder()
                    .add_attribute(("condition", condition))
                    .add_attribute(("error_message", message))
                    .build(),
            ))
            .build(),
    )
}

/// The values file: the suffix this rendering was made for.
pub fn tfvars(m: &Topology) -> Body {
    Body::builder().add_attribute(("environment_suffix", m.suffix.as_str())).build()
}

pub fn render(m: &Topology, doc: &mut Doc) {
    doc.add("versions.tf", [versions()]);
    doc.add("providers.tf", Side::BOTH.map(|side| provider(m, side)));
    doc.add("variables.tf", [suffix_variable(m)]);
    doc.add_body("terraform.tfvars", tfvars(m));
}
