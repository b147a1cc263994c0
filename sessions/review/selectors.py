"""Reads that power the review pages: dashboards, site calendar, reminders.

Each takes the user (or a site) and returns rows already scoped and loaded for the page, in a
fixed number of queries. "Today" is always the site's own local date.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Max, Prefetch, Q, QuerySet, Window, prefetch_related_objects
from django.http import Http404
from django.utils import timezone

from protocols.models import SessionDefinition
from sessions.access import Role, site_ids_for
from sessions.models import Assignment, Deviation, Participant, Room, Site, StudySession
from sessions.review.links import link
from sessions.selectors import sites_for_user

ACTIVE_PARTICIPANT = (Participant.Status.ENROLLED, Participant.Status.IN_TREATMENT)
BOOKED = (StudySession.Status.SCHEDULED, StudySession.Status.COMPLETED)
TO_SCHEDULE_LOOKAHEAD_DAYS = 14
DASHBOARD_ROWS = 25


def site_today(site: Site, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(ZoneInfo(site.time_zone)).date()


def day_start(site: Site, day: date) -> datetime:
    """Midnight of a site-local day, as an aware datetime (UTC comparisons work on it)."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(site.time_zone))


def _per_site(sites: Iterable[Site], make_q) -> Q:
    """OR of one condition per site, each built from that site's local today."""
    combined = Q(pk__in=[])
    for site in sites:
        combined |= Q(participant__site_id=site.pk) & make_q(site, site_today(site))
    return combined


def _per_local_day(sites: Iterable[Site], make_q) -> Q:
    """Like _per_site for a condition on dates alone: sites sharing a local today share one term.

    Ten sites in ten zones have at most two local todays, so the query holds two terms instead
    of ten, which PostgreSQL plans (and Django compiles) several times faster.
    """
    by_day: dict[date, list[int]] = defaultdict(list)
    for site in sites:
        by_day[site_today(site)].append(site.pk)
    combined = Q(pk__in=[])
    for today, site_ids in sorted(by_day.items()):
        combined |= Q(participant__site_id__in=site_ids) & make_q(today)
    return combined


def _sessions_for_sites(site_ids) -> QuerySet[StudySession]:
    return StudySession.objects.filter(participant__site_id__in=site_ids).select_related(
        "participant__site", "definition", "room"
    )


def _active_assignments() -> Prefetch:
    return Prefetch(
        "assignments",
        queryset=Assignment.objects.filter(is_active=True).select_related("therapist").order_by("pk"),
        to_attr="active_assignments",
    )


def booked_between(sites, first_offset: int, last_offset: int) -> Q:
    """Sessions booked from site-local today+first_offset to the end of today+last_offset."""
    sites = list(sites)
    per_site = _per_site(
        sites,
        lambda site, today: Q(
            scheduled_start__gte=day_start(site, today + timedelta(days=first_offset)),
            scheduled_start__lt=day_start(site, today + timedelta(days=last_offset + 1)),
        ),
    )
    if not sites:
        return per_site
    # The same days as one range over every site (a day wider each side, should midnight pass
    # meanwhile): redundant, but it lets the database read only those days from the
    # scheduled_start index instead of walking it from the first booking ever (bench/run.py).
    starts = [day_start(site, site_today(site) + timedelta(days=first_offset - 1)) for site in sites]
    ends = [day_start(site, site_today(site) + timedelta(days=last_offset + 2)) for site in sites]
    return Q(scheduled_start__gte=min(starts), scheduled_start__lt=max(ends)) & per_site


def to_schedule_q(sites) -> Q:
    """Window open or opening within 14 days, nothing booked, participant still in the trial."""
    return Q(status=StudySession.Status.UNSCHEDULED, participant__status__in=ACTIVE_PARTICIPANT) & _per_local_day(
        sites,
        lambda today: Q(window_opens__lte=today + timedelta(days=TO_SCHEDULE_LOOKAHEAD_DAYS), window_closes__gte=today),
    )


