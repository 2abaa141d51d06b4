"""The guard's verdict: what the primary's own region sees, from one tick and the previous report."""

import pytest

from drgen_lambda import fsm, guard
from drgen_lambda.guard import REACHABLE, RECOVERING, UNKNOWN, UNREACHABLE, GuardReport, Seen, verdict

GAP = 30.0


def unreachable(now, status="available", events=(), failed=()):
    return Seen(now, False, status, list(events) if events is not None else None, failed)


def test_a_primary_the_region_reaches_is_reachable_and_rds_is_not_needed():
    report = verdict(None, Seen(100.0, True), GAP)
    assert report == GuardReport(REACHABLE, "the probe from the primary region is accepted", 100.0, 100.0)


def test_an_available_instance_with_no_open_recovery_is_unreachable_since_the_first_tick():
    first = verdict(None, unreachable(100.0), GAP)
    assert (first.verdict, first.since, first.at) == (UNREACHABLE, 100.0, 100.0)
    assert first.detail == "status available, no recovery under way"
    second = verdict(first, unreachable(105.0), GAP)
    assert (second.verdict, second.since, second.at) == (UNREACHABLE, 100.0, 105.0)


def test_a_status_rds_does_not_recover_from_by_itself_is_unreachable():
    for status in ("failed", "storage-full", "inaccessible-encryption-credentials", "stopped", "not-found"):
        report = verdict(None, unreachable(100.0, status=status), GAP)
        assert report.verdict == UNREACHABLE and status in report.detail


def test_a_hole_in_observation_restarts_since():
    first = verdict(None, unreachable(100.0), GAP)
    assert verdict(first, unreachable(100.0 + GAP), GAP).since == 100.0
    assert verdict(first, unreachable(100.0 + GAP + 1), GAP).since == 100.0 + GAP + 1
    # A report from the future (another clock) does not carry either.
    assert verdict(first, unreachable(99.0), GAP).since == 99.0


def test_another_verdict_in_between_restarts_since():
    first = verdict(None, unreachable(100.0), GAP)
    blip = verdict(first, Seen(105.0, True), GAP)
    assert (blip.verdict, blip.since) == (REACHABLE, 105.0)
    again = verdict(blip, unreachable(110.0), GAP)
    assert (again.verdict, again.since) == (UNREACHABLE, 110.0)


@pytest.mark.parametrize("status", sorted(guard.RECOVERY_STATUSES))
def test_a_recovery_status_is_recovering_since_the_first_tick_that_saw_it(status):
    first = verdict(None, unreachable(100.0, status=status), GAP)
    assert (first.verdict, first.detail, first.since) == (RECOVERING, f"status {status}", 100.0)
    assert verdict(first, unreachable(105.0, status=status), GAP).since == 100.0


def test_an_open_multi_az_failover_is_recovering_since_the_event_even_while_available():
    events = [(40.0, "Multi-AZ instance failover started")]
    report = verdict(None, unreachable(100.0, events=events), GAP)
    assert report.verdict == RECOVERING
    assert report.detail == "event multi-az-failover (RDS-EVENT-0013)"
    assert report.since == 40.0


def test_a_closed_recovery_does_not_count_and_a_reopened_one_does():
    closed = [(40.0, "Multi-AZ instance failover started"), (90.0, "Multi-AZ instance failover completed")]
    assert verdict(None, unreachable(100.0, events=closed), GAP).verdict == UNREACHABLE
    reopened = closed + [(95.0, "Multi-AZ instance failover started")]
    report = verdict(None, unreachable(100.0, events=reopened), GAP)
    assert (report.verdict, report.since) == (RECOVERING, 95.0)


def test_a_recovery_that_opened_and_closed_between_two_ticks_restarts_unreachable_from_its_close():
    before = verdict(None, unreachable(100.0), GAP)
    # The next tick (a run later) reads a Multi-AZ failover that began and ended in between.
    between = [(110.0, "Multi-AZ instance failover started"), (125.0, "Multi-AZ instance failover completed")]
    report = verdict(before, unreachable(128.0, events=between), GAP)
    assert (report.verdict, report.since) == (UNREACHABLE, 125.0)
    # A close older than the spell changes nothing.
    old = [(40.0, "Multi-AZ instance failover started"), (60.0, "Multi-AZ instance failover completed")]
    assert verdict(before, unreachable(128.0, events=old), GAP).since == 100.0


def test_events_at_the_same_second_count_in_the_order_rds_lists_them():
    same = [(50.0, "DB instance shutdown"), (50.0, "DB instance restarted")]
    assert verdict(None, unreachable(100.0, events=same), GAP).verdict == UNREACHABLE
    assert verdict(None, unreachable(100.0, events=same[::-1]), GAP).verdict == RECOVERING


