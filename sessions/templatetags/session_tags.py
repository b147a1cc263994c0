"""Small template helpers for the session pages."""

from django import template
from django.utils import timezone

from sessions.models import StudySession

register = template.Library()


@register.filter
def booked_outside_window(session: StudySession) -> bool:
    """True when a booked session's day (site time) lies outside its stored window — for example after an
    earlier session was moved and this one's window moved away from its booking."""
    if session.status != StudySession.Status.SCHEDULED or not session.scheduled_start:
        return False
    if session.window_opens is None or session.window_closes is None:
        return False
    day = session.scheduled_start.astimezone(session.participant.site.zone).date()
    return not session.window_opens <= day <= session.window_closes


@register.filter
def window_closed(session: StudySession) -> bool:
    """True when the session's window ended before today (site time): any new booking is a deviation."""
    if session.window_closes is None:
        return False
    return session.window_closes < timezone.now().astimezone(session.participant.site.zone).date()