def overdue_q(sites) -> Q:
    """Window closed and the session neither done nor accounted for (missed or cancelled)."""
    sites = list(sites)
    overdue = Q(
        status__in=(StudySession.Status.UNSCHEDULED, StudySession.Status.SCHEDULED),
        participant__status__in=ACTIVE_PARTICIPANT,
    ) & _per_local_day(sites, lambda today: Q(window_closes__lt=today))
    if not sites:
        return overdue
    # Redundant (a window opens before it closes), but the (status, window_opens) index can then
    # skip every session whose window is still ahead (bench/run.py).
    latest = max(site_today(site) for site in sites) + timedelta(days=1)
    return Q(window_opens__lt=latest) & overdue


@dataclass
class DashboardRow:
    """One line of a dashboard list and the one action it needs."""

    session: StudySession | None
    when: str
    title: str
    detail: str
    phase: str
    action_label: str
    action_url: str
    late: bool = False
    deviation: Deviation | None = None


def _local(moment: datetime | None, site: Site, fmt: str) -> str:
    return moment.astimezone(ZoneInfo(site.time_zone)).strftime(fmt) if moment else ""


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


def _names(session: StudySession) -> str:
    assignments = getattr(session, "active_assignments", [])
    return ", ".join(_person(a.therapist) for a in assignments)


def _booked_row(session: StudySession, fmt: str) -> DashboardRow:
    site = session.participant.site
    detail = " · ".join(filter(None, [session.room.name if session.room else "", _names(session)]))
    ended = session.scheduled_end is not None and session.scheduled_end < timezone.now()
    if session.status == StudySession.Status.SCHEDULED and ended:
        label = "Log"
        url = link("sessions:log", session.pk) or link("sessions:session_detail", session.pk)
    else:
        label, url = "Open", link("sessions:session_detail", session.pk)
    return DashboardRow(
        session=session,
        when=_local(session.scheduled_start, site, fmt),
        title=f"{session.participant.study_code} · {session.definition.name}",
        detail=f"{site.code} · {detail}" if detail else site.code,
        phase=session.definition.phase,
        action_label=label,
        action_url=url,
    )


def _schedule_row(session: StudySession, *, overdue: bool) -> DashboardRow:
    site = session.participant.site
    window = f"window {session.window_opens:%-d %b}–{session.window_closes:%-d %b}" if session.window_opens else ""
    if session.status == StudySession.Status.SCHEDULED:
        label = "Log or reschedule"
        url = link("sessions:session_detail", session.pk)
        detail = f"booked {_local(session.scheduled_start, site, '%-d %b')}, not logged · {window}"
    else:
        label, url = "Schedule", link("sessions:schedule", session.pk) or link("sessions:session_detail", session.pk)
        detail = window
    return DashboardRow(
        session=session,
        when=f"{session.window_closes:%-d %b}" if session.window_closes else "",
        title=f"{session.participant.study_code} · {session.definition.name}",
        detail=f"{site.code} · {detail}",
        phase=session.definition.phase,
        action_label=label,
        action_url=url,
        late=overdue,
    )


def _deviation_row(deviation: Deviation) -> DashboardRow:
    participant = deviation.participant
    what = deviation.get_category_display()
    if deviation.session_id:
        what += f" · {deviation.session.definition.code}"
    return DashboardRow(
        session=deviation.session,
        when=_local(deviation.reported_at, participant.site, "%-d %b"),
        title=f"{participant.study_code} · {what}",
        detail=f"{participant.site.code} · reported by {_person(deviation.reported_by)}",
        phase="",
        action_label="Review",
        action_url=link("sessions:participant_detail", participant.pk),
        deviation=deviation,
    )


@dataclass
class CoordinatorDashboard:
    sites: list[Site]
    today: list[DashboardRow]
    week: list[DashboardRow]
    to_schedule: list[DashboardRow]
    to_schedule_count: int
    overdue: list[DashboardRow]
    overdue_count: int
    deviations: list[DashboardRow]
    deviations_count: int
    today_count: int = 0
    week_count: int = 0
    kpis: list = field(default_factory=list)


