//! Helpers shared by the component renderers: ARNs, IAM documents, common arguments.

use hcl::expr::Expression;
use hcl::{Block, Body};

use crate::model::{Side, Topology};
use crate::naming::AwsName;
use crate::syntax::{arr, data, json, labelled, obj, provider, r, resource, rs, strs, t};

/// `${data.aws_partition.<side>.partition}`, for use inside templates.
pub fn partition(side: Side) -> String {
    format!("${{data.aws_partition.{}.partition}}", side.label())
}

/// `${data.aws_caller_identity.<side>.account_id}`, for use inside templates.
pub fn account(side: Side) -> String {
    format!("${{data.aws_caller_identity.{}.account_id}}", side.label())
}

/// An ARN in the side's partition, region and account: `arn:P:<service>:<region>:A:<resource>`.
/// `resource` is drgen's own fixed text and may hold `${...}` references.
pub fn arn(m: &Topology, side: Side, service: &str, resource: &str) -> Expression {
    t(&format!("arn:{}:{service}:{}:{}:{resource}", partition(side), m.region(side).region, account(side)))
}

/// The account's root principal ARN.
pub fn root_principal(side: Side) -> Expression {
    t(&format!("arn:{}:iam::{}:root", partition(side), account(side)))
}

/// A service principal in the side's region, e.g. `logs.us-east-1.amazonaws.com`.
pub fn regional_service(m: &Topology, side: Side, service: &str) -> String {
    format!("{service}.{}.amazonaws.com", m.region(side).region)
}

/// An IAM policy document as an `aws_iam_policy_document` data source, which reviewers read
/// as blocks and the provider checks. Returns the data block and a reference to its JSON.
pub fn policy(
    label: &str,
    side: Side,
    statements: impl IntoIterator<Item = Statement>,
) -> (Block, Expression) {
    let mut body = Body::builder().add_attribute(("provider", provider(side)));
    for s in statements {
        body = body.add_block(s.block());
    }
    (
        data("aws_iam_policy_document", label, body.build()),
        r(&format!("data.aws_iam_policy_document.{label}.json")),
    )
}

/// A resource policy (a key or endpoint policy, not an IAM policy) in JSON form, kept in a
/// local so that it reads as a block. Returns the `locals` block and `jsonencode(local.<name>)`.
pub fn resource_policy(name: &str, statements: impl IntoIterator<Item = Statement>) -> (Block, Expression) {
    let document = obj([
        ("Version", Expression::from("2012-10-17")),
        ("Statement", arr(statements.into_iter().map(Statement::object))),
    ]);
    let local = labelled("locals", &[], Body::builder().add_attribute((name, document)).build());
    (local, json(r(&format!("local.{name}"))))
}

/// One IAM statement.
pub struct Statement {
    sid: String,
    effect: &'static str,
    principal: Option<(String, Vec<Expression>)>,
    actions: Vec<String>,
    resources: Option<Vec<Expression>>,
    conditions: Vec<(String, String, Vec<Expression>)>,
}

impl Statement {
    pub fn allow(sid: &str, actions: &[&str], resources: impl Into<Resources>) -> Self {
        Self {
            sid: sid.to_string(),
            effect: "Allow",
            principal: None,
            actions: actions.iter().map(ToString::to_string).collect(),
            resources: Some(resources.into().0),
            conditions: Vec::new(),
        }
    }

    pub fn deny(sid: &str, actions: &[&str], resources: impl Into<Resources>) -> Self {
        Self { effect: "Deny", ..Self::allow(sid, actions, resources) }
    }

    /// A trust statement: `service` may assume the role (a trust policy names no resource).
    pub fn assume(service: &str) -> Self {
        Self {
            resources: None,
            ..Self::allow("AssumeRole", &["sts:AssumeRole"], "*")
                .principal("Service", [Expression::from(service)])
        }
    }

    pub fn principal(mut self, kind: &str, values: impl IntoIterator<Item = Expression>) -> Self {
        self.principal = Some((kind.to_string(), values.into_iter().collect()));
        self
    }

    /// A condition: test, variable, values.
    pub fn when(mut self, test: &str, variable: &str, values: impl IntoIterator<Item = Expression>) -> Self {
        self.conditions.push((test.to_string(), variable.to_string(), values.into_iter().collect()));
        self
    }

