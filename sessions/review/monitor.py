"""The monitor's view of one protocol: swimlanes, adherence figures, out-of-window sessions.

Adherence reads every session of the chosen participants in one query of plain values (no
model instances), so a trial of thousands costs the same number of queries as one of five.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, QuerySet, Subquery
from django.http import Http404
from django.utils.html import escape
from django.utils.safestring import mark_safe

from protocols.models import Protocol, SessionDefinition
from protocols.plan import _marker
from protocols.schedule import nominal_span_days
from sessions.access import Role, site_ids_for
from sessions.models import Deviation, Participant, Site, StudySession
from sessions.review.links import link
from sessions.timeline import cross_path

REVIEW_ROLES = (Role.MONITOR, Role.COORDINATOR)
LANES_PER_PAGE = 25
# A trial of thousands has thousands out of window: rendering every row took a second (bench/run.py).
OUT_OF_WINDOW_SHOWN = 50
PHASES = [phase.value for phase in SessionDefinition.Phase]
PHASE_LABELS = dict(SessionDefinition.Phase.choices)


def review_site_ids(user) -> list[int]:
    return site_ids_for(user, *REVIEW_ROLES)


def review_protocols(user) -> QuerySet[Protocol]:
    """Protocols with participants at the user's review sites (every protocol when none has any yet)."""
    site_ids = review_site_ids(user)
    # EXISTS stops at each protocol's first participant; a join + DISTINCT read all of them.
    with_participants = Participant.objects.filter(protocol=OuterRef("pk"), site_id__in=site_ids)
    return Protocol.objects.filter(Exists(with_participants)).order_by("code")


@dataclass
class ReviewFilter:
    protocol: Protocol
    sites: list[Site]
    site: Site | None
    status: str
    protocols: list[Protocol] = field(default_factory=list)  # every protocol the user may pick

    def participants(self) -> QuerySet[Participant]:
        queryset = Participant.objects.filter(protocol=self.protocol, site__in=[s.pk for s in self.sites])
        if self.site:
            queryset = queryset.filter(site=self.site)
        if self.status:
            queryset = queryset.filter(status=self.status)
        return queryset

    @property
    def status_label(self) -> str:
        return Participant.Status(self.status).label if self.status else ""

    def query(self, **extra) -> str:
        from urllib.parse import urlencode

        params = {"protocol": self.protocol.pk}
        if self.site:
            params["site"] = self.site.code
        if self.status:
            params["status"] = self.status
        params.update({k: v for k, v in extra.items() if v not in (None, "")})
        return urlencode(params)


def review_filter(user, *, protocol_id, site_code, status) -> ReviewFilter | None:
    """Parse the review filters; a site outside the user's review scope is a 404."""
    site_ids = review_site_ids(user)
    sites = list(Site.objects.filter(pk__in=site_ids).order_by("code"))
    protocols = list(review_protocols(user))
    site = None
    if site_code:
        site = next((s for s in sites if s.code == site_code), None)
        if site is None:
            raise Http404("No such site.")
    protocol = None
    if protocol_id:
        try:
            protocol = next((p for p in protocols if p.pk == int(protocol_id)), None)
        except (TypeError, ValueError):
            protocol = None
        if protocol is None:
            raise Http404("No such protocol.")
    elif protocols:
        protocol = protocols[0]
    if protocol is None:
        return None
    if status not in Participant.Status.values:
        status = ""
    return ReviewFilter(protocol=protocol, sites=sites, site=site, status=status, protocols=protocols)


# --- adherence -------------------------------------------------------------------------


@dataclass
class OutOfWindow:
    participant_id: int
    session_id: int
    study_code: str
    site_code: str
    code: str
    status: str
    day: date
    opens: date
    closes: date
    has_deviation: bool

    @property
    def days_outside(self) -> int:
        return (self.day - self.closes).days if self.day > self.closes else (self.day - self.opens).days

    @property
    def outside_text(self) -> str:
        n = self.days_outside
        return f"{abs(n)} day{'s' if abs(n) != 1 else ''} {'late' if n > 0 else 'early'}"

    @property
    def session_url(self) -> str:
        return link("sessions:session_detail", self.session_id)

    @property
    def participant_url(self) -> str:
        return link("sessions:participant_detail", self.participant_id)


@dataclass
class PhaseCompletion:
    phase: str
    label: str
    completed: int
    planned: int

    @property
    def percent(self) -> int:
        return round(100 * self.completed / self.planned) if self.planned else 0

    @property
    def bar_width(self) -> float:
        return round(2 * self.percent, 1)  # of a 200-unit SVG bar


