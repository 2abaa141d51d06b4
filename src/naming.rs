//! Every AWS name drgen creates is derived here, and only here, so that the limit of each
//! service can be checked against the real names before anything is rendered.

use hcl::expr::{Expression, TemplateExpr};

use crate::side::Side;

/// The Terraform variable that carries the environment suffix.
pub const SUFFIX_VAR: &str = "var.environment_suffix";

/// A name made of a fixed part, the environment suffix and an optional fixed tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsName {
    head: String,
    tail: String,
    /// The service's length limit.
    pub limit: usize,
    /// What the name belongs to, for messages.
    pub service: &'static str,
}

impl AwsName {
    fn new(head: String, tail: &str, limit: usize, service: &'static str) -> Self {
        Self { head, tail: tail.to_string(), limit, service }
    }

    /// The name with a concrete suffix.
    pub fn with_suffix(&self, suffix: &str) -> String {
        format!("{}{suffix}{}", self.head, self.tail)
    }

    /// The name as rendered: a template over the suffix variable. Head and tail come from
    /// checked model fields (lowercase letters, digits, `-`, `/`, `.`), never from free text.
    pub fn expr(&self) -> Expression {
        Expression::from(TemplateExpr::QuotedString(self.template()))
    }

    /// The template text of `expr`, for embedding in a longer drgen template.
    pub fn template(&self) -> String {
        self.with_suffix(&format!("${{{SUFFIX_VAR}}}"))
    }

    /// How long the suffix may be for this name to fit.
    fn room(&self) -> usize {
        self.limit.saturating_sub(self.head.len() + self.tail.len())
    }
}

/// The purposes of drgen's IAM roles (IAM is global, so each name also carries the region role).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    FlowLogs,
    RdsMonitoring,
    Observer,
    Monitor,
    Promoter,
    Failover,
    Backup,
    StateReplication,
    EventForwarding,
    Guard,
    /// The primary-region lease keeper (ARC authority).
    Lease,
}

impl Role {
    pub const ALL: [Role; 11] = [
        Role::FlowLogs,
        Role::RdsMonitoring,
        Role::Observer,
        Role::Monitor,
        Role::Promoter,
        Role::Failover,
        Role::Backup,
        Role::StateReplication,
        Role::EventForwarding,
        Role::Guard,
        Role::Lease,
    ];

    fn word(self) -> &'static str {
        match self {
            Role::FlowLogs => "flowlogs",
            Role::RdsMonitoring => "rds-mon",
            Role::Observer => "observer",
            Role::Monitor => "monitor",
            Role::Promoter => "promoter",
            Role::Failover => "failover",
            Role::EventForwarding => "rds-events",
            Role::Backup => "backup",
            Role::StateReplication => "s3-repl",
            Role::Guard => "guard",
            Role::Lease => "lease",
        }
    }
}

/// drgen's Lambda functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Observer,
    /// The primary-region guard: what the primary's own region sees, every few seconds.
    Guard,
    Monitor,
    Failover,
    /// The primary-region lease keeper: fences its own primary when the ARC routing controls
    /// name DR or cannot be read for the lease time.
    Lease,
}

impl Function {
    pub fn word(self) -> &'static str {
        match self {
            Function::Observer => "observer",
            Function::Guard => "guard",
            Function::Monitor => "monitor",
            Function::Failover => "failover",
            Function::Lease => "lease",
        }
    }
}

/// Name derivation for one topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    prefix: String,
    bucket: Option<String>,
}

impl Names {
    pub fn new(prefix: &str, bucket: Option<&str>) -> Self {
        Self { prefix: prefix.to_string(), bucket: bucket.map(str::to_string) }
    }

    fn name(&self, middle: &str, limit: usize, service: &'static str) -> AwsName {
        AwsName::new(format!("{}-{middle}-", self.prefix), "", limit, service)
    }

    /// `<prefix>-<side>-<suffix>`: VPC, subnet group, security groups and other per-region names.
    pub fn regional(&self, side: Side) -> AwsName {
        self.name(side.label(), 255, "regional name")
    }

    /// A per-region name with a purpose, such as a security group or an event rule.
    pub fn regional_purpose(&self, purpose: &str, side: Side) -> AwsName {
        self.name(&format!("{purpose}-{}", side.label()), 64, "EventBridge rule or security group name")
    }

    /// A Route 53 ARC cluster, control panel, routing control or safety rule (1 to 64
    /// characters).
    pub fn arc(&self, what: &str) -> AwsName {
        self.name(what, 64, "Route 53 ARC name")
    }

