//! The rule that guards the PRIMARY record, as data: one CALCULATED health check, its children
//! and its threshold. `render::dns` renders it, `explain` reports it (the failover drill reads it
//! from there) and the tests evaluate it for every combination of child states.

use serde::Serialize;

use crate::config::{DnsSwitch, HealthCheckMode};
use crate::model::{Side, Topology};

/// Copies of the writer-authority check. `child_healthchecks` is a set, so the same check twice
/// would collapse into one; three separate checks on the same alarm let two outvote one that
/// lags behind.
pub const AUTHORITY_COPIES: u32 = 3;

/// One kind of child of the calculated check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Child {
    /// `observer` (healthy while that observer reaches the primary) or `authority` (healthy
    /// while the writer authority says "primary").
    pub role: &'static str,
    /// The observer's region role, for observers.
    pub side: Option<&'static str>,
    /// The Terraform address of the health check (with `[*]` for the authority copies).
    pub address: String,
    /// Route 53 health check type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// How many health checks of this kind are children.
    pub copies: u32,
    /// Seconds between a checker's requests (HTTPS checks) or per alarm datapoint.
    pub interval_seconds: u32,
    /// Consecutive failed requests (or breaching periods) before the check turns unhealthy.
    pub failure_threshold: u32,
}

/// The calculated check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthGraph {
    pub address: &'static str,
    pub switch: DnsSwitch,
    pub children: Vec<Child>,
    /// Healthy when at least this many children are healthy.
    pub threshold: u32,
    pub ttl_seconds: u32,
}

impl HealthGraph {
    pub fn new(m: &Topology) -> Self {
        let observer_kind = match m.failover.health_check_mode {
            HealthCheckMode::Endpoint => "HTTPS",
            HealthCheckMode::Cloudwatch => "CLOUDWATCH_METRIC",
        };
        let authority = Child {
            role: "authority",
            side: None,
            address: "aws_route53_health_check.writer_authority[*]".into(),
            kind: if m.failover.arc.is_some() { "RECOVERY_CONTROL" } else { "CLOUDWATCH_METRIC" },
            copies: AUTHORITY_COPIES,
            interval_seconds: 60,
            failure_threshold: 1,
        };
        let (interval_seconds, failure_threshold) = match m.failover.health_check_mode {
            HealthCheckMode::Endpoint => (m.failover.request_interval_seconds, m.failover.failure_threshold),
            HealthCheckMode::Cloudwatch => (60, m.failover.failure_threshold),
        };
        let observers: Vec<Child> = Side::BOTH
            .iter()
            .map(|side| Child {
                role: "observer",
                side: Some(side.label()),
                address: format!("aws_route53_health_check.{side}_observer"),
                kind: observer_kind,
                copies: 1,
                interval_seconds,
                failure_threshold,
            })
            .collect();
        let (children, threshold) = match m.dns.switch {
            // After a failover both records name the DR instance and the authority says DR for
            // good: the authority copies would keep the check unhealthy forever, so only the
            // observers (which probe the writer) count.
            _ if m.database.primary_retired => (observers, 1),
            // Authority says primary (3 healthy) AND at least one observer: 3 + 1.
            DnsSwitch::Detection => {
                let mut children = observers;
                children.push(authority);
                (children, AUTHORITY_COPIES + 1)
            }
            // A majority of the authority copies.
            DnsSwitch::Promotion => (vec![authority], AUTHORITY_COPIES / 2 + 1),
        };
        Self {
            address: "aws_route53_health_check.primary_alive",
            switch: m.dns.switch,
            children,
            threshold,
            ttl_seconds: m.dns.ttl_seconds,
        }
    }

    /// Whether the PRIMARY record is healthy, given each observer check (primary, DR) and each
    /// authority copy.
    pub fn primary_healthy(&self, observers: [bool; 2], authority: [bool; 3]) -> bool {
        let count = |flags: &[bool]| u32::try_from(flags.iter().filter(|h| **h).count()).expect("at most 3");
        let healthy: u32 = self
            .children
            .iter()
            .map(|c| match c.side {
                Some("primary") => count(&observers[..1]),
                Some(_) => count(&observers[1..]),
                None => count(&authority),
            })
            .sum();
        healthy >= self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn graph(switch: DnsSwitch) -> HealthGraph {
        let mut config = Config::default();
        config.dns.switch = switch;
        HealthGraph::new(&Topology::from_config(&config, Some("test")).unwrap())
    }

    fn combinations<const N: usize>() -> Vec<[bool; N]> {
        (0..1u32 << N).map(|bits| std::array::from_fn(|i| bits & (1 << i) != 0)).collect()
    }

    /// The truth table of the PRIMARY record, every combination of child states.
    #[test]
    fn detection_mode_is_authority_and_at_least_one_observer() {
        let g = graph(DnsSwitch::Detection);
        assert_eq!((g.threshold, g.children.len()), (4, 3));
        for observers in combinations::<2>() {
            let any_observer = observers.contains(&true);
            // Authority says primary: healthy exactly when an observer reaches the primary.
            assert_eq!(g.primary_healthy(observers, [true; 3]), any_observer, "{observers:?}");
            // Authority says DR, also with any one authority check dissenting: never healthy.
            for authority in combinations::<3>() {
                let dissenting = authority.iter().filter(|h| **h).count();
                if dissenting <= 1 {
                    assert!(!g.primary_healthy(observers, authority), "{observers:?} {authority:?}");
                }
            }
            // Authority says primary with one copy lagging behind: never more than with all three.
            for authority in combinations::<3>() {
                if authority.iter().filter(|h| **h).count() == 2 {
                    assert_eq!(
                        g.primary_healthy(observers, authority),
                        observers == [true, true],
                        "{observers:?} {authority:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn after_a_failover_the_observers_of_the_writer_alone_decide() {
        for switch in [DnsSwitch::Detection, DnsSwitch::Promotion] {
            let mut config = Config::default();
            config.dns.switch = switch;
            config.database.primary_retired = true;
            let g = HealthGraph::new(&Topology::from_config(&config, Some("test")).unwrap());
            assert_eq!((g.threshold, g.children.len()), (1, 2));
            for observers in combinations::<2>() {
                for authority in combinations::<3>() {
                    // The authority says DR for good: it must not keep the check unhealthy.
                    assert_eq!(g.primary_healthy(observers, authority), observers.contains(&true));
                }
            }
        }
    }

    #[test]
    fn promotion_mode_follows_a_majority_of_the_authority_alone() {
        let g = graph(DnsSwitch::Promotion);
        assert_eq!((g.threshold, g.children.len()), (2, 1));
        for observers in combinations::<2>() {
            for authority in combinations::<3>() {
                let says_primary = authority.iter().filter(|h| **h).count() >= 2;
                assert_eq!(
                    g.primary_healthy(observers, authority),
                    says_primary,
                    "{observers:?} {authority:?}"
                );
            }
        }
    }
}
