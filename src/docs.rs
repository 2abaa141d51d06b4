//! Text for README.md and RUNBOOK.md that states numbers of the default model: generated from
//! `drgen explain`'s figures, so that the docs cannot drift from what drgen computes. A test
//! checks the marked regions of both files against this text.

use std::fmt::Write;

use crate::config::Config;
use crate::explain::Explanation;
use crate::model::Topology;

fn default_explanation() -> Explanation {
    let model = Topology::from_config(&Config::default(), Some("prod")).expect("the defaults are valid");
    let files = crate::render::render(&model);
    Explanation::new(&model, &files)
}

/// README.md, "Recovery times".
pub fn readme_recovery() -> String {
    let e = default_explanation();
    let (r, d) = (&e.rto, &e.decision);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "`drgen explain --env-suffix prod` prints the budget from the model, every line an upper bound.\n\
         For the defaults: DNS points the writer name at the replica within {} s ({} s of failed checks +\n\
         {} s for the calculated check + {} s TTL; read-only until promoted); the monitor calls\n\
         `PromoteReadReplica` within {} s ({} s to its first failed probe + the {} s confirm window +\n\
         {} s for the deciding calls), and only when the gates hold (partition heartbeat, recovery\n\
         events, fresh lag above {} s, at most {} s of commits at risk); RDS then takes \"several minutes\n\
         or longer\" to promote, as AWS documents, so writes return after {} s plus that. With\n\
         `dns.switch = \"detection\"` (the default) a model whose reroute exceeds `rto_target_seconds`\n\
         ({} s) is refused; with `dns.switch = \"promotion\"` the writer name moves only once a promotion\n\
         has started, within {} s for these numbers, and drgen accepts that with a warning. Details and\n\
         drills: `RUNBOOK.md`.",
        r.dns_reroute_seconds,
        r.detection_seconds,
        r.calculated_check_seconds,
        r.dns_ttl_seconds,
        r.promotion_starts_within_seconds,
        r.first_failed_probe_within_seconds,
        r.confirm_window_seconds,
        r.deciding_calls_seconds,
        d.lag_threshold_seconds,
        d.max_data_loss_seconds,
        r.promotion_starts_within_seconds,
        r.rto_target_seconds,
        promotion_mode_reroute(),
    );
    s
}

/// The default model's reroute when DNS moves on promotion instead of detection.
fn promotion_mode_reroute() -> u32 {
    let mut config = Config::default();
    config.dns.switch = crate::config::DnsSwitch::Promotion;
    Topology::from_config(&config, Some("prod")).expect("promotion mode is valid").rto.reroute_seconds()
}

/// RUNBOOK.md, the detection timeline.
pub fn runbook_timeline() -> String {
    let e = default_explanation();
    let (r, d) = (&e.rto, &e.decision);
    let confirm_end = r.first_failed_probe_within_seconds + r.confirm_window_seconds;
    let observer = e.dns.children.iter().find(|c| c.role == "observer").expect("observer checks");
    let mut s = String::from("| t (s) | what happens |\n|---:|---|\n");
    let _ = writeln!(
        s,
        "| 0–{} | each Route 53 checker fails the observer APIs {} times at a {} s interval |",
        r.detection_seconds, observer.failure_threshold, observer.interval_seconds
    );
    let _ = writeln!(
        s,
        "| {}–{} | the calculated check is unhealthy; resolvers expire the old answer (TTL {} s): **DNS points at the replica within {} s** (read-only until promoted) |",
        r.detection_seconds + r.calculated_check_seconds,
        r.dns_reroute_seconds,
        r.dns_ttl_seconds,
        r.dns_reroute_seconds
    );
    let _ = writeln!(
        s,
        "| 0–{} | the monitor's first failed probe ({} s interval + {} s timeout + the gap between two runs) |",
        r.first_failed_probe_within_seconds, d.probe_interval_seconds, d.probe_timeout_seconds
    );
    let _ = writeln!(
        s,
        "| {}–{} | the confirm window: {} s without one successful probe, longer than an ordinary Multi-AZ failover (typically 60–120 s) |",
        r.first_failed_probe_within_seconds, confirm_end, r.confirm_window_seconds
    );
    let _ = writeln!(
        s,
        "| ≤ {} | the gates hold (below): the monitor calls `PromoteReadReplica`, publishes `WriterIsDr = 1` and starts the workflow: **promotion starts within {} s** |",
        r.promotion_starts_within_seconds, r.promotion_starts_within_seconds
    );
    let _ = writeln!(
        s,
        "| + ~{} | the authority alarm and its Route 53 checks follow (AWS documents no bound; drgen states {} minutes); the observers follow the authority at once |",
        r.authority_to_route53_seconds,
        r.authority_to_route53_seconds / 60
    );
    let _ = writeln!(
        s,
        "| {} + P | RDS finishes promoting (\"several minutes or longer\", as AWS documents; drgen does not invent P). Writes fail until then |",
        r.promotion_starts_within_seconds
    );
    s
}
