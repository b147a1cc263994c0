"""The schedule engine: protocol windows, anchors and the cascade, as pure functions.

No ORM and no Django: plain dates, datetimes and small frozen dataclasses, so every rule can
be tested exhaustively. Callers adapt model rows to `PlannedSession` / `KnownSession`.

The rules (SPEC §4):
- target = anchor date + offset; window = [target − early, target + late], as local dates
  in the site's time zone.
- anchor date = the anchor session's actual date when it happened, else its scheduled date,
  else its projected target; enrollment when the session is anchored to enrollment.
- completed sessions never move: a completed session keeps the window it was judged
  against (passed in as `KnownSession.window`).
- a session may not start before its anchor session; the order of the plan is the
  order sessions should happen in; sessions of one participant never overlap.
- every date is a local date in the site's time zone: a start at 23:30 in Denver counts
  for that evening's date, not for the next UTC day, whatever daylight-saving does.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

ENROLLMENT = None  # anchor_code of a session timed from the enrollment date


class ScheduleError(ValueError):
    """The plan itself is malformed (unknown or forward anchor, duplicate code)."""


class AnchorSource(enum.StrEnum):
    ENROLLMENT = "enrollment"
    ACTUAL = "actual"
    SCHEDULED = "scheduled"
    PROJECTED = "projected"


class Timing(enum.StrEnum):
    EARLY = "early"
    IN_WINDOW = "in_window"
    LATE = "late"


@dataclass(frozen=True)
class PlannedSession:
    """One session definition of a protocol version, as plain data."""

    code: str
    order: int
    anchor_code: str | None
    offset_days: int
    early_days: int = 0
    late_days: int = 0
    duration_minutes: int = 0


@dataclass(frozen=True)
class Window:
    target: date
    earliest: date
    latest: date

    def timing(self, day: date) -> Timing:
        if day < self.earliest:
            return Timing.EARLY
        if day > self.latest:
            return Timing.LATE
        return Timing.IN_WINDOW

    def days_from_target(self, day: date) -> int:
        return (day - self.target).days

    def contains(self, day: date) -> bool:
        return self.earliest <= day <= self.latest


@dataclass(frozen=True)
class KnownSession:
    """What is known of one participant's session. Datetimes must be time-zone aware."""

    status: str = "unscheduled"  # unscheduled | scheduled | completed | missed | cancelled
    scheduled_start: datetime | None = None
    actual_start: datetime | None = None
    window: Window | None = None  # the window a completed session was judged against
    scheduled_end: datetime | None = None
    actual_end: datetime | None = None

    @property
    def is_completed(self) -> bool:
        return self.status == "completed"

    @property
    def is_active(self) -> bool:
        return self.status not in ("missed", "cancelled")

    def when(self) -> datetime | None:
        """The session's best-known start: actual if it happened, else scheduled.

        A completed session logged without an actual start still happened at its booking.
        """
        if self.is_completed:
            return self.actual_start or self.scheduled_start
        if self.status == "scheduled":
            return self.scheduled_start
        return None

    def until(self, planned_minutes: int) -> datetime | None:
        """The session's best-known end: actual, else booked, else start plus planned duration."""
        start = self.when()
        if start is None:
            return None
        happened = self.is_completed and self.actual_start is not None
        end = self.actual_end if happened else self.scheduled_end
        return end if end is not None and end > start else start + timedelta(minutes=planned_minutes)


@dataclass(frozen=True)
class Projection:
    code: str
    anchor_code: str | None
    anchor_date: date
    anchor_source: AnchorSource
    window: Window

    @property
    def target(self) -> date:
        return self.window.target

    @property
    def earliest(self) -> date:
        return self.window.earliest

    @property
    def latest(self) -> date:
        return self.window.latest


@dataclass(frozen=True)
class StartCheck:
    """How a proposed start sits against the protocol."""

    code: str
    window: Window
    timing: Timing
    days_from_target: int
    before_anchor: bool
    out_of_sequence: bool
    sequence_conflicts: tuple[str, ...] = ()
    overlapping: tuple[str, ...] = ()  # sessions of the participant booked at the same time

    @property
    def in_window(self) -> bool:
        return self.timing is Timing.IN_WINDOW

    @property
    def acceptable_without_deviation(self) -> bool:
        """In window, in sequence, after its anchor. An overlap is never acceptable: callers refuse it."""
        return self.in_window and not self.out_of_sequence and not self.before_anchor


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    if moment.tzinfo is None:
        raise ValueError("datetimes given to the schedule engine must be time-zone aware")
    return moment.astimezone(tz).date()


def validate_plan(plan: Sequence[PlannedSession]) -> list[str]:
    """Every problem of a plan, as sentences; empty when the plan is sound."""
    problems = []
    seen: dict[str, PlannedSession] = {}
    orders: set[int] = set()
    for session in sorted(plan, key=lambda s: s.order):
        if session.code in seen:
            problems.append(f"{session.code}: the code is used twice.")
        if session.order in orders:
            problems.append(f"{session.code}: order {session.order} is used twice.")
        if session.anchor_code is not ENROLLMENT:
            if session.anchor_code == session.code:
                problems.append(f"{session.code}: a session cannot be anchored to itself.")
            elif session.anchor_code not in seen:
                problems.append(
                    f"{session.code}: anchor {session.anchor_code} must be an earlier session of the same plan."
                )
        for name in ("offset_days", "early_days", "late_days"):
            if getattr(session, name) < 0:
                problems.append(f"{session.code}: {name.replace('_', ' ')} cannot be negative.")
        if session.duration_minutes < 0:
            problems.append(f"{session.code}: duration cannot be negative.")
        seen[session.code] = session
        orders.add(session.order)
    return problems