def _first_rows(queryset: QuerySet[StudySession]) -> tuple[list[StudySession], int]:
    """The first DASHBOARD_ROWS rows and how many there are in all, in one query (COUNT(*) OVER ())."""
    rows = list(queryset.annotate(total_rows=Window(Count("pk")))[:DASHBOARD_ROWS])
    return rows, (rows[0].total_rows if rows else 0)


def coordinator_dashboard(user, *, sites: list[Site] | None = None) -> CoordinatorDashboard:
    """sites: the user's coordinator sites when the caller has read them already (code order)."""
    site_ids = site_ids_for(user, Role.COORDINATOR)
    if sites is None:
        sites = list(Site.objects.filter(pk__in=site_ids).order_by("code"))
    sessions = _sessions_for_sites(site_ids)
    booked = sessions.filter(status__in=BOOKED).order_by("scheduled_start")
    # The totals come with the rows: the KPIs count every booking, not only the rows shown.
    today, today_count = _first_rows(booked.filter(booked_between(sites, 0, 0)))
    week, week_count = _first_rows(booked.filter(booked_between(sites, 1, 7)))
    # Both lists' therapists in one query.
    prefetch_related_objects([*today, *week], _active_assignments())
    to_schedule, to_schedule_count = _first_rows(
        sessions.filter(to_schedule_q(sites)).order_by("window_closes", "participant__study_code")
    )
    overdue, overdue_count = _first_rows(
        sessions.filter(overdue_q(sites)).order_by("window_closes", "participant__study_code")
    )
    deviations = Deviation.objects.filter(participant__site_id__in=site_ids, status=Deviation.Status.OPEN)
    # The newest rows picked by id first, then joined (joining every open deviation first read
    # every session of the sites).
    newest = deviations.order_by("-reported_at", "-pk").values("pk")[:DASHBOARD_ROWS]
    shown = (
        Deviation.objects.filter(pk__in=newest)
        .select_related("participant__site", "session__definition", "reported_by")
        .order_by("-reported_at", "-pk")
    )
    return CoordinatorDashboard(
        sites=sites,
        today=[_booked_row(s, "%H:%M") for s in today],
        week=[_booked_row(s, "%a %-d %b · %H:%M") for s in week],
        to_schedule=[_schedule_row(s, overdue=False) for s in to_schedule],
        to_schedule_count=to_schedule_count,
        overdue=[_schedule_row(s, overdue=True) for s in overdue],
        overdue_count=overdue_count,
        deviations=[_deviation_row(d) for d in shown],
        deviations_count=deviations.count(),
        today_count=today_count,
        week_count=week_count,
    )


@dataclass
class StaffSession:
    session: StudySession
    day: date
    when: str
    title: str
    detail: str
    citation: str
    url: str
    is_today: bool


def staff_sessions(user, *, limit: int = 40) -> list[StaffSession]:
    """The user's own booked sessions from today on, soonest first, at sites where they are staff."""
    site_ids = site_ids_for(user, Role.STAFF)
    upcoming = Q(pk__in=[])
    for site in Site.objects.filter(pk__in=site_ids):
        upcoming |= Q(
            session__participant__site_id=site.pk, session__scheduled_start__gte=day_start(site, site_today(site))
        )
    assignments = (
        Assignment.objects.filter(therapist=user, is_active=True, session__status=StudySession.Status.SCHEDULED)
        .filter(upcoming)
        .select_related("session__participant__site", "session__definition", "session__room")
        .order_by("session__scheduled_start")[:limit]
    )
    rows = []
    for assignment in assignments:
        session = assignment.session
        site = session.participant.site
        local = session.scheduled_start.astimezone(ZoneInfo(site.time_zone))
        definition = session.definition
        rows.append(
            StaffSession(
                session=session,
                day=local.date(),
                when=local.strftime("%H:%M"),
                title=f"{session.participant.study_code} · {definition.name}",
                detail=" · ".join(filter(None, [site.code, session.room.name if session.room else ""])),
                citation=definition.protocol_citation if definition.is_dosing else "",
                url=link("sessions:session_detail", session.pk),
                is_today=local.date() == site_today(site),
            )
        )
    return rows


