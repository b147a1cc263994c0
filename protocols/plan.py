"""A version's plan as the protocol page shows it: table rows, and the geometry of its picture.

Nominal dates come from the schedule engine with every session on its target; the picture
is plain numbers for the SVG template (templates/protocols/_plan_chart.html), drawn by week
from enrollment, so it needs no JavaScript.
"""

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from protocols.models import SessionDefinition
from protocols.schedule import nominal_span_days, project

ORIGIN = date(2000, 1, 1)  # any date: only days from enrollment matter
PHASE_ORDER = [phase.value for phase in SessionDefinition.Phase]


@dataclass(frozen=True)
class PlanRow:
    definition: SessionDefinition
    target_day: int
    earliest_day: int
    latest_day: int

    @property
    def code(self) -> str:
        return self.definition.code

    @property
    def phase(self) -> str:
        return self.definition.phase

    @property
    def duration(self) -> str:
        return minutes_text(self.definition.duration_minutes)

    @property
    def anchor(self) -> str:
        return self.definition.anchor.code if self.definition.anchor_id else "Enrollment"

    @property
    def offset(self) -> str:
        return f"+{self.definition.offset_days} d"

    @property
    def window(self) -> str:
        early, late = self.definition.window_early_days, self.definition.window_late_days
        return f"{f'−{early}' if early else '0'} / {f'+{late}' if late else '0'} d"

    @property
    def room_hold(self) -> str:
        hours = self.definition.room_hold_hours
        return f"{hours} h" if hours else "—"

    @property
    def summary(self) -> str:
        """One line of the picture's text alternative."""
        phase = self.definition.get_phase_display().lower()
        return (
            f"{self.code} ({phase}): target day {self.target_day} (week {week_text(self.target_day)}), "
            f"window days {self.earliest_day} to {self.latest_day}."
        )


def minutes_text(minutes: int) -> str:
    """90 → "90 min", 480 → "8 h", 150 → "2 h 30 min", as the design card writes them."""
    hours, rest = divmod(minutes, 60)
    if not rest:
        return f"{hours} h"
    return f"{minutes} min" if minutes < 120 else f"{hours} h {rest} min"


def week_text(day: int) -> str:
    weeks = day / 7
    return str(int(weeks)) if weeks == int(weeks) else f"{weeks:.1f}"


def plan_rows(definitions: Sequence[SessionDefinition]) -> list[PlanRow]:
    """Each definition with its nominal target and window in days from enrollment, in plan order."""
    definitions = sorted(definitions, key=lambda d: d.order)
    projections = project([d.as_planned() for d in definitions], ORIGIN, ZoneInfo("UTC"))
    return [
        PlanRow(
            definition=d,
            target_day=(projections[d.code].target - ORIGIN).days,
            earliest_day=(projections[d.code].earliest - ORIGIN).days,
            latest_day=(projections[d.code].latest - ORIGIN).days,
        )
        for d in definitions
    ]


@dataclass(frozen=True)
class PlanSummary:
    sessions: int
    by_phase: list[tuple[str, int]]  # (phase label, count) in phase order
    span_days: int

    @property
    def span_weeks(self) -> int:
        return round(self.span_days / 7)

    @property
    def text(self) -> str:
        phases = ", ".join(f"{count} {label.lower()}" for label, count in self.by_phase)
        return (
            f"{self.sessions} sessions ({phases}) over about {self.span_weeks} weeks: "
            f"the last one nominally {self.span_days} days after enrollment."
        )


def summarise(definitions: Sequence[SessionDefinition]) -> PlanSummary:
    counts = Counter(d.phase for d in definitions)
    labels = dict(SessionDefinition.Phase.choices)
    return PlanSummary(
        sessions=len(definitions),
        by_phase=[(labels[phase], counts[phase]) for phase in PHASE_ORDER if counts[phase]],
        span_days=nominal_span_days([d.as_planned() for d in definitions]),
    )


# --- the picture ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChartLayout:
    """Sizes in SVG user units; the SVG scales to its container, so these set the proportions."""

    width: int
    label_width: int
    row_height: int
    band_height: int
    font_size: int
    top: int = 34
    bottom: int = 40
    right: int = 14
    min_label_gap: int = 26  # px between week labels