def _window(anchor_date: date, planned: PlannedSession) -> Window:
    target = anchor_date + timedelta(days=planned.offset_days)
    return Window(
        target=target,
        earliest=target - timedelta(days=planned.early_days),
        latest=target + timedelta(days=planned.late_days),
    )


def project(
    plan: Sequence[PlannedSession],
    enrollment: date,
    tz: ZoneInfo,
    known: Mapping[str, KnownSession] | None = None,
) -> dict[str, Projection]:
    """Each session's anchor date, target and window, in plan order.

    Re-running it after any change re-projects everything downstream (the cascade): a
    session's window depends only on its anchor chain.
    """
    problems = validate_plan(plan)
    if problems:
        raise ScheduleError(" ".join(problems))
    known = known or {}
    projections: dict[str, Projection] = {}
    for planned in sorted(plan, key=lambda s: s.order):
        if planned.anchor_code is ENROLLMENT:
            anchor_date, source = enrollment, AnchorSource.ENROLLMENT
        else:
            anchor_date, source = _anchor_date(planned.anchor_code, projections, known, tz)
        state = known.get(planned.code)
        if state is not None and state.is_completed and state.window is not None:
            window = state.window  # completed sessions never move
        else:
            window = _window(anchor_date, planned)
        projections[planned.code] = Projection(
            code=planned.code,
            anchor_code=planned.anchor_code,
            anchor_date=anchor_date,
            anchor_source=source,
            window=window,
        )
    return projections


def _anchor_date(
    anchor_code: str, projections: Mapping[str, Projection], known: Mapping[str, KnownSession], tz: ZoneInfo
) -> tuple[date, AnchorSource]:
    state = known.get(anchor_code)
    if state is not None:
        if state.is_completed and state.actual_start is not None:
            return local_date(state.actual_start, tz), AnchorSource.ACTUAL
        if state.status in ("scheduled", "completed") and state.scheduled_start is not None:
            return local_date(state.scheduled_start, tz), AnchorSource.SCHEDULED
    return projections[anchor_code].target, AnchorSource.PROJECTED


def check_start(
    plan: Sequence[PlannedSession],
    enrollment: date,
    tz: ZoneInfo,
    known: Mapping[str, KnownSession] | None,
    code: str,
    start: datetime,
    end: datetime | None = None,
) -> StartCheck:
    """Judge a proposed start for session `code`: window timing, anchor, sequence and overlap.

    `end` defaults to the start plus the planned duration.
    """
    known = dict(known or {})
    by_code = {p.code: p for p in plan}
    if code not in by_code:
        raise ScheduleError(f"{code} is not a session of this plan.")
    planned = by_code[code]
    # Judge against the other sessions as they stand, without this session's own booking.
    known.pop(code, None)
    window = project(plan, enrollment, tz, known)[code].window
    day = local_date(start, tz)

    before_anchor = False
    if planned.anchor_code is ENROLLMENT:
        before_anchor = day < enrollment
    else:
        anchor_when = known.get(planned.anchor_code, KnownSession()).when()
        before_anchor = anchor_when is not None and start < anchor_when

    if end is None:
        end = start + timedelta(minutes=planned.duration_minutes)
    elif end <= start:
        raise ValueError("a session must end after it starts")
    conflicts, overlapping = [], []
    for other in plan:
        if other.code == code:
            continue
        state = known.get(other.code, KnownSession())
        other_when = state.when()
        if other_when is None:
            continue
        if (other.order < planned.order and other_when > start) or (other.order > planned.order and other_when < start):
            conflicts.append(other.code)
        if other_when < end and start < state.until(other.duration_minutes):
            overlapping.append(other.code)
    return StartCheck(
        code=code,
        window=window,
        timing=window.timing(day),
        days_from_target=window.days_from_target(day),
        before_anchor=before_anchor,
        out_of_sequence=bool(conflicts),
        sequence_conflicts=tuple(sorted(conflicts, key=lambda c: by_code[c].order)),
        overlapping=tuple(sorted(overlapping, key=lambda c: by_code[c].order)),
    )


def moved_windows(
    before: Mapping[str, Projection], after: Mapping[str, Projection]
) -> list[tuple[str, Window, Window]]:
    """The sessions whose window changed, with old and new window, in plan order of `after`."""
    return [
        (code, before[code].window, projection.window)
        for code, projection in after.items()
        if code in before and before[code].window != projection.window
    ]


def dependents(plan: Iterable[PlannedSession], code: str) -> set[str]:
    """Codes of every session anchored, directly or through others, to `code`."""
    children: dict[str, list[str]] = {}
    for planned in plan:
        if planned.anchor_code is not ENROLLMENT:
            children.setdefault(planned.anchor_code, []).append(planned.code)
    found: set[str] = set()
    stack = [code]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def nominal_span_days(plan: Sequence[PlannedSession]) -> int:
    """Days from enrollment to the last session's nominal target (the plan's length)."""
    if not plan:
        return 0
    tz = ZoneInfo("UTC")
    start = date(2000, 1, 1)
    projections = project(plan, start, tz)
    return max((p.target - start).days for p in projections.values())
