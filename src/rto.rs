//! The recovery-time budget, computed from the model. Every figure is an upper bound.

use crate::config::{DnsSwitch, HealthCheckMode};

/// Upper bound of one monitor tick's AWS and PostgreSQL calls after its probe: four AWS reads
/// (5 s read timeout, two attempts each) and two WAL-position queries, within the probe timeout.
pub const TICK_CALLS_SECONDS: u32 = 45;

/// The plain values the budget is computed from (the model provides them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtoInputs {
    pub health_check_mode: HealthCheckMode,
    pub request_interval_seconds: u32,
    pub failure_threshold: u32,
    pub ttl_seconds: u32,
    pub switch: DnsSwitch,
    pub monitor_schedule_seconds: u32,
    pub monitor_run_seconds: u32,
    pub probe_interval_seconds: u32,
    pub probe_timeout_seconds: u32,
    pub confirm_seconds: u32,
}

/// Standard-resolution CloudWatch metrics, the only kind Route 53 health checks accept.
const CLOUDWATCH_PERIOD_SECONDS: u32 = 60;

/// How long Route 53 may take to follow the writer-authority alarm. AWS documents no bound for
/// a CLOUDWATCH_METRIC check; this is the stated allowance (one alarm period for the alarm, two
/// for Route 53 to read the data stream), in whole minutes on purpose.
pub const AUTHORITY_DELAY_SECONDS: u32 = 3 * CLOUDWATCH_PERIOD_SECONDS;

/// Worst-case times from a primary failure to rerouted DNS and to the start of promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtoBudget {
    /// Time until the observer health checks turn unhealthy.
    pub detection: u32,
    /// Time for the calculated health check to follow its children.
    pub calculated_allowance: u32,
    /// Time until resolvers drop the cached answer.
    pub ttl: u32,
    /// Until the monitor's first failed probe: one probe interval and timeout, plus the gap
    /// between two monitor runs.
    pub first_miss: u32,
    /// The confirm window: the primary unreachable from the DR side without a break.
    pub confirm: u32,
    /// The deciding tick's AWS and PostgreSQL calls.
    pub tick_calls: u32,
    /// The writer authority reaching Route 53 (stated, not measured).
    pub authority: u32,
    /// What moves DNS.
    pub switch: DnsSwitch,
}

impl RtoBudget {
    pub fn new(f: &RtoInputs) -> Self {
        let (detection, calculated_allowance) = match f.health_check_mode {
            // Each Route 53 checker needs `failure_threshold` failed requests at the interval.
            // A calculated check is evaluated from its children's status; AWS documents no
            // further delay, so none is added here (the failover drill measures it).
            HealthCheckMode::Endpoint => (f.request_interval_seconds * f.failure_threshold, 0),
            // The alarm needs `failure_threshold` one-minute periods; Route 53 then reads the
            // alarm state, which the allowance of one period covers.
            HealthCheckMode::Cloudwatch => {
                (CLOUDWATCH_PERIOD_SECONDS * f.failure_threshold, CLOUDWATCH_PERIOD_SECONDS)
            }
        };
        let gap = f.monitor_schedule_seconds.saturating_sub(f.monitor_run_seconds);
        Self {
            detection,
            calculated_allowance,
            ttl: f.ttl_seconds,
            first_miss: f.probe_interval_seconds + f.probe_timeout_seconds + gap,
            confirm: f.confirm_seconds,
            tick_calls: TICK_CALLS_SECONDS,
            authority: AUTHORITY_DELAY_SECONDS,
            switch: f.switch,
        }
    }

    pub fn detection_seconds(&self) -> u32 {
        self.detection + self.calculated_allowance
    }

    /// Worst case from failure until clients resolve the DR address.
    pub fn reroute_seconds(&self) -> u32 {
        match self.switch {
            DnsSwitch::Detection => self.detection + self.calculated_allowance + self.ttl,
            DnsSwitch::Promotion => self.promotion_start_seconds() + self.authority + self.ttl,
        }
    }

    pub fn reroute_formula(&self) -> String {
        match self.switch {
            DnsSwitch::Detection => format!(
                "{} detection + {} calculated check + {} TTL",
                self.detection, self.calculated_allowance, self.ttl
            ),
            DnsSwitch::Promotion => format!(
                "{} until promotion starts + {} authority to Route 53 + {} TTL",
                self.promotion_start_seconds(),
                self.authority,
                self.ttl
            ),
        }
    }

    /// Worst case from failure until the monitor calls PromoteReadReplica.
    pub fn promotion_start_seconds(&self) -> u32 {
        self.first_miss + self.confirm + self.tick_calls
    }
}
