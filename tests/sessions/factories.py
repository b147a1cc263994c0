"""Participants and bookings for tests, built through the services under test (so history exists).

`active_version()` is the default 3/3/3 plan of SPEC §4 (dosing: two therapists, 14 h room hold),
built straight through the ORM by the protocol test factories.
"""

from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from protocols.models import ProtocolVersion
from sessions import services
from sessions.models import Membership, Participant, StudySession
from tests.protocols.factories import make_version

DEFAULT_PROTOCOL = "TT-333"


def active_version(code: str = DEFAULT_PROTOCOL, label: str = "v1.0") -> ProtocolVersion:
    """The default plan as an active version, created once per test database."""
    existing = ProtocolVersion.objects.filter(protocol__code=code, label=label).first()
    return existing or make_version(code=code, label=label, status="active")


def coordinator_of(site):
    """A coordinator at `site` (the first one, or a new one)."""
    membership = Membership.objects.filter(site=site, role="coordinator").select_related("user").first()
    if membership:
        return membership.user
    user = get_user_model().objects.create_user(username=f"coord-{site.code.lower()}", password="x")
    Membership.objects.create(user=user, site=site, role="coordinator")
    return user


def enrolled_participant(
    site,
    version: ProtocolVersion | None = None,
    code: str | None = None,
    enrollment_date: date | None = None,
    by=None,
) -> Participant:
    """A participant enrolled through the service: every session unscheduled with projected windows."""
    version = version or active_version()
    if code is None:
        code = f"{site.code}-{Participant.objects.filter(site=site).count() + 1:04d}"
    return services.enroll_participant(
        site=site,
        protocol_version=version,
        study_code=code,
        enrollment_date=enrollment_date or timezone.localdate(timezone=site.zone),
        by=by or coordinator_of(site),
    )


def session_of(participant: Participant, code: str) -> StudySession:
    return participant.sessions.select_related("definition", "participant__site").get(definition__code=code)


def local(site, day: date, hour: int = 9, minute: int = 0) -> datetime:
    """An aware datetime at the site's local wall-clock time."""
    return datetime.combine(day, time(hour, minute), tzinfo=site.zone)


def target_start(session: StudySession, hour: int = 9, offset_days: int = 0) -> datetime:
    """The session's target day (plus `offset_days`) at `hour` site-local time."""
    session.refresh_from_db()
    return local(session.participant.site, session.target_date + timedelta(days=offset_days), hour)


def book(session: StudySession, *, therapists, by, room=None, start=None, **kwargs):
    """Book a session at its target (09:00 local) in the site's first room unless told otherwise."""
    site = session.participant.site
    return services.schedule_session(
        session=session,
        start=start or target_start(session),
        room=room or site.rooms.order_by("name").first(),
        therapists=therapists,
        by=by,
        **kwargs,
    )