def test_an_event_and_a_status_are_both_named_and_the_event_sets_since():
    events = [(60.0, "Applying off-line patches to DB instance"), (70.0, "Backing up DB instance")]
    report = verdict(None, unreachable(100.0, status="maintenance", events=events), GAP)
    assert report.detail == "event offline-maintenance (RDS-EVENT-0026); status maintenance"
    assert report.since == 60.0


def test_the_earliest_open_recovery_sets_since():
    events = [(30.0, "DB instance shutdown"), (50.0, "A Multi-AZ activation has started after a successful recovery")]
    report = verdict(None, unreachable(100.0, events=events), GAP)
    assert report.since == 30.0
    assert report.detail == "event shutdown (RDS-EVENT-0004); event multi-az-activation (RDS-EVENT-0050)"


def test_failed_reads_make_the_verdict_unknown_and_say_which():
    report = verdict(None, unreachable(100.0, status=None, failed=("DescribeDBInstances failed (x)",)), GAP)
    assert report.verdict == UNKNOWN
    assert report.detail == "the primary's RDS status cannot be read: DescribeDBInstances failed (x)"
    events_failed = verdict(None, unreachable(100.0, events=None, failed=("DescribeEvents failed (y)",)), GAP)
    assert events_failed.verdict == UNKNOWN and "DescribeEvents failed (y)" in events_failed.detail
    assert "RDS was not read" in verdict(None, Seen(100.0, False), GAP).detail
    assert verdict(report, unreachable(104.0, status=None), GAP).since == 100.0


def test_positive_evidence_of_a_recovery_outweighs_a_failed_read():
    by_status = verdict(None, unreachable(100.0, status="rebooting", events=None, failed=("DescribeEvents",)), GAP)
    assert by_status.verdict == RECOVERING
    events = [(90.0, "Multi-AZ instance failover started")]
    by_event = verdict(None, unreachable(100.0, status=None, events=events, failed=("DescribeDBInstances",)), GAP)
    assert (by_event.verdict, by_event.since) == (RECOVERING, 90.0)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Multi-AZ instance failover started", "RDS-EVENT-0013"),
        ("A Multi-AZ failover that resulted in the promotion of a standby instance has started.", "RDS-EVENT-0013"),
        ("Multi-AZ failover to standby complete - DNS propagation may take a few minutes", "RDS-EVENT-0015"),
        ("A Multi-AZ failover that resulted in the promotion of a standby instance is complete.", "RDS-EVENT-0015"),
        ("Multi-AZ instance failover completed", "RDS-EVENT-0049"),
        ("A Multi-AZ failover has completed.", "RDS-EVENT-0049"),
        ("Multi-AZ instance activation started", "RDS-EVENT-0050"),
        ("A Multi-AZ activation is complete. Your database should be accessible now.", "RDS-EVENT-0051"),
        ("DB instance shutdown", "RDS-EVENT-0004"),
        ("DB instance restarted", "RDS-EVENT-0006"),
        ("The DB instance restarted.", "RDS-EVENT-0006"),
        ("Applying off-line patches to DB instance", "RDS-EVENT-0026"),
        ("Offline maintenance of the DB instance is taking place.", "RDS-EVENT-0026"),
        ("Finished applying off-line patches to DB instance", "RDS-EVENT-0027"),
        ("Offline maintenance of the DB instance is complete.", "RDS-EVENT-0027"),
        ("The engine version upgrade has started.", "RDS-EVENT-0267"),
        ("Engine version upgrade completed", "RDS-EVENT-0268"),
        ("Backing up DB instance", None),
        ("Finished DB instance backup", None),
        ("The database has been shut down: storage full", None),
        ("The user requested a failover of the DB instance", None),
    ],
)
def test_recovery_events_are_recognised_by_their_messages(message, expected):
    assert guard.event_id(message) == expected


def test_every_recovery_event_of_the_decision_has_a_message_pattern():
    ids = set(fsm.RECOVERY_EVENTS) | set(fsm.CLOSING_EVENTS)
    assert ids == set(guard.EVENT_MESSAGES)


def test_the_verdicts_are_the_four_the_dr_side_reads():
    assert guard.VERDICTS == ("reachable", "recovering", "unreachable", "unknown")


def test_the_newest_closing_event_of_each_kind_is_kept_across_reports():
    events = [
        (100.0, "Multi-AZ instance failover started"),
        (150.0, "Multi-AZ instance failover completed"),
        (160.0, "Finished applying off-line patches to DB instance."),
        (170.0, "Something else entirely"),
    ]
    first = verdict(None, Seen(200.0, True, events=events), GAP)
    assert first.closed == {"multi-az-failover": 150.0, "offline-maintenance": 160.0}
    # A later reading without them keeps them; a newer closing replaces its kind's.
    later = verdict(first, unreachable(205.0, events=[(204.0, "Multi-AZ failover to standby complete")]), GAP)
    assert later.closed == {"multi-az-failover": 204.0, "offline-maintenance": 160.0}
    assert verdict(later, Seen(210.0, True), GAP).closed == later.closed