@dataclass(frozen=True)
class StaffTask:
    session: StudySession
    when: datetime
    title: str
    detail: str
    action: str
    url: str


def staff_to_record(user, *, limit: int = 20) -> list[StaffTask]:
    """The user's own sessions that took place and still need their record: to log, then to sign.

    One query whatever the number of participants; oldest first, because those are the ones a
    monitor will ask about."""
    site_ids = site_ids_for(user, Role.STAFF)
    status = StudySession.Status
    assignments = (
        Assignment.objects.filter(therapist=user, is_active=True, session__participant__site_id__in=site_ids)
        .filter(
            Q(session__status=status.SCHEDULED, session__scheduled_start__lt=timezone.now())
            | (
                Q(session__status__in=[status.COMPLETED, status.MISSED], session__signed_at__isnull=True)
                & ~Q(session__outcome="")
            )
        )
        .select_related("session__participant__site", "session__definition")
        .order_by("session__scheduled_start", "session__pk")[:limit]
    )
    rows = []
    for assignment in assignments:
        session = assignment.session
        site = session.participant.site
        to_log = session.status == status.SCHEDULED
        rows.append(
            StaffTask(
                session=session,
                when=session.scheduled_start.astimezone(ZoneInfo(site.time_zone)) if session.scheduled_start else None,
                title=f"{session.participant.study_code} · {session.definition.name}",
                detail=site.code + (" · not logged yet" if to_log else " · logged, not signed"),
                action="Log" if to_log else "Sign",
                url=link("sessions:log" if to_log else "sessions:sign", session.pk),
            )
        )
    return rows


def monitor_overview(user) -> dict:
    site_ids = site_ids_for(user, Role.MONITOR)
    participants = Participant.objects.filter(site_id__in=site_ids)
    return {
        "participants": participants.count(),
        "active": participants.filter(status__in=ACTIVE_PARTICIPANT).count(),
        "open_deviations": Deviation.objects.filter(
            participant__site_id__in=site_ids, status=Deviation.Status.OPEN
        ).count(),
    }


# --- site calendar ---------------------------------------------------------------------


@dataclass
class CalendarItem:
    session: StudySession
    kind: str  # "session" or "hold"
    time_text: str
    title: str
    phase: str
    url: str
    detail: str = ""


@dataclass
class CalendarRow:
    room: Room | None
    cells: list[list[CalendarItem]]


@dataclass
class SiteWeek:
    site: Site
    monday: date
    days: list[date]
    today: date
    rows: list[CalendarRow]
    by_day: list[tuple[date, list[tuple[Room | None, CalendarItem]]]]
    count: int

    @property
    def today_index(self) -> int:
        return (self.today - self.monday).days

    @property
    def previous(self) -> date:
        return self.monday - timedelta(days=7)

    @property
    def next(self) -> date:
        return self.monday + timedelta(days=7)


def calendar_sites_for(user) -> QuerySet[Site]:
    return sites_for_user(user, Role.COORDINATOR, Role.STAFF)


def get_calendar_site(user, code: str | None) -> Site:
    """The site the calendar shows: the one asked for (404 outside scope) or the user's first."""
    sites = calendar_sites_for(user)
    if code:
        site = Site.objects.filter(code=code).first()
        if site is None or not any(s.pk == site.pk for s in sites):
            # Another site, or one the user sees only as monitor: the caller decides 403 vs 404.
            raise Http404("No such site.")
        return site
    site = sites.first()
    if site is None:
        raise Http404("No site.")
    return site


