"""Invariants the database itself keeps, on SQLite and PostgreSQL alike (written past the services)."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from sessions.models import Participant, StudySession
from tests.sessions.factories import active_version, book, enrolled_participant, session_of

pytestmark = pytest.mark.django_db


def refused(name):
    # SQLite names only some constraints in its messages; PostgreSQL names every one.
    return pytest.raises(IntegrityError, match=name if connection.vendor == "postgresql" else None)


def test_one_session_per_participant_and_definition(site, coordinator):
    participant = enrolled_participant(site, code="S01-0001", by=coordinator)
    prep1 = session_of(participant, "PREP1")
    with refused("one_session_per_definition"), transaction.atomic():
        StudySession.objects.create(participant=participant, definition=prep1.definition)


def test_study_code_unique_in_protocol_and_matching_the_pattern(site, coordinator):
    participant = enrolled_participant(site, code="S01-0001", by=coordinator)
    version = active_version()
    fields = {
        "site": site,
        "protocol": version.protocol,
        "protocol_version": version,
        "enrollment_date": timezone.localdate(),
    }
    with refused("study_code_unique_in_protocol"), transaction.atomic():
        Participant.objects.create(study_code=participant.study_code, **fields)
    with refused("study_code_pattern"), transaction.atomic():
        Participant.objects.create(study_code="j smith", **fields)


def test_scheduled_end_after_start_and_room_hold_after_end(site, coordinator, therapist):
    participant = enrolled_participant(site, code="S01-0001", by=coordinator)
    session = book(session_of(participant, "PREP1"), therapists=[therapist], by=coordinator).session
    rows = StudySession.objects.filter(pk=session.pk)
    with refused("session_scheduled_end_after_start"), transaction.atomic():
        rows.update(scheduled_end=session.scheduled_start)
    with refused("session_room_busy_until_after_end"), transaction.atomic():
        rows.update(room_busy_until=session.scheduled_end - timedelta(minutes=1))
    with refused("session_scheduled_has_times"), transaction.atomic():
        rows.update(scheduled_start=None, scheduled_end=None, room_busy_until=None)


def test_a_signature_is_complete_or_absent(site, coordinator, therapist):
    participant = enrolled_participant(site, code="S01-0001", by=coordinator)
    rows = StudySession.objects.filter(pk=session_of(participant, "PREP1").pk)
    with refused("session_signature_complete"), transaction.atomic():
        rows.update(signed_at=timezone.now())
    with refused("session_signature_complete"), transaction.atomic():
        rows.update(signed_at=timezone.now(), signed_by=therapist)
    rows.update(signed_at=timezone.now(), signed_by=therapist, signature_meaning="I confirm this record is accurate")