@dataclass
class Adherence:
    participants: int
    took_place: int
    in_window: int
    dosing_gaps: list[int]
    phases: list[PhaseCompletion]
    open_deviations: int
    out_of_window: list[OutOfWindow] = field(default_factory=list)
    shown_limit: int | None = OUT_OF_WINDOW_SHOWN

    @property
    def out_of_window_shown(self) -> list[OutOfWindow]:
        """The first rows of the table; all of them on request (?out=all) and in the sessions CSV."""
        return self.out_of_window if self.shown_limit is None else self.out_of_window[: self.shown_limit]

    @property
    def out_of_window_hidden(self) -> int:
        return len(self.out_of_window) - len(self.out_of_window_shown)

    @property
    def in_window_percent(self) -> int | None:
        return round(100 * self.in_window / self.took_place) if self.took_place else None

    @property
    def gap_median(self) -> float | None:
        return statistics.median(self.dosing_gaps) if self.dosing_gaps else None

    @property
    def gap_range(self) -> tuple[int, int] | None:
        return (min(self.dosing_gaps), max(self.dosing_gaps)) if self.dosing_gaps else None


def adherence(participants: QuerySet[Participant]) -> Adherence:
    """Adherence of the given participants, in three queries whatever their number."""
    rows = (
        StudySession.objects.filter(participant__in=participants)
        .values_list(
            "pk",
            "participant_id",
            "participant__study_code",
            "participant__site__code",
            "participant__site__time_zone",
            "definition__code",
            "definition__phase",
            "definition__order",
            "status",
            "scheduled_start",
            "actual_start",
            "window_opens",
            "window_closes",
        )
        .order_by("participant__study_code", "definition__order")
    )
    documented = set(
        Deviation.objects.filter(
            participant__in=participants,
            category=Deviation.Category.OUT_OF_WINDOW,
            session__isnull=False,
        )
        .exclude(status=Deviation.Status.VOIDED)
        .values_list("session_id", flat=True)
    )
    if connection.vendor == "postgresql":  # the same figures, summed by the database (bench/run.py)
        from sessions.review import adherence_pg

        return adherence_pg.adherence(participants, documented)
    zones: dict[str, ZoneInfo] = {}
    took_place = in_window = 0
    planned: dict[str, int] = defaultdict(int)
    completed: dict[str, int] = defaultdict(int)
    dosing_days: dict[int, list[date]] = defaultdict(list)
    outside: list[OutOfWindow] = []
    people: set[int] = set()
    for pk, pid, code, site_code, tz, def_code, phase, _order, status, start, actual, opens, closes in rows.iterator(
        chunk_size=2000
    ):
        people.add(pid)
        if status != StudySession.Status.CANCELLED:
            planned[phase] += 1
        zone = zones.setdefault(tz, ZoneInfo(tz))
        moment = (actual or start) if status == StudySession.Status.COMPLETED else start
        if status not in (StudySession.Status.COMPLETED, StudySession.Status.SCHEDULED) or moment is None:
            continue
        day = moment.astimezone(zone).date()
        inside = opens is None or closes is None or opens <= day <= closes
        if status == StudySession.Status.COMPLETED:
            completed[phase] += 1
            took_place += 1
            in_window += inside
            if phase == SessionDefinition.Phase.DOSING:
                dosing_days[pid].append(day)
        if not inside:
            outside.append(
                OutOfWindow(
                    participant_id=pid,
                    session_id=pk,
                    study_code=code,
                    site_code=site_code,
                    code=def_code,
                    status=status,
                    day=day,
                    opens=opens,
                    closes=closes,
                    has_deviation=pk in documented,
                )
            )
    gaps = []
    for days in dosing_days.values():
        days.sort()
        gaps.extend((b - a).days for a, b in zip(days, days[1:], strict=False))
    open_deviations = Deviation.objects.filter(participant__in=participants, status=Deviation.Status.OPEN).count()
    return Adherence(
        participants=len(people),
        took_place=took_place,
        in_window=in_window,
        dosing_gaps=gaps,
        phases=[
            PhaseCompletion(phase=p, label=PHASE_LABELS[p], completed=completed[p], planned=planned[p])
            for p in PHASES
            if planned[p]
        ],
        open_deviations=open_deviations,
        out_of_window=sorted(outside, key=lambda o: (o.day, o.study_code)),
    )


# --- swimlanes -------------------------------------------------------------------------


