"""No double booking on PostgreSQL: the exclusion constraints refuse overlapping rows written
straight through the ORM (bypassing the service), and concurrent bookings through the service
end with exactly one winner and clear BookingConflict errors for the rest."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from sessions import services
from sessions.models import Assignment, Room, StudySession
from tests.conftest import make_user
from tests.sessions.factories import book, enrolled_participant, session_of, target_start

pytestmark = pytest.mark.postgres


@pytest.fixture
def booked(require_postgres, site, coordinator, therapist):
    """S01-0001 PREP1 booked at its target, 09:00–10:30 in Therapy room 1, with bob."""
    participant = enrolled_participant(site, code="S01-0001", by=coordinator)
    return book(
        session_of(participant, "PREP1"),
        therapists=[therapist],
        by=coordinator,
        room=site.rooms.get(name="Therapy room 1"),
    ).session


def refused_by_database(name):
    return pytest.raises(IntegrityError, match=name)


@pytest.mark.django_db
def test_database_refuses_a_therapist_booked_twice(booked, site, coordinator, therapist):
    other = session_of(enrolled_participant(site, code="S01-0002", by=coordinator), "PREP1")
    with refused_by_database("therapist_never_double_booked"), transaction.atomic():
        Assignment.objects.create(
            session=other,
            therapist=therapist,
            starts_at=booked.scheduled_start + timedelta(minutes=30),
            ends_at=booked.scheduled_end + timedelta(minutes=30),
        )
    # Back to back is fine (half-open ranges), and an inactive assignment never clashes.
    Assignment.objects.create(
        session=other,
        therapist=therapist,
        starts_at=booked.scheduled_end,
        ends_at=booked.scheduled_end + timedelta(hours=1),
    )
    Assignment.objects.create(
        session=other,
        therapist=therapist,
        starts_at=booked.scheduled_start,
        ends_at=booked.scheduled_end,
        is_active=False,
    )


@pytest.mark.django_db
def test_database_refuses_a_room_booked_twice_including_the_hold(booked, site, coordinator):
    other = session_of(enrolled_participant(site, code="S01-0002", by=coordinator), "PREP1")
    room = booked.room
    with refused_by_database("room_never_double_booked"), transaction.atomic():
        StudySession.objects.filter(pk=other.pk).update(
            status="scheduled",
            room=room,
            scheduled_start=booked.scheduled_start + timedelta(minutes=10),
            scheduled_end=booked.scheduled_end,
            room_busy_until=booked.scheduled_end,
        )
    # The hold counts: extend the first booking's hold and a later start still clashes.
    StudySession.objects.filter(pk=booked.pk).update(room_busy_until=booked.scheduled_end + timedelta(hours=14))
    with refused_by_database("room_never_double_booked"), transaction.atomic():
        StudySession.objects.filter(pk=other.pk).update(
            status="scheduled",
            room=room,
            scheduled_start=booked.scheduled_end + timedelta(hours=10),
            scheduled_end=booked.scheduled_end + timedelta(hours=11),
            room_busy_until=booked.scheduled_end + timedelta(hours=11),
        )
    # A cancelled booking holds nothing.
    StudySession.objects.filter(pk=booked.pk).update(status="cancelled")
    StudySession.objects.filter(pk=other.pk).update(
        status="scheduled",
        room=room,
        scheduled_start=booked.scheduled_start,
        scheduled_end=booked.scheduled_end,
        room_busy_until=booked.scheduled_end,
    )


@pytest.mark.django_db
def test_database_refuses_a_participant_in_two_sessions_at_once(booked):
    prep2 = session_of(booked.participant, "PREP2")
    with refused_by_database("participant_sessions_never_overlap"), transaction.atomic():
        StudySession.objects.filter(pk=prep2.pk).update(
            status="scheduled",
            room=None,
            scheduled_start=booked.scheduled_start + timedelta(minutes=45),
            scheduled_end=booked.scheduled_end + timedelta(minutes=45),
        )


ATTEMPTS = 20


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_bookings_of_one_therapist_end_with_one_booking(require_postgres, site, coordinator):
    therapist = make_user("busy", site=site, role="staff")
    sessions = []
    for number in range(ATTEMPTS):
        participant = enrolled_participant(site, code=f"S01-{number + 1:04d}", by=coordinator)
        sessions.append(session_of(participant, "PREP1"))
    rooms = [Room.objects.create(site=site, name=f"Race room {number}") for number in range(ATTEMPTS)]
    first_start = target_start(sessions[0], hour=9)
    barrier = threading.Barrier(ATTEMPTS)
    outcomes: list[object] = [None] * ATTEMPTS

    def attempt(index):
        try:
            barrier.wait(timeout=30)
            outcomes[index] = services.schedule_session(
                session=sessions[index],
                start=first_start + timedelta(minutes=index),  # every pair overlaps
                room=rooms[index],
                therapists=[therapist],
                by=coordinator,
            )
        except Exception as error:  # recorded and asserted below
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(index,)) for index in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    wins = [o for o in outcomes if isinstance(o, services.BookingResult)]
    conflicts = [o for o in outcomes if isinstance(o, services.BookingConflict)]
    assert len(wins) == 1, outcomes
    assert len(conflicts) == ATTEMPTS - 1, outcomes
    for conflict in conflicts:
        assert "Busy Tester" in " ".join(conflict.messages) or "a moment ago" in " ".join(conflict.messages)
    assert Assignment.objects.filter(therapist=therapist, is_active=True).count() == 1
    assert StudySession.objects.filter(status="scheduled").count() == 1
