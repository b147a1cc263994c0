"""A known state for the review pages, with time frozen at 10 March 2026, noon in Denver."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine

from sessions.models import Room
from tests.review.factories import active_version, book, deviate, enroll, session_of

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("America/Denver"))
TODAY = date(2026, 3, 10)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def version(db):
    return active_version()


@pytest.fixture
def known_state(frozen, site, other_site, version, coordinator, therapist, co_therapist, outsider):
    """S01-0001 mid-treatment: PREP1 done in window, PREP2 done late with a deviation, PREP3 overdue,
    DOSE1 booked today; S01-0002 waiting to be scheduled; S01-0003 booked in two days.
    S02-0001 at the other site must never show to S01 users."""
    room1 = Room.objects.get(site=site, name="Therapy room 1")
    suite = Room.objects.get(site=site, name="Overnight suite A")
    a = enroll(site, version, "S01-0001", date(2026, 1, 1), by=coordinator)
    book(session_of(a, "PREP1"), date(2026, 1, 15), time(10), room=room1, therapists=[therapist], status="completed")
    prep2 = book(
        session_of(a, "PREP2"), date(2026, 2, 10), time(10), room=room1, therapists=[therapist], status="completed"
    )
    deviate(a, by=coordinator, session=prep2)
    book(session_of(a, "DOSE1"), TODAY, time(9), room=suite, therapists=[therapist, co_therapist])
    b = enroll(site, version, "S01-0002", date(2026, 2, 20), by=coordinator, status="enrolled")
    c = enroll(site, version, "S01-0003", date(2026, 2, 25), by=coordinator, status="enrolled")
    book(session_of(c, "PREP1"), date(2026, 3, 12), time(10), room=room1, therapists=[co_therapist])
    willow = Room.objects.get(site=other_site, name="Room Willow")
    x = enroll(other_site, version, "S02-0001", date(2026, 1, 1), by=outsider)
    book(session_of(x, "PREP1"), date(2026, 3, 10), time(10), room=willow, therapists=[], status="completed")
    deviate(x, by=outsider, session=session_of(x, "PREP1"), category="other")
    return {"a": a, "b": b, "c": c, "x": x, "room1": room1, "suite": suite}
