"""The schedule engine, rule by rule (SPEC §4). Pure Python: no database."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from protocols.schedule import (
    AnchorSource,
    KnownSession,
    PlannedSession,
    ScheduleError,
    Timing,
    Window,
    check_start,
    dependents,
    local_date,
    moved_windows,
    nominal_span_days,
    project,
    validate_plan,
)
from tests.protocols.plans import DEFAULT_PLAN, NINE_INTEGRATIONS_PLAN

DENVER = ZoneInfo("America/Denver")
LONDON = ZoneInfo("Europe/London")
ENROLLED = date(2025, 1, 6)


def at(day: date, hour: int = 10, minute: int = 0, tz: ZoneInfo = DENVER) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def scheduled(day: date, hour: int = 10, tz: ZoneInfo = DENVER) -> KnownSession:
    return KnownSession(status="scheduled", scheduled_start=at(day, hour, tz=tz))


# --- windows and anchors -------------------------------------------------------------


def test_target_is_anchor_date_plus_offset_and_window_spans_early_and_late_days():
    prep1 = project(DEFAULT_PLAN, ENROLLED, DENVER)["PREP1"]
    assert prep1.anchor_source is AnchorSource.ENROLLMENT
    assert prep1.anchor_date == ENROLLED
    assert prep1.target == ENROLLED + timedelta(days=14)
    assert prep1.earliest == ENROLLED + timedelta(days=7)
    assert prep1.latest == ENROLLED + timedelta(days=21)


def test_nominal_plan_chains_projected_targets_through_the_anchors():
    projections = project(DEFAULT_PLAN, ENROLLED, DENVER)
    days = {code: (p.target - ENROLLED).days for code, p in projections.items()}
    assert days == {
        "PREP1": 14,
        "PREP2": 28,
        "PREP3": 42,
        "DOSE1": 56,
        "INT1": 57,
        "DOSE2": 91,
        "INT2": 92,
        "DOSE3": 126,
        "INT3": 127,
    }
    assert projections["PREP2"].anchor_source is AnchorSource.PROJECTED
    dose2 = projections["DOSE2"]
    assert (dose2.earliest - projections["DOSE1"].target).days == 21  # three to five weeks after DOSE1
    assert dose2.latest == dose2.target


def test_projections_come_in_plan_order():
    shuffled = list(reversed(DEFAULT_PLAN))
    assert list(project(shuffled, ENROLLED, DENVER)) == [p.code for p in DEFAULT_PLAN]


def test_scheduled_anchor_moves_the_next_target():
    known = {"PREP1": scheduled(date(2025, 1, 23))}
    prep2 = project(DEFAULT_PLAN, ENROLLED, DENVER, known)["PREP2"]
    assert prep2.anchor_source is AnchorSource.SCHEDULED
    assert prep2.anchor_date == date(2025, 1, 23)
    assert prep2.target == date(2025, 2, 6)


def test_actual_date_beats_the_scheduled_date_of_a_completed_anchor():
    known = {
        "PREP1": KnownSession(
            status="completed", scheduled_start=at(date(2025, 1, 20)), actual_start=at(date(2025, 1, 22))
        )
    }
    prep2 = project(DEFAULT_PLAN, ENROLLED, DENVER, known)["PREP2"]
    assert prep2.anchor_source is AnchorSource.ACTUAL
    assert prep2.anchor_date == date(2025, 1, 22)


def test_completed_anchor_without_actual_start_counts_from_its_booking():
    known = {"PREP1": KnownSession(status="completed", scheduled_start=at(date(2025, 1, 24)))}
    prep2 = project(DEFAULT_PLAN, ENROLLED, DENVER, known)["PREP2"]
    assert prep2.anchor_source is AnchorSource.SCHEDULED
    assert prep2.anchor_date == date(2025, 1, 24)


@pytest.mark.parametrize("status", ["missed", "cancelled", "unscheduled"])
def test_anchor_that_did_not_happen_falls_back_to_its_projected_target(status):
    known = {"PREP1": KnownSession(status=status, scheduled_start=at(date(2025, 1, 24)))}
    prep2 = project(DEFAULT_PLAN, ENROLLED, DENVER, known)["PREP2"]
    assert prep2.anchor_source is AnchorSource.PROJECTED
    assert prep2.anchor_date == ENROLLED + timedelta(days=14)


def test_completed_session_keeps_the_window_it_was_judged_against():
    judged = Window(target=date(2025, 1, 20), earliest=date(2025, 1, 13), latest=date(2025, 1, 27))
    known = {"PREP1": KnownSession(status="completed", actual_start=at(date(2025, 1, 25)), window=judged)}
    assert project(DEFAULT_PLAN, ENROLLED, DENVER, known)["PREP1"].window == judged
    # PREP2 was completed too; correcting PREP1's actual date afterwards does not move PREP2's window.
    known["PREP2"] = KnownSession(
        status="completed",
        actual_start=at(date(2025, 2, 10)),
        window=Window(target=date(2025, 2, 8), earliest=date(2025, 2, 1), latest=date(2025, 2, 15)),
    )
    moved = {**known, "PREP1": KnownSession(status="completed", actual_start=at(date(2025, 1, 14)), window=judged)}
    assert project(DEFAULT_PLAN, ENROLLED, DENVER, moved)["PREP2"].window == known["PREP2"].window


def test_anchor_date_is_the_local_date_at_the_site():
    # 23:30 in Denver on 20 January is already 21 January in UTC.
    late_evening = datetime(2025, 1, 20, 23, 30, tzinfo=DENVER)
    known = {"PREP1": KnownSession(status="scheduled", scheduled_start=late_evening.astimezone(ZoneInfo("UTC")))}
    assert project(DEFAULT_PLAN, ENROLLED, DENVER, known)["PREP2"].anchor_date == date(2025, 1, 20)
    # The same instant seen from London is the 21st.
    assert project(DEFAULT_PLAN, ENROLLED, LONDON, known)["PREP2"].anchor_date == date(2025, 1, 21)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="time-zone aware"):
        local_date(datetime(2025, 1, 1, 10, 0), DENVER)


# --- the cascade ---------------------------------------------------------------------


def test_rescheduling_a_dosing_session_moves_only_the_sessions_timed_from_it():
    before = project(DEFAULT_PLAN, ENROLLED, DENVER)
    after = project(DEFAULT_PLAN, ENROLLED, DENVER, {"DOSE1": scheduled(date(2025, 3, 7))})
    moved = moved_windows(before, after)
    assert [code for code, _, _ in moved] == ["INT1", "DOSE2", "INT2", "DOSE3", "INT3"]
    code, old, new = moved[0]
    assert (new.target - old.target).days == 4
    assert {c for c, _, _ in moved} == dependents(DEFAULT_PLAN, "DOSE1")


def test_moved_windows_is_empty_when_nothing_moved():
    projections = project(DEFAULT_PLAN, ENROLLED, DENVER)
    assert moved_windows(projections, project(DEFAULT_PLAN, ENROLLED, DENVER)) == []


def test_dependents_are_found_through_chains_of_anchors():
    assert dependents(DEFAULT_PLAN, "PREP3") == {"DOSE1", "INT1", "DOSE2", "INT2", "DOSE3", "INT3"}
    assert dependents(DEFAULT_PLAN, "INT1") == set()
    assert dependents(NINE_INTEGRATIONS_PLAN, "DOSE3") == {"INT3A", "INT3B", "INT3C"}


# --- proposed starts -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day_offset", "timing", "from_target"),
    [(6, Timing.EARLY, -8), (7, Timing.IN_WINDOW, -7), (14, Timing.IN_WINDOW, 0), (21, Timing.IN_WINDOW, 7)]
    + [(22, Timing.LATE, 8)],
)
def test_start_is_judged_against_the_window(day_offset, timing, from_target):
    check = check_start(DEFAULT_PLAN, ENROLLED, DENVER, {}, "PREP1", at(ENROLLED + timedelta(days=day_offset)))
    assert check.timing is timing
    assert check.days_from_target == from_target
    assert check.in_window is (timing is Timing.IN_WINDOW)
    assert check.acceptable_without_deviation is (timing is Timing.IN_WINDOW)


def test_start_before_enrollment_is_before_its_anchor():
    check = check_start(DEFAULT_PLAN, ENROLLED, DENVER, {}, "PREP1", at(ENROLLED - timedelta(days=1)))
    assert check.before_anchor
    assert not check.acceptable_without_deviation


def test_start_before_the_anchor_session_is_flagged():
    known = {"DOSE1": scheduled(date(2025, 3, 3), hour=9)}
    same_morning = check_start(DEFAULT_PLAN, ENROLLED, DENVER, known, "INT1", at(date(2025, 3, 3), 8))
    assert same_morning.before_anchor
    assert same_morning.timing is Timing.EARLY  # INT1 is due from the day after DOSE1
    next_day = check_start(DEFAULT_PLAN, ENROLLED, DENVER, known, "INT1", at(date(2025, 3, 4), 10))
    assert not next_day.before_anchor
    assert next_day.acceptable_without_deviation


def test_booking_ahead_of_an_earlier_session_is_out_of_sequence():
    known = {"PREP2": scheduled(date(2025, 2, 3)), "PREP3": scheduled(date(2025, 2, 17))}
    check = check_start(DEFAULT_PLAN, ENROLLED, DENVER, known, "PREP1", at(date(2025, 2, 20)))
    assert check.out_of_sequence
    assert check.sequence_conflicts == ("PREP2", "PREP3")
    later = check_start(DEFAULT_PLAN, ENROLLED, DENVER, known, "DOSE1", at(date(2025, 2, 1)))
    assert later.sequence_conflicts == ("PREP2", "PREP3")


def test_cancelled_and_missed_sessions_do_not_block_the_sequence():
    known = {
        "PREP2": KnownSession(status="cancelled", scheduled_start=at(date(2025, 2, 3))),
        "PREP3": KnownSession(status="missed", scheduled_start=at(date(2025, 2, 17))),
    }
    check = check_start(DEFAULT_PLAN, ENROLLED, DENVER, known, "PREP1", at(date(2025, 2, 20)))
    assert not check.out_of_sequence


def test_the_session_s_own_booking_is_ignored_when_rebooking_it():
    known = {"PREP1": scheduled(date(2025, 1, 20))}
    check = check_start(DEFAULT_PLAN, ENROLLED, DENVER, known, "PREP1", at(date(2025, 1, 21)))
    assert check.window == project(DEFAULT_PLAN, ENROLLED, DENVER)["PREP1"].window
    assert not check.out_of_sequence and not check.overlapping


def test_sessions_of_a_participant_never_overlap():
    dose_start = at(date(2025, 3, 3), 9)
    known = {
        "DOSE1": KnownSession(
            status="scheduled", scheduled_start=dose_start, scheduled_end=dose_start + timedelta(hours=8)
        )
    }
    during = check_start(DEFAULT_PLAN, ENROLLED, DENVER, known, "PREP3", at(date(2025, 3, 3), 16))
    assert during.overlapping == ("DOSE1",)
    just_before = check_start(DEFAULT_PLAN, ENROLLED, DENVER, known, "PREP3", at(date(2025, 3, 3), 7, 30))
    assert just_before.overlapping == ()  # 07:30 + 90 min ends exactly when DOSE1 starts


def test_overlap_uses_the_planned_duration_when_no_end_is_known():
    known = {"DOSE1": KnownSession(status="completed", actual_start=at(date(2025, 3, 3), 9))}
    check = check_start(DEFAULT_PLAN, ENROLLED, DENVER, known, "INT1", at(date(2025, 3, 3), 16, 59))
    assert check.overlapping == ("DOSE1",)
    assert check_start(DEFAULT_PLAN, ENROLLED, DENVER, known, "INT1", at(date(2025, 3, 3), 17)).overlapping == ()


def test_proposed_end_must_follow_the_start():
    start = at(date(2025, 1, 20))
    with pytest.raises(ValueError, match="end after"):
        check_start(DEFAULT_PLAN, ENROLLED, DENVER, {}, "PREP1", start, end=start)


def test_unknown_session_code_is_refused():
    with pytest.raises(ScheduleError, match="NOPE"):
        check_start(DEFAULT_PLAN, ENROLLED, DENVER, {}, "NOPE", at(ENROLLED))


# --- plan validation -----------------------------------------------------------------


def test_sound_plans_have_no_problems():
    assert validate_plan(DEFAULT_PLAN) == []
    assert validate_plan(NINE_INTEGRATIONS_PLAN) == []


def test_validate_plan_lists_every_problem():
    plan = [
        PlannedSession("A", 1, None, 0),
        PlannedSession("B", 2, "C", 1),  # forward anchor
        PlannedSession("C", 3, "C", 1),  # anchored to itself
        PlannedSession("A", 4, "ZZZ", 1),  # duplicate code, unknown anchor
        PlannedSession("D", 4, "A", -1, early_days=-2, late_days=-3, duration_minutes=-5),
    ]
    problems = validate_plan(plan)
    assert "B: anchor C must be an earlier session of the same plan." in problems
    assert "C: a session cannot be anchored to itself." in problems
    assert "A: the code is used twice." in problems
    assert "A: anchor ZZZ must be an earlier session of the same plan." in problems
    assert "D: order 4 is used twice." in problems
    assert {"D: offset days cannot be negative.", "D: early days cannot be negative."} <= set(problems)
    assert {"D: late days cannot be negative.", "D: duration cannot be negative."} <= set(problems)
    with pytest.raises(ScheduleError):
        project(plan, ENROLLED, DENVER)


def test_nominal_span_of_the_default_plan_is_127_days():
    assert nominal_span_days(DEFAULT_PLAN) == 127
    assert nominal_span_days(NINE_INTEGRATIONS_PLAN) == 147
    assert nominal_span_days([]) == 0


def test_window_helpers():
    window = Window(target=date(2025, 1, 10), earliest=date(2025, 1, 8), latest=date(2025, 1, 12))
    assert window.contains(date(2025, 1, 8)) and window.contains(date(2025, 1, 12))
    assert not window.contains(date(2025, 1, 13))
    assert window.days_from_target(date(2025, 1, 7)) == -3
    assert window.timing(date(2025, 1, 13)) is Timing.LATE
