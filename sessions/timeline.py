"""One participant's schedule as a picture: the geometry of the timeline SVG.

`participant_timeline(participant, sessions, today)` turns what is known of a participant's
sessions into plain numbers for templates/review/_timeline.html: each session a row, its
protocol window a band in the phase colour, the booked start a hollow mark, what happened a
filled mark (a cross when missed), today a line, deviations flagged. No JavaScript; the SVG
scales to its container. It reads only attributes of the objects given (no queries) unless
`deviations` is left out, when it reads the participant's deviations once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from protocols.plan import _marker
from protocols.schedule import local_date

DAY_FORMAT = "%-d %b %Y"


def cross_path(x: float, y: float, r: float) -> str:
    """An × centred on (x, y): the mark of a missed session."""
    return f"M{x - r:.1f} {y - r:.1f}L{x + r:.1f} {y + r:.1f}M{x + r:.1f} {y - r:.1f}L{x - r:.1f} {y + r:.1f}"


def triangle_path(x: float, y: float, size: float) -> str:
    """A warning triangle with its left corner at x, centred on y."""
    half = size / 2
    return f"M{x:.1f} {y + half:.1f}L{x + half:.1f} {y - half:.1f}L{x + size:.1f} {y + half:.1f}Z"


def day_text(day: date | None) -> str:
    return day.strftime(DAY_FORMAT) if day else "—"


@dataclass(frozen=True)
class TimelineLayout:
    width: int
    label_width: int
    status_width: int  # right-hand column of status text; 0 hides it
    row_height: int
    band_height: int
    font_size: int
    top: int = 40
    bottom: int = 42
    right: int = 10
    min_label_gap: int = 58


LAPTOP = TimelineLayout(width=1000, label_width=64, status_width=190, row_height=30, band_height=16, font_size=13)
PHONE = TimelineLayout(width=360, label_width=52, status_width=0, row_height=28, band_height=14, font_size=12)


@dataclass(frozen=True)
class TimelineRow:
    session_id: int | None
    code: str
    name: str
    phase: str
    status: str
    status_label: str
    y: float
    centre: float
    band_x: float | None
    band_width: float
    band_bottom: float
    target_x: float | None
    mark_x: float | None
    mark: str  # SVG path of the session mark ("" when there is none)
    mark_kind: str  # booked | done | missed | cancelled | ""
    out_of_window: bool
    flagged: bool  # a deviation is recorded against this session
    flag_path: str  # a small warning triangle at the right of the plot
    status_text: str  # right-hand column (laptop)
    window_text: str
    summary: str  # text alternative line


@dataclass(frozen=True)
class TimelineTick:
    x: float
    label: str


@dataclass
class Timeline:
    id: str
    layout: TimelineLayout
    title: str
    description: str
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    rows: list[TimelineRow]
    ticks: list[TimelineTick]
    labelled_ticks: list[TimelineTick]
    today_x: float | None
    today_text: str
    enrollment_x: float | None
    deviation_lines: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        return self.layout.width

    @property
    def code_x(self) -> float:
        return self.plot_left - 6

    @property
    def status_x(self) -> float:
        return self.plot_right + 22

    @property
    def tick_label_y(self) -> float:
        return self.plot_bottom + self.layout.font_size + 4

    @property
    def today_label_y(self) -> float:
        return self.plot_top - 6

    @property
    def enrollment_label_fits(self) -> bool:
        """False when the "Enrolled" label would run into the "Today" label (enrolled a few days ago)."""
        if self.enrollment_x is None:
            return False
        if self.today_x is None:
            return True
        char = 0.62 * self.layout.font_size  # a generous average glyph width
        today_left = self.today_x - len(self.today_text) * char / 2
        today_right = self.today_x + len(self.today_text) * char / 2
        enrolled_right = self.enrollment_x + len("Enrolled") * char
        return enrolled_right + 4 < today_left or self.enrollment_x > today_right + 4


@dataclass
class ParticipantTimeline:
    """What the template needs: a wide and a narrow picture plus the text alternative."""

    study_code: str
    wide: Timeline
    narrow: Timeline
    lines: list[str]
    deviation_lines: list[str]
    rows: list[TimelineRow]


def _session_day(moment, zone: ZoneInfo) -> date | None:
    return local_date(moment, zone) if moment is not None else None


def _fact(session, zone: ZoneInfo) -> dict:
    definition = session.definition
    booked = _session_day(session.scheduled_start, zone)
    happened = _session_day(session.actual_start, zone) if session.status == "completed" else None
    if session.status == "completed" and happened is None:
        happened = booked
    mark_day, kind = None, ""
    if session.status == "completed":
        mark_day, kind = happened, "done"
    elif session.status == "scheduled":
        mark_day, kind = booked, "booked"
    elif session.status == "missed":
        mark_day, kind = booked, "missed"
    elif session.status == "cancelled" and booked:
        mark_day, kind = booked, "cancelled"
    opens, closes = session.window_opens, session.window_closes
    out = bool(mark_day and kind in ("done", "booked") and opens and closes and not (opens <= mark_day <= closes))
    return {
        "session": session,
        "definition": definition,
        "booked": booked,
        "happened": happened,
        "mark_day": mark_day,
        "kind": kind,
        "out": out,
    }


def _status_text(fact: dict) -> str:
    session = fact["session"]
    if fact["kind"] == "done":
        return f"Done {day_text(fact['mark_day'])}"
    if fact["kind"] == "booked":
        return f"Booked {day_text(fact['mark_day'])}"
    if fact["kind"] == "missed":
        return f"Missed {day_text(fact['mark_day'])}"
    if session.status == "cancelled":
        return "Cancelled"
    if session.window_opens:
        return f"To book {session.window_opens:%-d %b}–{session.window_closes:%-d %b}"
    return "Not booked"


def _window_text(session) -> str:
    if not session.window_opens:
        return "—"
    return f"{day_text(session.window_opens)} – {day_text(session.window_closes)}"


def _summary(fact: dict, flagged: bool) -> str:
    session, definition = fact["session"], fact["definition"]
    parts = [f"{definition.code} {definition.name} ({definition.get_phase_display().lower()})"]
    if session.window_opens:
        parts.append(f"window {day_text(session.window_opens)} to {day_text(session.window_closes)}")
    status = _status_text(fact)
    parts.append(status[0].lower() + status[1:])
    if fact["out"]:
        parts.append("OUT OF WINDOW")
    if flagged:
        parts.append("deviation recorded")
    return ", ".join(parts) + "."


def _build(
    study_code: str,
    facts: list[dict],
    flagged_ids: set,
    enrollment: date | None,
    today: date,
    layout: TimelineLayout,
    chart_id: str,
) -> Timeline:
    days = [d for f in facts for d in (f["session"].window_opens, f["session"].window_closes, f["mark_day"]) if d]
    if enrollment:
        days.append(enrollment)
    if not days:
        days = [today]
    first, last = min(days), max(days)
    # Show today when it is near the schedule, so "where are we" is visible at a glance.
    if first - timedelta(days=21) <= today <= last + timedelta(days=21):
        first, last = min(first, today), max(last, today)
    # Start the axis on the Monday before, end it on the Sunday after.
    first = first - timedelta(days=first.weekday())
    last = last + timedelta(days=6 - last.weekday())
    span = (last - first).days + 1
    plot_left = layout.label_width
    plot_right = layout.width - layout.right - (layout.status_width or 0) - (14 if layout.status_width else 10)
    px = (plot_right - plot_left) / span

    def x(day: date, fraction: float = 0.0) -> float:
        return round(plot_left + ((day - first).days + fraction) * px, 1)

    rows = []
    for index, fact in enumerate(facts):
        session, definition = fact["session"], fact["definition"]
        y = layout.top + index * layout.row_height + (layout.row_height - layout.band_height) / 2
        centre = y + layout.band_height / 2
        band_x = band_w = None
        if session.window_opens and session.window_closes:
            band_x = x(session.window_opens)
            band_w = max(round(x(session.window_closes, 1) - band_x, 1), 2.0)
        mark_x, mark = None, ""
        if fact["mark_day"]:
            mark_x = x(fact["mark_day"], 0.5)
            radius = layout.band_height * 0.42
            if fact["kind"] == "missed":
                mark = cross_path(mark_x, centre, radius)
            else:
                mark = _marker(definition.phase, mark_x, centre, radius)
        flagged = session.pk in flagged_ids
        flag_path = triangle_path(plot_right + 4, centre, layout.band_height)
        rows.append(
            TimelineRow(
                session_id=session.pk,
                code=definition.code,
                name=definition.name,
                phase=definition.phase,
                status=session.status,
                status_label=session.get_status_display(),
                y=round(y, 1),
                centre=round(centre, 1),
                band_x=band_x,
                band_width=band_w or 0,
                band_bottom=round(y + layout.band_height, 1),
                target_x=x(session.target_date, 0.5) if session.target_date else None,
                mark_x=mark_x,
                mark=mark,
                mark_kind=fact["kind"],
                out_of_window=fact["out"],
                flagged=flagged,
                flag_path=flag_path,
                status_text=_status_text(fact),
                window_text=_window_text(session),
                summary=_summary(fact, flagged),
            )
        )
    plot_bottom = layout.top + len(facts) * layout.row_height
    weeks = span // 7
    step = next((s for s in (1, 2, 4, 8, 13, 26, 52) if s * 7 * px >= layout.min_label_gap), 52)
    ticks, labelled = [], []
    for week in range(weeks + 1):
        day = first + timedelta(days=7 * week)
        tick = TimelineTick(x=x(day), label=day.strftime("%-d %b"))
        ticks.append(tick)
        if week % step == 0 and week < weeks:
            labelled.append(tick)
    in_range = first <= today <= last
    title = f"{study_code}: sessions against their protocol windows"
    description = (
        f"Timeline of {study_code}'s {len(facts)} sessions from {day_text(first)} to {day_text(last)}. "
        "Coloured bands are protocol windows, hollow marks booked sessions, filled marks sessions that took place, "
        "crosses missed sessions. "
        + (f"Today, {day_text(today)}, is marked with a line." if in_range else f"Today is {day_text(today)}.")
    )
    return Timeline(
        id=chart_id,
        layout=layout,
        title=title,
        description=description,
        height=math.ceil(plot_bottom + layout.bottom),
        plot_left=plot_left,
        plot_right=plot_right,
        plot_top=layout.top - 10,
        plot_bottom=plot_bottom,
        rows=rows,
        ticks=ticks,
        labelled_ticks=labelled,
        today_x=x(today, 0.5) if in_range else None,
        today_text=f"Today {today:%-d %b}",
        enrollment_x=x(enrollment) if enrollment and first <= enrollment <= last else None,
    )


def participant_timeline(participant, sessions: Iterable, today: date, *, deviations: Iterable | None = None):
    """The participant's timeline pictures (wide and narrow) and their text alternative.

    `sessions`: the participant's StudySession rows with `definition` loaded. `deviations`:
    the participant's deviations (any object with `session_id`, `status`, `category` and
    `get_category_display`); read from the participant when not given.
    """
    zone = ZoneInfo(participant.site.time_zone)
    ordered = sorted(sessions, key=lambda s: (s.definition.order, s.pk or 0))
    facts = [_fact(s, zone) for s in ordered]
    if deviations is None:
        deviations = participant.deviations.all()
    live = [d for d in deviations if d.status != "voided"]
    flagged_ids = {d.session_id for d in live if d.session_id}
    code_by_id = {s.pk: s.definition.code for s in ordered}
    deviation_lines = [
        f"{d.get_category_display()} ({d.get_status_display().lower()})"
        + (f" — {code_by_id[d.session_id]}" if d.session_id in code_by_id else "")
        for d in live
    ]
    enrollment = participant.enrollment_date
    wide = _build(participant.study_code, facts, flagged_ids, enrollment, today, LAPTOP, "timeline-wide")
    narrow = _build(participant.study_code, facts, flagged_ids, enrollment, today, PHONE, "timeline-narrow")
    return ParticipantTimeline(
        study_code=participant.study_code,
        wide=wide,
        narrow=narrow,
        lines=[row.summary for row in wide.rows],
        deviation_lines=deviation_lines,
        rows=wide.rows,
    )
