//! The recovery-time budget, computed from the model. Every figure is an upper bound.

use crate::config::{DnsSwitch, HealthCheckMode};

/// Upper bound of one monitor tick's AWS and PostgreSQL calls after its probe: four AWS reads
/// (5 s read timeout, two attempts each) and two WAL-position queries, within the probe timeout.
pub const TICK_CALLS_SECONDS: u32 = 45;

/// The monitor's PromoteReadReplica call on the short path: its first attempt, 2 s to connect and
/// 5 s to read (the monitor's client, `_CLIENT_CONFIG` in `lambda/drgen_lambda/adapters.py`).
/// That client retries a failed or throttled attempt twice more, with backoff of up to 1 s and
/// 2 s (up to 17 s more in all); the short path's bound assumes that the DR region, which is up,
/// answers the first attempt.
pub const PROMOTION_CALL_SECONDS: u32 = 2 + 5;

/// The primary-region observer's schedule: it says `alive` once a minute whatever its probe
/// sees, so a primary region that is up speaks at least this often even when its guard fails.
pub const OBSERVER_BEAT_SECONDS: u32 = 60;

/// How much later than its minute an `alive` beat may reach the DR region's copy of the table:
/// EventBridge schedules to the minute, not the second
/// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html), a
/// cold start in the VPC, the write's own deadline, and the global table's replication, which
/// AWS reports as ReplicationLatency without a bound
/// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_monitoring.html).
/// A stated allowance, not a measurement.
pub const SPEAKER_SLACK_SECONDS: u32 = 15;

/// How much later than its minute a scheduled run may start: EventBridge schedules to the minute,
/// not the second (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html),
/// and documents no bound on the delay. A stated allowance, not a measurement; the fault simulator
/// starts runs up to this late.
pub const SCHEDULE_DELAY_SECONDS: u32 = 5;

/// How much later than its minute a guard run may make its first report: EventBridge's delay and
/// a cold start inside the primary VPC. A stated allowance, not a measurement; the fault simulator
/// starts guard runs up to this late.
pub const GUARD_DELAY_SECONDS: u32 = 20;

/// The deadline of each of the guard's AWS calls (`GUARD_CALL_SECONDS` in
/// `lambda/drgen_lambda/adapters.py`): one attempt, 1 s to connect and 2 s to read.
pub const GUARD_CALL_SECONDS: u32 = 3;

/// How long a guard report may take to reach the DR region's copy of the state table. DynamoDB
/// reports global-table replication as ReplicationLatency without a bound
/// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_monitoring.html):
/// a stated allowance, not a measurement.
pub const REPORT_REPLICATION_SECONDS: u32 = 5;

/// On the short path the region's silence is the evidence; the DR side's own probes must still
/// have failed without a break for this long (`SHORT_CONFIRM` in `lambda/drgen_lambda/fsm.py`).
pub const SHORT_CONFIRM_SECONDS: u32 = 50;

/// The shortest `silence_seconds`: a primary region that is up, whose guard is throttled or
/// failing, must not look silent between two of its observer's beats.
pub const MIN_SILENCE_SECONDS: u32 = OBSERVER_BEAT_SECONDS + SPEAKER_SLACK_SECONDS;

/// The regional endpoints of an ARC cluster: every read or change of a routing control tries
/// each in turn until one answers (https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.update.api.html).
pub const ARC_ENDPOINTS: u32 = 5;

/// How long RDS may keep an instance `modifying` after ModifyDBInstance replaces its security
/// groups before the new group is in effect. The change "is asynchronously applied as soon as
/// possible" without ApplyImmediately (ModifyDBInstance, VpcSecurityGroupIds:
/// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html), and
/// RebootDBInstance refuses an instance that is not `available` (InvalidDBInstanceState:
/// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RebootDBInstance.html), so the
/// reboot that cuts the open sessions waits for it. AWS documents no bound: a stated allowance,
/// not a measurement (it needs a real account); the fault simulator draws up to it.
pub const SG_APPLY_SECONDS: u32 = 60;

