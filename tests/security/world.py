"""A small, demo-like world for the security suites: real objects at S01 that every object URL can point at.

Built through the services (so history exists), on top of the shared fixtures of tests/conftest.py:
alice (coordinator), bob and bea (staff), mona (monitor) at S01; charlie (coordinator at S02 only); root.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from sessions import services
from sessions.models import Deviation, Participant, StudySession
from tests.conftest import PASSWORD
from tests.sessions.factories import active_version, book, enrolled_participant, session_of, target_start


@dataclass
class World:
    users: dict  # role name → user: coordinator, staff, monitor, admin, outsider
    site: object
    other_site: object
    version: object
    participant: Participant
    booked: StudySession  # PREP2, scheduled with bob
    logged: StudySession  # PREP1, completed and signed by bob
    unsigned: StudySession  # PREP3, completed, not signed yet
    dosing: StudySession  # DOSE1, unscheduled
    deviation: Deviation
    other_participant: Participant  # at S02, for the outsider's own pages
    extra: dict = field(default_factory=dict)


def build_world(*, site, other_site, coordinator, therapist, co_therapist, monitor, outsider, admin_user) -> World:
    version = active_version()
    start_day = timezone.localdate(timezone=site.zone) - timedelta(days=60)
    participant = enrolled_participant(
        site, version=version, code="S01-0001", enrollment_date=start_day, by=coordinator
    )
    prep1 = session_of(participant, "PREP1")
    prep2 = session_of(participant, "PREP2")
    # PREP1 happened and was signed (a signed record is the hardest case for a tampering form).
    book(prep1, therapists=[therapist], by=coordinator, start=target_start(prep1, hour=9), deviation_reason="test")
    prep1 = session_of(participant, "PREP1")
    services.log_session(
        session=prep1,
        outcome="completed",
        actual_start=prep1.scheduled_start,
        actual_end=prep1.scheduled_end,
        attended_by=[therapist],
        notes="Went as planned.",
        by=therapist,
    )
    services.sign_session(session=session_of(participant, "PREP1"), by=therapist, password=PASSWORD)
    prep1 = session_of(participant, "PREP1")
    book(prep2, therapists=[therapist], by=coordinator, deviation_reason="test")
    prep3 = session_of(participant, "PREP3")
    book(prep3, therapists=[therapist], by=coordinator, deviation_reason="test")
    prep3 = session_of(participant, "PREP3")
    services.log_session(
        session=prep3,
        outcome="completed",
        actual_start=prep3.scheduled_start,
        actual_end=prep3.scheduled_end,
        attended_by=[therapist],
        notes="",
        by=therapist,
    )
    deviation = services.record_deviation(
        participant=participant, category="other", description="Arrived 40 minutes late.", by=coordinator
    )
    other = enrolled_participant(other_site, version=version, code="S02-0001", by=outsider)
    return World(
        users={
            "coordinator": coordinator,
            "staff": therapist,
            "monitor": monitor,
            "admin": admin_user,
            "outsider": outsider,
        },
        site=site,
        other_site=other_site,
        version=version,
        participant=participant,
        booked=session_of(participant, "PREP2"),
        logged=prep1,
        unsigned=session_of(participant, "PREP3"),
        dosing=session_of(participant, "DOSE1"),
        deviation=deviation,
        other_participant=other,
    )
