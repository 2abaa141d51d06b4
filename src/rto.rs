//! The recovery-time budget, computed from the model.

use crate::config::HealthCheckMode;
use crate::model::{Dns, Failover};

/// Standard-resolution CloudWatch metrics, the only kind Route 53 health checks accept.
const CLOUDWATCH_PERIOD_SECONDS: u32 = 60;

/// Worst-case times from a primary failure to rerouted DNS and to the start of promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtoBudget {
    /// Time until the observer health checks turn unhealthy.
    pub detection: u32,
    /// Time for the calculated health check to follow its children.
    pub calculated_allowance: u32,
    /// Time until resolvers drop the cached answer.
    pub ttl: u32,
    /// Schedule period of the monitor.
    pub schedule: u32,
    /// Probes per monitor run times the interval between them.
    pub probing: u32,
}

impl RtoBudget {
    pub fn new(f: &Failover, d: &Dns) -> Self {
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
        Self {
            detection,
            calculated_allowance,
            ttl: d.ttl_seconds,
            schedule: f.monitor_schedule_minutes * 60,
            probing: f.monitor_probes * f.monitor_probe_interval_seconds,
        }
    }

    pub fn detection_seconds(&self) -> u32 {
        self.detection + self.calculated_allowance
    }

    /// Worst case from failure until clients resolve the DR address.
    pub fn reroute_seconds(&self) -> u32 {
        self.detection + self.calculated_allowance + self.ttl
    }

    pub fn reroute_formula(&self) -> String {
        format!(
            "{} detection + {} calculated check + {} TTL",
            self.detection, self.calculated_allowance, self.ttl
        )
    }

    /// Worst case from failure until the monitor starts the promotion.
    pub fn promotion_start_seconds(&self) -> u32 {
        self.schedule + self.probing
    }
}