LAPTOP = ChartLayout(width=1000, label_width=70, row_height=26, band_height=14, font_size=13)
PHONE = ChartLayout(width=360, label_width=54, row_height=24, band_height=12, font_size=12)


@dataclass(frozen=True)
class ChartBar:
    code: str
    name: str
    phase: str
    y: float
    text_y: float
    band_x: float
    band_width: float
    target_x: float
    target_y: float
    marker: str  # SVG path of the target marker, centred on (target_x, target_y)
    label: str  # hover text


@dataclass(frozen=True)
class ChartTick:
    x: float
    label: str


@dataclass(frozen=True)
class PlanChart:
    id: str
    layout: ChartLayout
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    enrollment_x: float
    bars: list[ChartBar]
    ticks: list[ChartTick]
    labelled_ticks: list[ChartTick]
    axis_label_x: float

    @property
    def width(self) -> int:
        return self.layout.width

    @property
    def code_x(self) -> float:
        return self.plot_left - 6

    @property
    def week_label_y(self) -> float:
        return self.plot_bottom + self.layout.font_size + 4

    @property
    def axis_label_y(self) -> float:
        return self.height - 6

    @property
    def enrollment_label_y(self) -> float:
        return self.plot_top - 6


def _marker(phase: str, x: float, y: float, r: float) -> str:
    """Phases differ in shape as well as colour: circle, diamond, square."""
    if phase == SessionDefinition.Phase.DOSING:
        return (
            f"M{x:.1f} {y - r * 1.3:.1f}L{x + r * 1.3:.1f} {y:.1f}L{x:.1f} {y + r * 1.3:.1f}L{x - r * 1.3:.1f} {y:.1f}Z"
        )
    if phase == SessionDefinition.Phase.INTEGRATION:
        return f"M{x - r:.1f} {y - r:.1f}h{2 * r:.1f}v{2 * r:.1f}h{-2 * r:.1f}Z"
    return f"M{x - r:.1f} {y:.1f}a{r:.1f} {r:.1f} 0 1 0 {2 * r:.1f} 0a{r:.1f} {r:.1f} 0 1 0 {-2 * r:.1f} 0Z"


def plan_chart(rows: Sequence[PlanRow], layout: ChartLayout, chart_id: str) -> PlanChart:
    first_week = math.floor(min([0, *(r.earliest_day for r in rows)]) / 7)
    last_week = max(1, math.ceil(max([0, *(r.latest_day + 1 for r in rows)]) / 7))
    plot_left = layout.label_width
    plot_right = layout.width - layout.right
    px_per_day = (plot_right - plot_left) / ((last_week - first_week) * 7)

    def x(day: float) -> float:
        return round(plot_left + (day - first_week * 7) * px_per_day, 1)

    bars = []
    for index, row in enumerate(rows):
        y = layout.top + index * layout.row_height + (layout.row_height - layout.band_height) / 2
        centre = y + layout.band_height / 2
        target_x = x(row.target_day + 0.5)
        bars.append(
            ChartBar(
                code=row.code,
                name=row.definition.name,
                phase=row.phase,
                y=y,
                text_y=centre,
                band_x=x(row.earliest_day),
                band_width=max(round(x(row.latest_day + 1) - x(row.earliest_day), 1), 2.0),
                target_x=target_x,
                target_y=centre,
                marker=_marker(row.phase, target_x, centre, layout.band_height * 0.38),
                label=row.summary,
            )
        )
    plot_bottom = layout.top + len(rows) * layout.row_height
    weeks = range(first_week, last_week + 1)
    step = next(s for s in (1, 2, 4, 8, 13, 26, 52) if s * 7 * px_per_day >= layout.min_label_gap)
    ticks = [ChartTick(x=x(w * 7), label=str(w)) for w in weeks]
    return PlanChart(
        id=chart_id,
        layout=layout,
        height=plot_bottom + layout.bottom,
        plot_left=plot_left,
        plot_right=plot_right,
        plot_top=layout.top - 8,
        plot_bottom=plot_bottom,
        enrollment_x=x(0),
        bars=bars,
        ticks=ticks,
        labelled_ticks=[t for w, t in zip(weeks, ticks, strict=True) if w % step == 0],
        axis_label_x=round((plot_left + plot_right) / 2, 1),
    )