@dataclass(frozen=True)
class LaneLayout:
    width: int
    label_width: int
    lane_height: int
    font_size: int
    top: int = 30
    bottom: int = 34
    right: int = 12
    min_label_gap: int = 30


WIDE = LaneLayout(width=1000, label_width=120, lane_height=26, font_size=13)
NARROW = LaneLayout(width=360, label_width=74, lane_height=24, font_size=11)


@dataclass
class LaneMark:
    path: str
    kind: str  # done | booked | missed
    phase: str
    x: float
    y: float
    out: bool
    label: str


@dataclass
class Lane:
    participant: Participant
    url: str
    y: float
    centre: float
    text_y: float
    marks: list[LaneMark]
    end_x: float | None  # withdrawal
    bottom: float = 0
    now_x: float | None = None  # where the participant is today
    base_end_x: float = 0
    base_start_x: float = 0
    ring_r: float = 0

    # The marks as SVG and as text, built here rather than in a template loop over ~225 marks
    # (one chart: 4.4 ms -> 2.9 ms to render at N=10,000).
    @cached_property
    def marks_svg(self) -> str:
        ring = f'" r="{self.ring_r}"/>'
        parts = []
        for mark in self.marks:
            parts.append(f'<g class="phase-{escape(mark.phase)}"><title>{escape(mark.label)}</title>')
            if mark.out:
                parts.append(f'<circle class="tt-swim-ring" cx="{mark.x}" cy="{mark.y}{ring}')
            parts.append(f'<path class="tt-swim-{escape(mark.kind)}" d="{escape(mark.path)}"/></g>')
        return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped or a number

    @cached_property
    def marks_text(self) -> str:
        """The marks' labels for the text alternative, "; " between them."""
        return "; ".join(mark.label for mark in self.marks) or "no sessions booked yet"

    @property
    def now_top(self) -> float:
        return round(self.centre - (self.bottom - self.y) * 0.3, 1)

    @property
    def now_bottom(self) -> float:
        return round(self.centre + (self.bottom - self.y) * 0.3, 1)


@dataclass
class Swimlanes:
    id: str
    layout: LaneLayout
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    lanes: list[Lane]
    ticks: list[tuple[float, str]]
    labelled: list[tuple[float, str]]
    today_lines: list = field(default_factory=list)

    @property
    def width(self) -> int:
        return self.layout.width

    @property
    def code_x(self) -> float:
        return 8

    @property
    def ring_r(self) -> float:
        return round(self.layout.lane_height * 0.38, 1)

    @property
    def label_y(self) -> float:
        return self.plot_bottom + self.layout.font_size + 4

    @property
    def axis_y(self) -> float:
        return self.plot_top - 8


def swimlanes(page: Page, sessions_by_participant: dict, span_days: int, layout: LaneLayout, chart_id: str):
    weeks = max(1, math.ceil((span_days + 1) / 7))
    plot_left, plot_right = layout.label_width, layout.width - layout.right
    px = (plot_right - plot_left) / (weeks * 7)

    def x(day: float) -> float:
        return round(plot_left + day * px, 1)

    lanes = []
    for index, participant in enumerate(page.object_list):
        zone = ZoneInfo(participant.site.time_zone)
        y = layout.top + index * layout.lane_height
        centre = y + layout.lane_height / 2
        marks = []
        for session in sessions_by_participant.get(participant.pk, []):
            status = session["status"]
            moment = session["actual_start"] or session["scheduled_start"]
            if status == "completed":
                kind = "done"
            elif status == "scheduled":
                kind = "booked"
            elif status == "missed" and session["scheduled_start"]:
                kind = "missed"
            else:
                continue
            if moment is None:
                continue
            day = moment.astimezone(zone).date()
            offset = (day - participant.enrollment_date).days
            if offset < 0 or offset > weeks * 7:
                offset = min(max(offset, 0), weeks * 7)
            mx = x(offset + 0.5)
            r = layout.lane_height * 0.22
            opens, closes = session["window_opens"], session["window_closes"]
            out = kind != "missed" and bool(opens and closes and not opens <= day <= closes)
            path = cross_path(mx, centre, r) if kind == "missed" else _marker(session["phase"], mx, centre, r)
            marks.append(
                LaneMark(
                    path=path,
                    kind=kind,
                    phase=session["phase"],
                    x=mx,
                    y=round(centre, 1),
                    out=out,
                    label=f"{session['code']} {kind.replace('done', 'took place')} {day:%-d %b %Y}"
                    + (" — out of window" if out else ""),
                )
            )
        # Dosing marks last, so the integration session the next day never hides them.
        marks.sort(key=lambda m: m.phase == SessionDefinition.Phase.DOSING)
        today = datetime.now(zone).date()
        today_offset = (today - participant.enrollment_date).days
        now_x = x(today_offset + 0.5) if participant.is_active and 0 <= today_offset <= weeks * 7 else None
        end_x = None
        if participant.withdrawn_on:
            end_x = x(min(max((participant.withdrawn_on - participant.enrollment_date).days, 0), weeks * 7))
        lanes.append(
            Lane(
                participant=participant,
                url=link("sessions:participant_detail", participant.pk),
                y=round(y, 1),
                centre=round(centre, 1),
                text_y=round(centre, 1),
                marks=marks,
                end_x=end_x,
                bottom=round(y + layout.lane_height, 1),
                now_x=now_x,
                base_start_x=x(0),
                ring_r=round(layout.lane_height * 0.38, 1),
                base_end_x=max(
                    [x(min(max(today_offset, 0), weeks * 7)) if participant.is_active else 0]
                    + [m.x for m in marks]
                    + [end_x or 0]
                ),
            )
        )
    plot_bottom = layout.top + len(lanes) * layout.lane_height
    step = next((s for s in (1, 2, 4, 8, 13, 26) if s * 7 * px >= layout.min_label_gap), 52)
    ticks = [(x(w * 7), str(w)) for w in range(weeks + 1)]
    return Swimlanes(
        id=chart_id,
        layout=layout,
        height=plot_bottom + layout.bottom,
        plot_left=plot_left,
        plot_right=plot_right,
        plot_top=layout.top - 4,
        plot_bottom=plot_bottom,
        lanes=lanes,
        ticks=ticks,
        labelled=[t for w, t in enumerate(ticks) if w % step == 0],
    )


