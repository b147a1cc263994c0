"""Private iCalendar feeds: a user's booked sessions, carrying study code, session name, site and room only.

The feed URL's random token is the only credential; regenerating it revokes the old URL.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from icalendar import Calendar, Event

from sessions.models import CalendarFeed, StudySession

PAST_DAYS = 60
FUTURE_DAYS = 400


def new_token() -> str:
    return secrets.token_urlsafe(32)


@transaction.atomic
def regenerate_feed(*, user) -> CalendarFeed:
    """Issue a new secret URL for the user; the old one stops working at once."""
    feed, created = CalendarFeed.objects.select_for_update().get_or_create(user=user, defaults={"token": new_token()})
    if not created:
        feed.token = new_token()
        feed.created_at = timezone.now()
        feed.save(update_fields=["token", "created_at"])
    return feed


@transaction.atomic
def revoke_feed(*, user) -> None:
    CalendarFeed.objects.filter(user=user).delete()


def feed_for_token(token: str) -> CalendarFeed | None:
    if not token or len(token) > 64:
        return None
    return CalendarFeed.objects.select_related("user").filter(token=token, user__is_active=True).first()


def feed_sessions(user):
    now = timezone.now()
    return (
        StudySession.objects.filter(
            assignments__therapist=user,
            assignments__is_active=True,
            status__in=(StudySession.Status.SCHEDULED, StudySession.Status.COMPLETED),
            scheduled_start__gte=now - timedelta(days=PAST_DAYS),
            scheduled_start__lte=now + timedelta(days=FUTURE_DAYS),
            # Only sites where the user still works.
            participant__site__memberships__user=user,
        )
        .select_related("participant__site", "definition", "room")
        .distinct()
        .order_by("scheduled_start")
    )


def calendar_for(user, *, host: str = "trialtracker") -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//TrialTracker//Session feed//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "TrialTracker sessions")
    stamp = timezone.now()
    for session in feed_sessions(user).iterator(chunk_size=500):
        site = session.participant.site
        room = session.room.name if session.room else ""
        event = Event()
        event.add("uid", f"session-{session.pk}@{host}")
        event.add("dtstamp", stamp)
        event.add("dtstart", session.scheduled_start)
        event.add("dtend", session.scheduled_end)
        event.add("summary", f"{session.participant.study_code} · {session.definition.name}")
        event.add("location", f"{site.code} {site.name} · {room}" if room else f"{site.code} {site.name}")
        if session.status == StudySession.Status.COMPLETED:
            event.add("status", "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical()
