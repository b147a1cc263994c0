"""Property tests of the schedule engine over random valid plans, histories and dates."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.schedule import (
    AnchorSource,
    KnownSession,
    PlannedSession,
    Window,
    check_start,
    dependents,
    moved_windows,
    project,
    validate_plan,
)

ZONES = [ZoneInfo("America/Denver"), ZoneInfo("Europe/London"), ZoneInfo("Australia/Sydney")]
STATUSES = ["unscheduled", "scheduled", "completed", "missed", "cancelled"]
# Daylight-saving switches: (zone, local date of the switch).
DST_SWITCHES = [
    (ZoneInfo("America/Denver"), date(2025, 3, 9)),
    (ZoneInfo("America/Denver"), date(2025, 11, 2)),
    (ZoneInfo("Europe/London"), date(2025, 3, 30)),
    (ZoneInfo("Europe/London"), date(2025, 10, 26)),
]

settings.register_profile("engine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("engine")


@st.composite
def plans(draw, max_size=10):
    """A valid plan: unique codes and orders, each anchor enrollment or an earlier session, in any order."""
    size = draw(st.integers(1, max_size))
    orders = sorted(draw(st.lists(st.integers(0, 300), min_size=size, max_size=size, unique=True)))
    sessions: list[PlannedSession] = []
    for index, order in enumerate(orders):
        earlier = [s.code for s in sessions]
        anchor = draw(st.none() | st.sampled_from(earlier)) if earlier else None
        sessions.append(
            PlannedSession(
                code=f"S{index}",
                order=order,
                anchor_code=anchor,
                offset_days=draw(st.integers(0, 60)),
                early_days=draw(st.integers(0, 21)),
                late_days=draw(st.integers(0, 21)),
                duration_minutes=draw(st.integers(15, 600)),
            )
        )
    return draw(st.permutations(sessions))


def local_moment(draw, around: date, tz: ZoneInfo, spread_days: int = 200) -> datetime:
    day = around + timedelta(days=draw(st.integers(-10, spread_days)))
    wall = datetime(day.year, day.month, day.day, draw(st.integers(0, 23)), draw(st.integers(0, 59)), tzinfo=tz)
    return wall.replace(fold=draw(st.integers(0, 1))).astimezone(UTC)  # stored in UTC, like the database


@st.composite
def known_session(draw, enrollment: date, tz: ZoneInfo) -> KnownSession:
    status = draw(st.sampled_from(STATUSES))
    start = local_moment(draw, enrollment, tz)
    if status != "completed":
        return KnownSession(status=status, scheduled_start=start if status != "unscheduled" else None)
    target = start.astimezone(tz).date() + timedelta(days=draw(st.integers(-10, 10)))
    window = Window(
        target=target,
        earliest=target - timedelta(days=draw(st.integers(0, 14))),
        latest=target + timedelta(days=draw(st.integers(0, 14))),
    )
    actual = start if draw(st.booleans()) else None
    return KnownSession(status=status, scheduled_start=start, actual_start=actual, window=window)


@st.composite
def scenarios(draw):
    """A plan, an enrollment date, a site time zone and what is known of some of its sessions."""
    plan = draw(plans())
    enrollment = draw(st.dates(date(2024, 1, 1), date(2027, 12, 31)))
    tz = draw(st.sampled_from(ZONES))
    known = {}
    for planned in plan:
        if draw(st.booleans()):
            known[planned.code] = draw(known_session(enrollment, tz))
    return plan, enrollment, tz, known


@given(plans())
def test_generated_plans_are_valid(plan):
    assert validate_plan(plan) == []


@given(scenarios())
def test_every_target_lies_in_its_window(scenario):
    plan, enrollment, tz, known = scenario
    for projection in project(plan, enrollment, tz, known).values():
        assert projection.earliest <= projection.target <= projection.latest


@given(scenarios(), st.data())
def test_completed_session_never_moves_whatever_else_changes(scenario, data):
    plan, enrollment, tz, known = scenario
    completed = {code: state.window for code, state in known.items() if state.is_completed}
    changed = dict(known)
    for planned in plan:
        if planned.code not in completed:
            changed[planned.code] = data.draw(known_session(enrollment, tz))
    new_enrollment = enrollment + timedelta(days=data.draw(st.integers(-30, 30)))
    for code, window in completed.items():
        assert project(plan, enrollment, tz, known)[code].window == window
        assert project(plan, new_enrollment, tz, changed)[code].window == window


@given(scenarios(), st.data())
def test_changing_one_session_moves_only_the_sessions_timed_from_it(scenario, data):
    plan, enrollment, tz, known = scenario
    code = data.draw(st.sampled_from([p.code for p in plan]))
    changed = {**known, code: data.draw(known_session(enrollment, tz))}
    before = project(plan, enrollment, tz, known)
    after = project(plan, enrollment, tz, changed)
    moved = {moved_code for moved_code, _, _ in moved_windows(before, after)}
    assert moved - {code} <= dependents(plan, code)


@given(scenarios(), st.data())
def test_rescheduling_moves_every_open_direct_dependent_by_the_same_days(scenario, data):
    plan, enrollment, tz, known = scenario
    code = data.draw(st.sampled_from([p.code for p in plan]))
    first = local_moment(data.draw, enrollment, tz)
    shift = data.draw(st.integers(-20, 20))
    # Move the booking by whole local days: adding days in UTC across a DST change can cross midnight.
    moved = (first.astimezone(tz) + timedelta(days=shift)).astimezone(UTC)
    before = project(plan, enrollment, tz, {**known, code: KnownSession("scheduled", scheduled_start=first)})
    after = project(plan, enrollment, tz, {**known, code: KnownSession("scheduled", scheduled_start=moved)})
    for planned in plan:
        state = known.get(planned.code)
        if planned.anchor_code == code and not (state and state.is_completed and state.window):
            assert (after[planned.code].target - before[planned.code].target).days == shift


@given(scenarios())
def test_reprojection_is_idempotent(scenario):
    plan, enrollment, tz, known = scenario
    first = project(plan, enrollment, tz, known)
    assert project(plan, enrollment, tz, known) == first
    # Booking every open session on its projected target, then re-projecting, moves nothing.
    booked = dict(known)
    for planned in sorted(plan, key=lambda p: p.order):
        state = known.get(planned.code)
        if state is None or state.status in ("unscheduled", "missed", "cancelled"):
            target = first[planned.code].target
            noon = datetime(target.year, target.month, target.day, 12, tzinfo=tz)
            booked[planned.code] = KnownSession("scheduled", scheduled_start=noon)
    assert moved_windows(first, project(plan, enrollment, tz, booked)) == []
    # Completing a session on its target with the window it was judged against moves nothing either.
    completed = dict(booked)
    for code, state in booked.items():
        if state.status == "scheduled":
            completed[code] = KnownSession(
                "completed", scheduled_start=state.scheduled_start, actual_start=state.scheduled_start
            )
    assert moved_windows(first, project(plan, enrollment, tz, completed)) == []


@st.composite
def starts_near_a_dst_switch(draw):
    tz, switch = draw(st.sampled_from(DST_SWITCHES))
    day = switch + timedelta(days=draw(st.integers(-2, 2)))
    hour, minute, fold = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 1))
    wall = datetime(day.year, day.month, day.day, hour, minute, fold=fold, tzinfo=tz)
    return tz, day, wall.astimezone(UTC)


@given(plans(max_size=6), starts_near_a_dst_switch(), st.data())
def test_dates_are_right_across_daylight_saving_changes(plan, start, data):
    tz, local_day, stored = start
    ordered = sorted(plan, key=lambda p: p.order)
    anchor = ordered[0]
    enrollment = local_day - timedelta(days=anchor.offset_days)
    status = data.draw(st.sampled_from(["scheduled", "completed"]))
    state = KnownSession(status, scheduled_start=stored, actual_start=stored if status == "completed" else None)
    projections = project(plan, enrollment, tz, {anchor.code: state})
    for planned in ordered:
        if planned.anchor_code == anchor.code:
            projection = projections[planned.code]
            assert projection.anchor_date == local_day
            assert projection.anchor_source in (AnchorSource.SCHEDULED, AnchorSource.ACTUAL)
            assert projection.target == local_day + timedelta(days=planned.offset_days)
    # A proposed start is judged by its local date too, whatever the UTC offset that day.
    check = check_start(plan, enrollment, tz, {}, anchor.code, stored)
    assert check.days_from_target == (local_day - projections[anchor.code].target).days