    pub fn db_identifier(&self, side: Side) -> AwsName {
        let word = match side {
            Side::Primary => "primary",
            Side::Dr => "replica",
        };
        self.name(word, 63, "RDS instance identifier")
    }

    /// The RDS log group of one exported log (`postgresql` or `upgrade`).
    pub fn db_log_group(&self, side: Side, log: &str) -> AwsName {
        let id = self.db_identifier(side);
        AwsName::new(format!("/aws/rds/instance/{}", id.head), &format!("/{log}"), 512, "log group")
    }

    /// The snapshot RDS takes when the instance is deleted (only when not destroyable).
    pub fn final_snapshot(&self, side: Side) -> AwsName {
        let id = self.db_identifier(side);
        AwsName::new(id.head, "-final", 255, "DB snapshot identifier")
    }

    /// The log group of a Lambda function.
    pub fn function_log_group(&self, function: &AwsName) -> AwsName {
        AwsName::new(format!("/aws/lambda/{}", function.head), &function.tail, 512, "log group")
    }

    /// The prefix of a DB parameter group's name (RDS appends 26 characters).
    pub fn db_parameter_group(&self, side: Side) -> AwsName {
        AwsName::new(
            format!("{}-pg15-{}-", self.prefix, side.label()),
            "-",
            255 - 26,
            "DB parameter group name prefix",
        )
    }

    /// The AWS Backup selection of the side's database (the DR instance has one once it is the
    /// writer).
    pub fn backup_selection(&self, side: Side) -> AwsName {
        self.name(&format!("{}-database", side.label()), 50, "AWS Backup selection name")
    }

    pub fn kms_alias(&self, side: Side) -> AwsName {
        AwsName::new(format!("alias/{}-{}-", self.prefix, side.label()), "", 256, "KMS alias")
    }

    /// The alias of the key that encrypts the Terraform state (created by `bootstrap/`).
    pub fn state_kms_alias(&self, side: Side) -> AwsName {
        AwsName::new(format!("alias/{}-tfstate-{}-", self.prefix, side.label()), "", 256, "KMS alias")
    }

    pub fn flow_log_group(&self, side: Side) -> AwsName {
        AwsName::new(format!("/drgen/{}-{}-", self.prefix, side.label()), "/vpc-flow-logs", 512, "log group")
    }

    pub fn role(&self, role: Role, side: Side) -> AwsName {
        self.name(&format!("{}-{}", role.word(), side.label()), 64, "IAM role name")
    }

    pub fn function(&self, function: Function, side: Side) -> AwsName {
        self.name(&format!("{}-{}", function.word(), side.label()), 64, "Lambda function name")
    }

    pub fn rotation_function(&self, side: Side) -> AwsName {
        self.name(&format!("rotation-{}", side.label()), 64, "Lambda function name")
    }

    pub fn rotation_stack(&self, side: Side) -> AwsName {
        self.name(&format!("rotation-{}", side.label()), 128, "CloudFormation stack name")
    }

    /// The DynamoDB global table of the failover state (homed in the DR region).
    pub fn failover_table(&self) -> AwsName {
        self.name("failover", 255, "DynamoDB table name")
    }

    pub fn topic(&self, side: Side) -> AwsName {
        self.name(&format!("alerts-{}", side.label()), 256, "SNS topic name")
    }

    /// The SQS queue that keeps a function's failed asynchronous invocations.
    pub fn dead_letter_queue(&self, function: Function, side: Side) -> AwsName {
        self.name(&format!("{}-dlq-{}", function.word(), side.label()), 80, "SQS queue name")
    }

    /// The SSM parameter holding the observers' path token.
    pub fn probe_token(&self) -> AwsName {
        AwsName::new(format!("/drgen/{}-", self.prefix), "/probe-token", 2048, "SSM parameter name")
    }

    /// The CloudWatch namespace of drgen's own metrics.
    pub fn metric_namespace(&self) -> AwsName {
        AwsName::new(format!("drgen/{}-", self.prefix), "", 255, "CloudWatch namespace")
    }

    /// The access-log group of a region's observer API.
    pub fn api_log_group(&self, side: Side) -> AwsName {
        AwsName::new(format!("/drgen/{}-observer-api-{}-", self.prefix, side.label()), "", 512, "log group")
    }

    /// The log group of the state machine.
    pub fn state_machine_log_group(&self) -> AwsName {
        AwsName::new(format!("/aws/vendedlogs/states/{}-promote-", self.prefix), "", 512, "log group")
    }