@dataclass
class MonitorReview:
    filter: ReviewFilter
    page: Page
    wide: Swimlanes
    narrow: Swimlanes
    adherence: Adherence
    deviations: list[Deviation]
    deviation_count: int
    span_weeks: int
    status_counts: list[tuple[str, str, int]]


def monitor_review(review: ReviewFilter, *, page_number, all_out_of_window: bool = False) -> MonitorReview:
    participants = review.participants()
    paginator = Paginator(participants.select_related("site").order_by("study_code"), LANES_PER_PAGE)
    page = paginator.get_page(page_number)
    ids = [p.pk for p in page.object_list]
    by_participant: dict[int, list[dict]] = defaultdict(list)
    for row in (
        StudySession.objects.filter(participant_id__in=ids)
        .values(
            "participant_id",
            "status",
            "scheduled_start",
            "actual_start",
            "window_opens",
            "window_closes",
            code=F("definition__code"),
            phase=F("definition__phase"),
        )
        .order_by("definition__order")
    ):
        by_participant[row["participant_id"]].append(row)
    # The axis: the longest plan of the protocol plus slack for late sessions.
    definitions = SessionDefinition.objects.filter(version__protocol=review.protocol).select_related("anchor")
    plans = defaultdict(list)
    for definition in definitions:
        plans[definition.version_id].append(definition.as_planned())
    span = max([nominal_span_days(plan) for plan in plans.values()] or [0]) + 21
    deviations = Deviation.objects.filter(participant__in=participants).exclude(status=Deviation.Status.VOIDED)
    # The 50 newest chosen by id first, then joined: joining every deviation to its session,
    # participant and reporter before the sort read all 90,000 sessions at N=10,000 (~30 ms).
    newest = Subquery(deviations.order_by("-reported_at", "-pk").values("pk")[:50])
    shown = (
        Deviation.objects.filter(pk__in=newest)
        .select_related("participant__site", "session__definition", "reported_by")
        .order_by("-reported_at", "-pk")
    )
    counts = dict(
        Participant.objects.filter(protocol=review.protocol, site__in=[s.pk for s in review.sites])
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    figures = adherence(participants)
    if all_out_of_window:
        figures.shown_limit = None
    return MonitorReview(
        filter=review,
        page=page,
        wide=swimlanes(page, by_participant, span, WIDE, "lanes-wide"),
        narrow=swimlanes(page, by_participant, span, NARROW, "lanes-narrow"),
        adherence=figures,
        deviations=list(shown),
        deviation_count=deviations.count(),
        span_weeks=math.ceil(span / 7),
        status_counts=[(value, label, counts.get(value, 0)) for value, label in Participant.Status.choices],
    )