    /// The statement in JSON policy form, for documents that are not IAM policies (key policies).
    pub fn object(self) -> Expression {
        let list =
            |v: Vec<Expression>| if v.len() == 1 { v.into_iter().next().expect("one") } else { arr(v) };
        let mut items =
            vec![("Sid", Expression::String(self.sid)), ("Effect", Expression::from(self.effect))];
        if let Some((kind, ids)) = self.principal {
            items.push(("Principal", obj([(kind, list(ids))])));
        }
        items.push(("Action", list(self.actions.into_iter().map(Expression::String).collect())));
        if let Some(resources) = self.resources {
            items.push(("Resource", list(resources)));
        }
        if !self.conditions.is_empty() {
            let mut tests: Vec<(String, Vec<(String, Expression)>)> = Vec::new();
            for (test, variable, values) in self.conditions {
                let value = list(values);
                match tests.iter_mut().find(|(t, _)| *t == test) {
                    Some((_, vars)) => vars.push((variable, value)),
                    None => tests.push((test, vec![(variable, value)])),
                }
            }
            items.push(("Condition", obj(tests.into_iter().map(|(t, vars)| (t, obj(vars))))));
        }
        obj(items)
    }

    fn block(self) -> Block {
        let mut b = Body::builder()
            .add_attribute(("sid", self.sid))
            .add_attribute(("effect", self.effect))
            .add_attribute(("actions", strs(&self.actions)));
        if let Some(resources) = self.resources {
            b = b.add_attribute(("resources", arr(resources)));
        }
        if let Some((kind, ids)) = self.principal {
            b = b.add_block(labelled(
                "principals",
                &[],
                Body::builder()
                    .add_attribute(("type", kind))
                    .add_attribute(("identifiers", arr(ids)))
                    .build(),
            ));
        }
        for (test, variable, values) in self.conditions {
            b = b.add_block(labelled(
                "condition",
                &[],
                Body::builder()
                    .add_attribute(("test", test))
                    .add_attribute(("variable", variable))
                    .add_attribute(("values", arr(values)))
                    .build(),
            ));
        }
        labelled("statement", &[], b.build())
    }
}

/// The resources of a statement.
pub struct Resources(pub Vec<Expression>);

impl From<Expression> for Resources {
    fn from(e: Expression) -> Self {
        Self(vec![e])
    }
}

impl From<Vec<Expression>> for Resources {
    fn from(v: Vec<Expression>) -> Self {
        Self(v)
    }
}

impl From<&str> for Resources {
    fn from(s: &str) -> Self {
        Self(vec![Expression::from(s)])
    }
}

/// An IAM role that `service` may assume, only on behalf of this account.
pub fn role(label: &str, side: Side, name: &AwsName, service: &str, description: &str) -> [Block; 2] {
    let (trust, trust_json) = policy(
        &format!("{label}_trust"),
        side,
        [Statement::assume(service).when("StringEquals", "aws:SourceAccount", [t(&account(side))])],
    );
    let role = resource(
        "aws_iam_role",
        label,
        Body::builder()
            .add_attribute(("provider", provider(side)))
            .add_attribute(("name", name.expr()))
            .add_attribute(("description", description))
            .add_attribute(("assume_role_policy", trust_json))
            .build(),
    );
    [trust, role]
}

/// An inline policy of a role.
pub fn role_policy(label: &str, side: Side, role_label: &str, statements: Vec<Statement>) -> [Block; 2] {
    let (doc, json) = policy(&format!("{label}_permissions"), side, statements);
    let attached = resource(
        "aws_iam_role_policy",
        label,
        Body::builder()
            .add_attribute(("provider", provider(side)))
            .add_attribute(("name", t(&format!("least-privilege-${{{}}}", crate::naming::SUFFIX_VAR))))
            .add_attribute(("role", r(&format!("aws_iam_role.{role_label}.id"))))
            .add_attribute(("policy", json))
            .build(),
    );
    [doc, attached]
}

/// A log group with the retention and the side's CMK.
pub fn log_group(m: &Topology, label: &str, side: Side, name: Expression) -> Block {
    resource(
        "aws_cloudwatch_log_group",
        label,
        Body::builder()
            .add_attribute(("provider", provider(side)))
            .add_attribute(("name", name))
            .add_attribute(("retention_in_days", u64::from(m.monitoring.log_retention_days)))
            .add_attribute(("kms_key_id", rs("aws_kms_key", side, "arn")))
            .build(),
    )
}

/// `tags = { Name = <name> }`.
pub fn name_tag(name: &AwsName) -> (&'static str, Expression) {
    ("tags", obj([("Name", name.expr())]))
}
