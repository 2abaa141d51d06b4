//! The declaration of every AWS call the Lambda package's code makes (`lambda/calls.json`), read
//! once. The renderer derives each function's IAM statements, the VPC endpoints its region needs
//! and its egress from it; the package's tests check that the code makes exactly these calls.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::naming::Function;

/// The resources a call may name; `render::calls` resolves each to a Terraform expression.
pub const RESOURCES: [&str; 11] = [
    "any",
    "metric_namespace",
    "state_table",
    "replica_instance",
    "primary_instance",
    "dr_secret",
    "state_machine",
    "default_bus",
    "topic",
    "rotation_function",
    "routing_controls",
];

/// The declaration as committed.
pub const SOURCE: &str = include_str!("../lambda/calls.json");

/// How an AWS service is reached.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// The boto3 client name.
    pub client: String,
    /// The VPC endpoint's service name: `com.amazonaws.<region>.<endpoint>`.
    pub endpoint: String,
    /// A gateway endpoint (routes to the service's public addresses: egress to its prefix list).
    pub gateway: bool,
}

/// Where a call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallRegion {
    /// The function's own region.
    Own,
    /// The primary region, whatever the function's region.
    Primary,
    /// The regional endpoints of the Route 53 ARC cluster, reached from outside any VPC.
    Cluster,
}

/// One group of calls on one resource, which becomes one IAM statement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    pub sid: String,
    /// The IAM prefix.
    pub service: String,
    pub actions: Vec<String>,
    /// A resource drgen renders, resolved by `render::calls`.
    pub resource: String,
    pub region: CallRegion,
    /// The environment variable that must be set for the calls to happen.
    #[serde(default)]
    pub when: Option<String>,
    /// A permission that another call needs, not a call of its own (no network path needed).
    #[serde(default)]
    pub implied_by: Option<String>,
    pub why: String,
}

impl Call {
    /// `service:Action` for each action.
    pub fn iam_actions(&self) -> Vec<String> {
        self.actions.iter().map(|a| format!("{}:{a}", self.service)).collect()
    }

    /// Whether the call crosses the network from the function (rather than being a permission
    /// that another call needs).
    pub fn is_call(&self) -> bool {
        self.implied_by.is_none()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    #[allow(dead_code)]
    about: String,
    pub services: BTreeMap<String, Service>,
    pub functions: BTreeMap<String, Vec<Call>>,
}

impl Declaration {
    /// The calls of one function.
    pub fn calls(&self, function: Function) -> &[Call] {
        self.functions.get(function.word()).map_or(&[], Vec::as_slice)
    }

    /// The service a call goes to.
    pub fn service(&self, call: &Call) -> &Service {
        self.services.get(&call.service).expect("checked when the declaration is read")
    }

    fn check(self) -> Result<Self, String> {
        for (function, calls) in &self.functions {
            if !["observer", "guard", "monitor", "failover", "lease"].contains(&function.as_str()) {
                return Err(format!("functions.{function}: not a drgen function"));
            }
            for call in calls {
                if !self.services.contains_key(&call.service) {
                    return Err(format!(
                        "functions.{function}.{}: service {} is not listed",
                        call.sid, call.service
                    ));
                }
                if !RESOURCES.contains(&call.resource.as_str()) {
                    return Err(format!(
                        "functions.{function}.{}: resource {} is not one of {}",
                        call.sid,
                        call.resource,
                        RESOURCES.join(", ")
                    ));
                }
                if call.actions.is_empty() {
                    return Err(format!("functions.{function}.{}: no actions", call.sid));
                }
            }
        }
        Ok(self)
    }
}

/// The declaration, parsed and checked once.
pub fn declaration() -> &'static Declaration {
    static DECLARATION: OnceLock<Declaration> = OnceLock::new();
    DECLARATION.get_or_init(|| {
        parse(SOURCE).unwrap_or_else(|e| panic!("lambda/calls.json is checked by the tests: {e}"))
    })
}

/// Parses and checks a declaration.
pub fn parse(text: &str) -> Result<Declaration, String> {
    serde_json::from_str::<Declaration>(text).map_err(|e| e.to_string())?.check()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_declaration_reads() {
        let d = parse(SOURCE).unwrap();
        for f in [Function::Observer, Function::Guard, Function::Monitor, Function::Failover, Function::Lease]
        {
            assert!(!d.calls(f).is_empty(), "{}", f.word());
        }
    }

    #[test]
    fn an_unknown_service_is_refused() {
        let text = r#"{"about": "", "services": {}, "functions": {"monitor": [
            {"sid": "X", "service": "rds", "actions": ["A"], "resource": "any", "region": "own", "why": ""}]}}"#;
        assert!(parse(text).unwrap_err().contains("service rds is not listed"));
    }
}