    /// The Name tag of a Route 53 health check.
    pub fn health_check(&self, what: &str) -> AwsName {
        self.name(what, 255, "health check name")
    }

    /// An EventBridge rule.
    pub fn rule(&self, what: &str, side: Side) -> AwsName {
        self.name(&format!("{what}-{}", side.label()), 64, "EventBridge rule name")
    }

    pub fn state_machine(&self) -> AwsName {
        self.name("promote", 80, "Step Functions state machine name")
    }

    pub fn secret(&self) -> AwsName {
        AwsName::new(format!("{}/", self.prefix), "/master", 512, "secret name")
    }

    pub fn backup_vault(&self, side: Side) -> AwsName {
        self.name(side.label(), 50, "AWS Backup vault name")
    }

    pub fn backup_plan(&self) -> AwsName {
        self.name("daily", 50, "AWS Backup plan name")
    }

    pub fn alarm(&self, what: &str, side: Side) -> AwsName {
        self.name(&format!("{what}-{}", side.label()), 255, "CloudWatch alarm name")
    }

    pub fn state_bucket(&self) -> AwsName {
        match &self.bucket {
            Some(b) => AwsName::new(b.clone(), "", usize::MAX, "S3 bucket name"),
            None => self.name("tfstate", 63, "S3 bucket name"),
        }
    }

    /// The bucket in the DR region that the state bucket replicates to.
    pub fn state_replica_bucket(&self) -> AwsName {
        match &self.bucket {
            Some(b) if b.len() <= 60 => AwsName::new(format!("{b}-dr"), "", usize::MAX, "S3 bucket name"),
            _ => self.name("tfstate-dr", 63, "S3 bucket name"),
        }
    }

    pub fn lock_table(&self) -> AwsName {
        self.name("tflock", 255, "DynamoDB table name")
    }

    /// The key of this environment's state in the bucket.
    pub fn state_key(&self, suffix: &str) -> String {
        format!("{}/{suffix}/terraform.tfstate", self.prefix)
    }

    /// Every name, for the length check.
    pub fn all(&self) -> Vec<AwsName> {
        let mut all = vec![
            self.failover_table(),
            self.state_machine(),
            self.secret(),
            self.backup_plan(),
            self.state_bucket(),
            self.state_replica_bucket(),
            self.lock_table(),
            self.probe_token(),
            self.metric_namespace(),
            self.state_machine_log_group(),
        ];
        for side in Side::BOTH {
            all.extend([
                self.regional(side),
                self.regional_purpose("rds-events", side),
                self.regional_purpose("endpoints", side),
                self.regional_purpose("db", side),
                self.regional_purpose("rotation", side),
                self.final_snapshot(side),
                self.db_identifier(side),
                self.db_parameter_group(side),
                self.kms_alias(side),
                self.state_kms_alias(side),
                self.flow_log_group(side),
                self.function(Function::Observer, side),
                self.function(Function::Monitor, side),
                self.function(Function::Failover, side),
                self.function(Function::Guard, side),
                self.function(Function::Lease, side),
                self.rotation_function(side),
                self.rotation_stack(side),
                self.regional_purpose("fenced", side),
                self.regional_purpose("observer-api", side),
                self.rule("recovery-events", side),
                self.alarm("writer-authority", side),
                self.alarm("workflow-timed-out", side),
                self.alarm("observer-throttles", side),
                self.alarm("authority-disagree", side),
                self.alarm("primary-observer-check", side),
                self.topic(side),
                self.backup_vault(side),
                self.backup_selection(side),
                self.alarm("replica-lag", side),
                self.dead_letter_queue(Function::Observer, side),
                self.dead_letter_queue(Function::Monitor, side),
                self.dead_letter_queue(Function::Failover, side),
                self.dead_letter_queue(Function::Guard, side),
                self.dead_letter_queue(Function::Lease, side),
                self.rule("lease-schedule", side),
                self.rule("guard-schedule", side),
                self.rule("monitor-schedule", side),
                self.rule("observer-schedule", side),
                self.rule("failover-events", side),
            ]);
            all.extend(Role::ALL.iter().map(|&r| self.role(r, side)));
        }
        all
    }

    /// The longest suffix every name has room for, and the name that sets it.
    pub fn max_suffix_len(&self) -> (usize, AwsName) {
        self.all().into_iter().map(|n| (n.room(), n)).min_by_key(|(room, _)| *room).expect("names exist")
    }
}