def site_week(site: Site, monday: date) -> SiteWeek:
    zone = ZoneInfo(site.time_zone)
    days = [monday + timedelta(days=i) for i in range(7)]
    start, end = day_start(site, monday), day_start(site, monday + timedelta(days=7))
    rooms = list(Room.objects.filter(site=site).order_by("name"))
    # No booking lasts longer than the longest session plus the longest room hold (and a day to
    # spare): a lower bound on scheduled_start lets the database use its index instead of reading
    # every booking ever made (bench/run.py).
    longest = SessionDefinition.objects.aggregate(minutes=Max("duration_minutes"), hours=Max("room_hold_hours"))
    reach = timedelta(days=1, minutes=longest["minutes"] or 0, hours=longest["hours"] or 0)
    sessions = list(
        StudySession.objects.filter(
            participant__site=site, status__in=BOOKED, scheduled_start__lt=end, scheduled_start__gte=start - reach
        )
        .filter(Q(room_busy_until__gt=start) | Q(room_busy_until__isnull=True, scheduled_end__gt=start))
        .select_related("participant", "definition", "room")
        .order_by("scheduled_start")
    )
    index = {room.pk: i for i, room in enumerate(rooms)}
    rows = [CalendarRow(room=room, cells=[[] for _ in days]) for room in rooms]
    no_room = CalendarRow(room=None, cells=[[] for _ in days])
    by_day: dict[date, list] = {day: [] for day in days}
    for session in sessions:
        row = rows[index[session.room_id]] if session.room_id in index else no_room
        begins = session.scheduled_start.astimezone(zone)
        ends = session.scheduled_end.astimezone(zone)
        busy = (session.room_busy_until or session.scheduled_end).astimezone(zone)
        url = link("sessions:session_detail", session.pk)
        title = f"{session.participant.study_code} · {session.definition.code}"
        phase = session.definition.phase
        if begins.date() in by_day:
            item = CalendarItem(
                session=session,
                kind="session",
                time_text=f"{begins:%H:%M}–{ends:%H:%M}",
                title=title,
                phase=phase,
                url=url,
                detail=f"room held until {busy:%a %H:%M}" if busy > ends else "",
            )
            row.cells[days.index(begins.date())].append(item)
            by_day[begins.date()].append((session.room, item))
        day = begins.date() + timedelta(days=1)
        while day <= busy.date() and day < monday + timedelta(days=7):
            if day in by_day and busy > datetime.combine(day, time.min, tzinfo=zone):
                hold = CalendarItem(
                    session=session,
                    kind="hold",
                    time_text=f"until {busy:%H:%M}" if busy.date() == day else "all day",
                    title=title,
                    phase=phase,
                    url=url,
                    detail="room hold" if busy.date() == day else "room held",
                )
                row.cells[days.index(day)].insert(0, hold)
                by_day[day].insert(0, (session.room, hold))
            day += timedelta(days=1)
    if any(no_room.cells):
        rows.append(no_room)
    return SiteWeek(
        site=site,
        monday=monday,
        days=days,
        today=site_today(site),
        rows=rows,
        by_day=list(by_day.items()),
        count=len(sessions),
    )


# --- reminders -------------------------------------------------------------------------


def sessions_tomorrow(site: Site) -> QuerySet[Assignment]:
    tomorrow = site_today(site) + timedelta(days=1)
    return (
        Assignment.objects.filter(
            is_active=True,
            session__status=StudySession.Status.SCHEDULED,
            session__participant__site=site,
            session__scheduled_start__gte=day_start(site, tomorrow),
            session__scheduled_start__lt=day_start(site, tomorrow + timedelta(days=1)),
        )
        .select_related("therapist", "session__participant", "session__definition", "session__room")
        .order_by("therapist_id", "session__scheduled_start")
    )


def sessions_to_schedule(site: Site) -> QuerySet[StudySession]:
    return (
        _sessions_for_sites([site.pk])
        .filter(to_schedule_q([site]))
        .order_by("window_closes", "participant__study_code")
    )
