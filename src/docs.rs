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
         {} s for the calculated check + {} s TTL; read-only until promoted). The monitor calls\n\
         `PromoteReadReplica` only when the gates hold (fresh lag above {} s, at most {} s of commits at\n\
         risk, the replica available), by one of two paths that depend on whether the primary's region\n\
         speaks: its guard reports what that region sees every {} s, its observer says `alive` once a\n\
         minute. **Short path**: the region is silent (nothing from it for {} s) while the DR side cannot\n\
         reach the primary, as in a regional outage: promotion starts within {} s (the later of {} s of silence and the DR side's own {} s of\n\
         failed probes after its first, which comes within {} s; then up to {} s to the monitor's next\n\
         probe + {} s for the call's first attempt; the DR region is up).\n\
         **Long path**: the region speaks, as in a Multi-AZ failover, a reboot, an engine upgrade or a\n\
         partition: its guard's `recovering` vetoes for as long as the recovery lasts, and promotion\n\
         needs its `unreachable` for the whole {} s confirm window: within {} s ({} s to the monitor's\n\
         first failed probe + the confirm window + {} s for the deciding calls). RDS then takes\n\
         \"several minutes or longer\" to promote, as AWS documents, so writes return after {} s\n\
         (outage) or {} s plus that. A model whose short path, or (with `dns.switch = \"detection\"`,\n\
         the default) whose reroute, exceeds `rto_target_seconds` ({} s) is refused; with\n\
         `dns.switch = \"promotion\"` the writer name moves only once a promotion has started, within\n\
         {} s for these numbers, and drgen accepts that with a warning. Details and\n\
         drills: `RUNBOOK.md`.",
        r.dns_reroute_seconds,
        r.detection_seconds,
        r.calculated_check_seconds,
        r.dns_ttl_seconds,
        d.lag_threshold_seconds,
        d.max_data_loss_seconds,
        d.guard_interval_seconds,
        r.silence_seconds,
        r.short_path_seconds,
        r.silence_seconds,
        crate::rto::SHORT_CONFIRM_SECONDS,
        r.first_failed_probe_within_seconds,
        r.first_failed_probe_within_seconds,
        r.promotion_call_seconds,
        r.confirm_window_seconds,
        r.long_path_seconds,
        r.first_failed_probe_within_seconds,
        r.deciding_calls_seconds,
        r.short_path_seconds,
        r.long_path_seconds,
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
        "| 0–{} | the monitor's first failed probe ({} s interval + {} s timeout + the gap between two runs + {} s for a late start) |",
        r.first_failed_probe_within_seconds,
        d.probe_interval_seconds,
        d.probe_timeout_seconds,
        crate::rto::SCHEDULE_DELAY_SECONDS
    );
    let _ = writeln!(
        s,
        "| 0–{} | **regional outage**: the primary's region falls silent, its guard's last report (every {} s) and its observer's last `alive` beat {} s old; a region that is up keeps speaking through any in-region recovery, its guard saying `recovering` |",
        r.silence_seconds, d.guard_interval_seconds, r.silence_seconds
    );
    let _ = writeln!(
        s,
        "| ≤ {} | short path: the monitor's next probe fails with the region silent, the gates hold: it calls `PromoteReadReplica` ({} s for its first attempt): **promotion starts within {} s** |",
        r.short_path_seconds, r.promotion_call_seconds, r.short_path_seconds
    );
    let _ = writeln!(
        s,
        "| {}–{} | long path (the region speaks): the confirm window, {} s without one successful probe and the guard saying `unreachable`, not `recovering`, throughout |",
        r.first_failed_probe_within_seconds, confirm_end, r.confirm_window_seconds
    );
    let _ = writeln!(
        s,
        "| ≤ {} | long path: the gates hold (below): the monitor calls `PromoteReadReplica`, publishes `WriterIsDr = 1` and starts the workflow: **promotion starts within {} s** |",
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
        "| {} or {} + P | RDS finishes promoting (\"several minutes or longer\", as AWS documents; drgen does not invent P). Writes fail until then |",
        r.short_path_seconds, r.promotion_starts_within_seconds
    );
    s
}
