//! Small constructors for hcl-rs expressions used throughout the renderers.
//!
//! References are parsed from dotted paths into real traversals; strings from the model go
//! through `Expression::String`, which hcl-rs escapes; templates only ever combine drgen's own
//! fixed text with references.

use hcl::expr::{
    Expression, FuncCall, Object, ObjectKey, TemplateExpr, Traversal, TraversalOperator, Variable,
};
use hcl::{Block, Body};

use crate::model::Side;

/// A reference such as `aws_vpc.primary.id`, `aws_subnet.dr[0].id`, `aws_subnet.dr[*].id`
/// or `aws_subnet.dr[count.index].id`.
pub fn r(path: &str) -> Expression {
    let (root, mut rest) = split_name(path);
    let var = Variable::new(root).expect("valid identifier");
    let mut ops = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let (name, tail) = split_name(after);
            ops.push(TraversalOperator::GetAttr(name.into()));
            rest = tail;
        } else if let Some(after) = rest.strip_prefix('[') {
            let close = matching_bracket(after);
            let inner = &after[..close];
            ops.push(match inner {
                "*" => TraversalOperator::FullSplat,
                _ => match inner.parse::<u64>() {
                    Ok(n) => TraversalOperator::Index(Expression::Number(n.into())),
                    Err(_) => TraversalOperator::Index(r(inner)),
                },
            });
            rest = &after[close + 1..];
        } else {
            panic!("malformed reference {path}");
        }
    }
    if ops.is_empty() {
        Expression::Variable(var)
    } else {
        Expression::from(Traversal::new(var, ops))
    }
}

fn split_name(s: &str) -> (&str, &str) {
    let end = s.find(['.', '[']).unwrap_or(s.len());
    s.split_at(end)
}

fn matching_bracket(s: &str) -> usize {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' if depth == 0 => return i,
            ']' => depth -= 1,
            _ => {}
        }
    }
    panic!("unclosed bracket in reference {s}");
}

/// A reference to an attribute of a per-region resource: `<kind>.<side>.<attr>`.
pub fn rs(kind: &str, side: Side, attr: &str) -> Expression {
    r(&format!("{kind}.{}.{attr}", side.label()))
}

/// A template string built from drgen's fixed text and `${...}` references.
pub fn t(template: &str) -> Expression {
    Expression::from(TemplateExpr::QuotedString(template.to_string()))
}

/// A function call.
pub fn call(name: &str, args: impl IntoIterator<Item = Expression>) -> Expression {
    let mut builder = FuncCall::builder(name);
    for a in args {
        builder = builder.arg(a);
    }
    Expression::from(builder.build())
}

/// `jsonencode(value)`.
pub fn json(value: Expression) -> Expression {
    call("jsonencode", [value])
}

/// An object from keys and values, in the given order.
pub fn obj<K: Into<String>>(items: impl IntoIterator<Item = (K, Expression)>) -> Expression {
    let mut o = Object::new();
    for (k, v) in items {
        let k: String = k.into();
        let key = if hcl::Identifier::new(k.clone()).is_ok() {
            ObjectKey::Identifier(hcl::Identifier::unchecked(k))
        } else {
            ObjectKey::Expression(Expression::String(k))
        };
        o.insert(key, v);
    }
    Expression::Object(o)
}

/// An array.
pub fn arr(items: impl IntoIterator<Item = Expression>) -> Expression {
    Expression::Array(items.into_iter().collect())
}

/// An array of strings.
pub fn strs<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Expression {
    arr(items.into_iter().map(|s| Expression::String(s.as_ref().to_string())))
}

/// `resource "<kind>" "<name>" { ... }` with the body given.
pub fn resource(kind: &str, name: &str, body: Body) -> Block {
    labelled("resource", &[kind, name], body)
}

/// `data "<kind>" "<name>" { ... }`.
pub fn data(kind: &str, name: &str, body: Body) -> Block {
    labelled("data", &[kind, name], body)
}

/// A block with labels and a body.
pub fn labelled(ident: &str, labels: &[&str], body: Body) -> Block {
    let mut b = Block::builder(ident);
    for l in labels {
        b = b.add_label(*l);
    }
    b.add_structures(body).build()
}

/// A `postcondition` block: the plan fails with `message` unless `condition` holds.
pub fn postcondition(condition: Expression, message: impl Into<String>) -> Block {
    labelled(
        "postcondition",
        &[],
        Body::builder()
            .add_attribute(("condition", condition))
            .add_attribute(("error_message", message.into()))
            .build(),
    )
}

/// The `provider = aws.<side>` meta-argument value.
pub fn provider(side: Side) -> Expression {
    r(&format!("aws.{}", side.label()))
}