/// From RebootDBInstance's answer until the engine has stopped and the sessions it cut are gone.
/// A stated allowance, not a measurement (it needs a real account).
pub const REBOOT_EFFECT_SECONDS: u32 = 10;

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
    pub silence_seconds: u32,
    /// With the ARC authority: taking it (every endpoint tried) and the lease wait before the
    /// promotion call; 0 with the table authority.
    pub authority_wait_seconds: u32,
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
    /// between two monitor runs and a run's late start. Also the longest time between two ticks.
    pub first_miss: u32,
    /// The confirm window: the primary unreachable from the DR side without a break.
    pub confirm: u32,
    /// The deciding tick's AWS and PostgreSQL calls.
    pub tick_calls: u32,
    /// The writer authority reaching Route 53 (stated, not measured).
    pub authority: u32,
    /// How long the primary region must have said nothing (no guard report, no `alive` beat, no
    /// heartbeat) to count as silent.
    pub silence: u32,
    /// The promotion call of the short path.
    pub promotion_call: u32,
    /// With the ARC authority: taking it and the lease wait, between the decision and the
    /// promotion call (the workflow makes the call then); 0 with the table authority.
    pub authority_wait: u32,
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
            first_miss: f.probe_interval_seconds + f.probe_timeout_seconds + gap + SCHEDULE_DELAY_SECONDS,
            confirm: f.confirm_seconds,
            tick_calls: TICK_CALLS_SECONDS,
            authority: AUTHORITY_DELAY_SECONDS,
            silence: f.silence_seconds,
            promotion_call: PROMOTION_CALL_SECONDS,
            authority_wait: f.authority_wait_seconds,
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

    /// Worst case from failure until the monitor calls PromoteReadReplica: the long path's bound.
    pub fn promotion_start_seconds(&self) -> u32 {
        self.long_path_seconds()
    }

    /// The long path, taken while the primary region speaks: the DR side promotes only after the
    /// guard has said `unreachable` for the whole confirm window (its `recovering` vetoes), so
    /// from the failure: the monitor's first failed probe, the confirm window, the deciding
    /// tick's calls; with the ARC authority, then taking it and the lease wait.
    pub fn long_path_seconds(&self) -> u32 {
        self.first_miss + self.confirm + self.tick_calls + self.authority_wait
    }

    /// The terms of `long_path_seconds`.
    pub fn long_path_formula(&self) -> String {
        let arc = if self.authority_wait > 0 {
            format!(" + {} s taking the ARC authority and its lease", self.authority_wait)
        } else {
            String::new()
        };
        format!(
            "{} s until the first failed probe + {} s confirm window + {} s calls{arc}",
            self.first_miss, self.confirm, self.tick_calls
        )
    }

    /// The short path, taken when the primary region falls silent (a regional outage) while the
    /// DR side cannot reach the primary. From the failure: the region's last record was written
    /// no later than the failure, so it is silent `silence` seconds after it; the DR side's own
    /// window (its first failed probe within `first_miss`, then SHORT_CONFIRM_SECONDS) has ended
    /// by then or ends later; the next tick comes within `first_miss`; then the promotion call's
    /// first attempt. The tick's reads of the DR region's own table and APIs, and a retried
    /// promotion call, are not in this bound: it assumes the DR region, which is up, answers at
    /// once. With the ARC authority, taking it and the lease wait come before the call.
    pub fn short_path_seconds(&self) -> u32 {
        self.short_wait() + self.first_miss + self.authority_wait + self.promotion_call
    }

    /// Until both conditions of the short path hold: the region's silence and the DR side's own
    /// window.
    fn short_wait(&self) -> u32 {
        self.silence.max(self.first_miss + SHORT_CONFIRM_SECONDS)
    }

    /// The terms of `short_path_seconds`.
    pub fn short_path_formula(&self) -> String {
        let wait = if self.short_wait() == self.silence {
            format!("{} silence", self.silence)
        } else {
            format!("{} first failed probe and {} own window", self.first_miss, SHORT_CONFIRM_SECONDS)
        };
        let arc = if self.authority_wait > 0 {
            format!(" + {} taking the ARC authority and its lease", self.authority_wait)
        } else {
            String::new()
        };
        format!(
            "{wait} + {} until the monitor's next probe{arc} + {} PromoteReadReplica",
            self.first_miss, self.promotion_call
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The number after `key=` in `text`.
    fn setting(text: &str, key: &str) -> u32 {
        let start = text.find(key).unwrap_or_else(|| panic!("{key} in adapters.py")) + key.len();
        text[start..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap()
    }

    #[test]
    fn the_short_window_is_the_monitors() {
        let fsm = include_str!("../lambda/drgen_lambda/fsm.py");
        let line = fsm.lines().find(|l| l.starts_with("SHORT_CONFIRM = ")).expect("SHORT_CONFIRM in fsm.py");
        assert_eq!(line, format!("SHORT_CONFIRM = {SHORT_CONFIRM_SECONDS}.0"));
    }

    #[test]
    fn the_promotion_call_allowance_is_the_monitors_first_attempt() {
        let adapters = include_str!("../lambda/drgen_lambda/adapters.py");
        let line = adapters
            .lines()
            .find(|l| l.starts_with("_CLIENT_CONFIG = Config("))
            .expect("the monitor's client");
        assert_eq!(
            PROMOTION_CALL_SECONDS,
            setting(line, "connect_timeout=") + setting(line, "read_timeout=")
        );
    }
}
