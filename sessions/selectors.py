"""Reads that power the daily pages, always scoped to the user's sites through sessions.access.

A participant or session of a site the user has no membership of is a 404 (its existence is
not confirmed); role checks (403) are the views' job via access.require_role.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from sessions.access import site_ids_for
from sessions.models import BOOKED_STATUSES, Assignment, Membership, Participant, Room, Site, StudySession

# Local start times offered as free slots: short sessions through the day, long ones (dosing,
# a full day) in the morning only.
SHORT_SESSION_STARTS = (time(9, 0), time(11, 0), time(13, 30), time(15, 30))
LONG_SESSION_STARTS = (time(8, 30),)
LONG_SESSION_MINUTES = 4 * 60


def sites_for_user(user, *roles: str) -> QuerySet[Site]:
    """Sites where the user holds any of `roles` (any role when none are named), in code order."""
    return Site.objects.filter(id__in=site_ids_for(user, *roles)).order_by("code")


def participants_for_user(user) -> QuerySet[Participant]:
    """Participants of every site the user has a role at, with what list pages show."""
    return Participant.objects.filter(site_id__in=site_ids_for(user)).select_related(
        "site", "protocol", "protocol_version"
    )


def get_participant_for_user(user, pk) -> Participant:
    """One participant in the user's scope, else Http404."""
    return get_object_or_404(participants_for_user(user), pk=pk)


def _active_assignments() -> Prefetch:
    return Prefetch(
        "assignments",
        queryset=Assignment.objects.filter(is_active=True).select_related("therapist").order_by("therapist__last_name"),
        to_attr="active_assignments",
    )


def sessions_for_user(user) -> QuerySet[StudySession]:
    """Study sessions of the user's sites with participant, definition, room and active therapists
    (as `session.active_assignments`) loaded."""
    return (
        StudySession.objects.filter(participant__site_id__in=site_ids_for(user))
        .select_related(
            "participant__site",
            "participant__protocol",
            "definition__anchor",
            "room",
            "signed_by",
            "logged_by",
        )
        .prefetch_related(_active_assignments(), "attended_by")
    )


def get_session_for_user(user, pk) -> StudySession:
    """One study session in the user's scope, else Http404."""
    return get_object_or_404(sessions_for_user(user), pk=pk)


def sessions_of_participant(participant: Participant) -> QuerySet[StudySession]:
    """A participant's sessions in plan order, loaded for the participant page."""
    return (
        participant.sessions.select_related("definition__anchor", "room", "signed_by", "logged_by")
        .prefetch_related(_active_assignments())
        .order_by("definition__order")
    )


def therapists_for_site(site: Site) -> QuerySet:
    """Users with the staff role at the site: the therapists a session there may be booked with."""
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            memberships__site=site,
            memberships__role=Membership.Role.STAFF,
        )
        .distinct()
        .order_by("last_name", "first_name", "username")
    )


def rooms_for_site(site: Site) -> QuerySet[Room]:
    """Rooms of the site that can be booked."""
    return Room.objects.filter(site=site, is_active=True).order_by("name")


@dataclass(frozen=True)
class FreeSlot:
    """A start at which a room and enough therapists are free (site-local start, stored aware)."""

    start: datetime
    end: datetime
    rooms: tuple[Room, ...]
    therapists: tuple  # users
    outside_window: bool = False  # booking it records a protocol deviation (needs a deviation reason)

    @property
    def local_day(self) -> date:
        return self.start.date()


def free_slots(*, session: StudySession, days: int = 14, limit: int = 12, today: date | None = None) -> list[FreeSlot]:
    """Suggested starts inside the session's window (from today on, at most `days` days) where a room
    and the definition's number of therapists are free, room hold included. When the window has already
    closed (an overdue session), the next free starts from today (site-local) instead, each marked
    `outside_window`. Three queries, whatever the size of the site."""
    participant = session.participant
    site = participant.site
    tz = site.zone
    definition = session.definition
    if session.window_opens is None or session.window_closes is None:
        return []
    today = today or timezone.localdate(timezone=tz)
    outside_window = session.window_closes < today
    first = today if outside_window else max(session.window_opens, today)
    last = first + timedelta(days=days - 1)
    if not outside_window:
        last = min(session.window_closes, last)
    if last < first:
        return []
    duration = timedelta(minutes=definition.duration_minutes)
    hold = timedelta(hours=definition.room_hold_hours)
    starts_at = LONG_SESSION_STARTS if definition.duration_minutes >= LONG_SESSION_MINUTES else SHORT_SESSION_STARTS

    range_start = datetime.combine(first, time.min, tzinfo=tz)
    range_end = datetime.combine(last + timedelta(days=1), time.max, tzinfo=tz) + duration + hold
    rooms = list(rooms_for_site(site))
    therapists = list(therapists_for_site(site))
    room_busy = [
        (room_id, start, until)
        for room_id, start, until in StudySession.objects.filter(
            room__in=rooms,
            status__in=BOOKED_STATUSES,
            scheduled_start__lt=range_end,
            room_busy_until__gt=range_start,
        )
        .exclude(pk=session.pk)
        .values_list("room_id", "scheduled_start", "room_busy_until")
    ]
    therapist_busy = list(
        Assignment.objects.filter(
            therapist__in=therapists, is_active=True, starts_at__lt=range_end, ends_at__gt=range_start
        )
        .exclude(session=session)
        .values_list("therapist_id", "starts_at", "ends_at")
    )
    participant_busy = list(
        StudySession.objects.filter(
            participant=participant,
            status__in=BOOKED_STATUSES,
            scheduled_start__lt=range_end,
            scheduled_end__gt=range_start,
        )
        .exclude(pk=session.pk)
        .values_list("scheduled_start", "scheduled_end")
    )
    now = timezone.now()
    slots = []
    day = first
    while day <= last and len(slots) < limit:
        for at in starts_at:
            start = datetime.combine(day, at, tzinfo=tz)
            if start <= now:
                continue
            end, until = start + duration, start + duration + hold
            if any(s < end and start < e for s, e in participant_busy):
                continue
            free_rooms = tuple(
                r for r in rooms if not any(rid == r.pk and s < until and start < u for rid, s, u in room_busy)
            )
            free_people = tuple(
                t for t in therapists if not any(tid == t.pk and s < end and start < e for tid, s, e in therapist_busy)
            )
            if free_rooms and len(free_people) >= definition.therapists_required:
                slots.append(
                    FreeSlot(
                        start=start,
                        end=end,
                        rooms=free_rooms,
                        therapists=free_people,
                        outside_window=outside_window,
                    )
                )
                if len(slots) >= limit:
                    break
        day += timedelta(days=1)
    return slots


def future_bookings_of(*, user_id: int, site_id: int) -> list[StudySession]:
    """Scheduled sessions at a site starting after now that the user is actively booked on, soonest
    first: what is left to reassign when the user stops being staff there. One query."""
    return list(
        StudySession.objects.filter(
            participant__site_id=site_id,
            status=StudySession.Status.SCHEDULED,
            scheduled_start__gt=timezone.now(),
            assignments__therapist_id=user_id,
            assignments__is_active=True,
        )
        .select_related("participant__site", "definition")
        .order_by("scheduled_start", "pk")
    )
