"""Hostile input to every service: random text, dates, times, ids and objects from the wrong place.

A service either does the work or refuses with ValidationError / PermissionDenied (which the pages
show as a message or a 403), never anything else (a 500), and a refusal writes nothing.
"""

from datetime import date, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from hypothesis import given
from hypothesis import strategies as st

from protocols import services as protocol_services
from protocols.files import ProtocolFileError
from protocols.models import ProtocolVersion
from sessions import services
from sessions.models import Membership, Room, StudySession
from tests.conftest import make_user
from tests.protocols.factories import make_version
from tests.security.hostile import (
    HOSTILE,
    awkward_days,
    awkward_times,
    changed_tables,
    hostile_int,
    hostile_text,
    local_moment,
    near_days,
    shifted,
    snapshot,
)

REFUSALS = (ValidationError, PermissionDenied)


def attempt(call):
    """Run a service call; a refusal must leave the database exactly as it was."""
    before = snapshot()
    try:
        return call()
    except REFUSALS:
        assert not changed_tables(before), f"refused but wrote: {changed_tables(before)}"
        return None


def _fresh(session):
    return StudySession.objects.select_related("participant__site", "definition").get(pk=session.pk)


# ------------------------------------------------------------------------------------------ enrolment


@pytest.mark.django_db
@given(code=hostile_text, day=awkward_days, which=st.sampled_from(["active", "retired", "draft"]))
@HOSTILE
def test_enrolment_refuses_bad_codes_dates_and_versions(world, code, day, which):
    versions = {
        "active": world.version,
        "retired": ProtocolVersion.objects.filter(status="retired").first()
        or make_version(code="OLD", status="retired"),
        "draft": ProtocolVersion.objects.filter(status="draft").first() or make_version(code="NEW", status="draft"),
    }
    result = attempt(
        lambda: services.enroll_participant(
            site=world.site,
            protocol_version=versions[which],
            study_code=code,
            enrollment_date=day,
            by=world.users["coordinator"],
        )
    )
    if result is not None:
        assert which == "active"
        assert abs((day - date.today()).days) < 10 * 366


@pytest.mark.django_db
def test_enrolment_refuses_a_duplicate_study_code(world):
    assert (
        attempt(
            lambda: services.enroll_participant(
                site=world.site,
                protocol_version=world.version,
                study_code="s01-0001 ",  # the same code, typed carelessly
                enrollment_date=date.today(),
                by=world.users["coordinator"],
            )
        )
        is None
    )


# ------------------------------------------------------------------------------------------ booking


@pytest.fixture
def strangers(world):
    """Another site's therapist and room, a monitor, and a room of this site."""
    other_staff = make_user("olga", site=world.other_site, role="staff")
    return {
        "own_room": world.site.rooms.order_by("name").first(),
        "other_room": Room.objects.filter(site=world.other_site).first(),
        "other_staff": other_staff,
        "monitor": world.users["monitor"],
        "outsider": world.users["outsider"],
    }


@pytest.mark.django_db
@given(
    offset=near_days,
    day=st.one_of(st.none(), awkward_days),
    at=awkward_times,
    zone=st.sampled_from(["America/Denver", "Europe/London", "UTC", "Pacific/Kiritimati"]),
    room_key=st.sampled_from(["own_room", "other_room"]),
    therapist_keys=st.lists(st.sampled_from(["staff", "co", "other_staff", "monitor", "outsider"]), max_size=3),
    revision=st.one_of(st.none(), hostile_int),
    naive=st.booleans(),
    reason=hostile_text,
)
@HOSTILE
def test_booking_refuses_wrong_people_rooms_times_and_revisions(
    world, strangers, offset, day, at, zone, room_key, therapist_keys, revision, naive, reason
):
    session = _fresh(world.dosing)
    target_day = day or shifted(session.target_date, offset)
    start = local_moment(target_day, at, zone)
    if naive:
        start = start.replace(tzinfo=None)
    people = {
        "staff": world.users["staff"],
        "co": Membership.objects.filter(site=world.site, role="staff").exclude(user=world.users["staff"]).first().user,
        **{k: strangers[k] for k in ("other_staff", "monitor", "outsider")},
    }
    result = attempt(
        lambda: services.schedule_session(
            session=session,
            start=start,
            room=strangers[room_key],
            therapists=[people[k] for k in therapist_keys],
            by=world.users["coordinator"],
            reason=reason,
            deviation_reason=reason,
            expected_revision=revision,
        )
    )
    if result is not None:
        booked = _fresh(world.dosing)
        assert booked.room.site_id == world.site.pk
        assert all(a.therapist.memberships.filter(site=world.site).exists() for a in booked.assignments.all())
        assert room_key == "own_room"


@pytest.mark.django_db
@given(reason=hostile_text, revision=st.one_of(st.none(), hostile_int))
@HOSTILE
def test_cancelling_refuses_bad_reasons_and_stale_revisions(world, reason, revision):
    session = _fresh(world.booked)
    attempt(
        lambda: services.cancel_session(
            session=session, by=world.users["coordinator"], reason=reason, expected_revision=revision
        )
    )


# ------------------------------------------------------------------------------------------ logging and signing


@pytest.mark.django_db
@given(
    outcome=st.one_of(st.sampled_from(["completed", "missed", ""]), hostile_text),
    start_shift=st.integers(min_value=-(10**6), max_value=10**6),
    length=st.integers(min_value=-600, max_value=3000),
    notes=hostile_text,
    reason=hostile_text,
    who=st.sampled_from(["staff", "monitor", "outsider", "coordinator"]),
    attended=st.lists(st.sampled_from(["staff", "monitor", "outsider"]), max_size=3),
    revision=st.one_of(st.none(), hostile_int),
    signed=st.booleans(),
)
@HOSTILE
def test_logging_refuses_end_before_start_strangers_and_bad_text(
    world, outcome, start_shift, length, notes, reason, who, attended, revision, signed
):
    session = _fresh(world.logged if signed else world.booked)
    base = session.scheduled_start or datetime.now().astimezone()
    actual_start = base + timedelta(minutes=start_shift)
    actual_end = actual_start + timedelta(minutes=length)
    result = attempt(
        lambda: services.log_session(
            session=session,
            outcome=outcome,
            actual_start=actual_start,
            actual_end=actual_end,
            attended_by=[world.users[k] for k in attended],
            notes=notes,
            by=world.users[who],
            reason=reason,
            expected_revision=revision,
        )
    )
    if result is not None:
        assert who in ("staff", "coordinator")
        if result.actual_start and result.actual_end:
            assert result.actual_end > result.actual_start


@pytest.mark.django_db
@given(password=hostile_text, who=st.sampled_from(["staff", "monitor", "outsider"]))
@HOSTILE
def test_signing_refuses_wrong_passwords_and_wrong_people(world, password, who):
    session = _fresh(world.booked)
    assert attempt(lambda: services.sign_session(session=session, by=world.users[who], password=password)) is None


# ------------------------------------------------------------------------------------------ deviations and withdrawal


@pytest.mark.django_db
@given(
    category=st.one_of(st.sampled_from(["other", "missed", "out_of_window"]), hostile_text),
    description=hostile_text,
    foreign_session=st.booleans(),
)
@HOSTILE
def test_deviations_refuse_bad_categories_text_and_foreign_sessions(world, category, description, foreign_session):
    session = world.other_participant.sessions.first() if foreign_session else None
    result = attempt(
        lambda: services.record_deviation(
            participant=world.participant,
            category=category,
            description=description,
            by=world.users["coordinator"],
            session=session,
        )
    )
    if result is not None:
        assert not foreign_session


@pytest.mark.django_db
@given(text=hostile_text, action=st.sampled_from(["close", "void"]))
@HOSTILE
def test_closing_and_voiding_deviations_refuse_bad_text(world, text, action):
    deviation = type(world.deviation).objects.get(pk=world.deviation.pk)
    if action == "close":
        attempt(lambda: services.close_deviation(deviation=deviation, resolution=text, by=world.users["coordinator"]))
    else:
        attempt(lambda: services.void_deviation(deviation=deviation, reason=text, by=world.users["coordinator"]))


@pytest.mark.django_db
@given(day=awkward_days, reason=hostile_text)
@HOSTILE
def test_withdrawal_refuses_implausible_dates_and_bad_reasons(world, day, reason):
    participant = type(world.participant).objects.get(pk=world.participant.pk)
    result = attempt(
        lambda: services.withdraw_participant(
            participant=participant, withdrawn_on=day, reason=reason, by=world.users["coordinator"]
        )
    )
    if result is not None:
        assert day >= participant.enrollment_date


# ------------------------------------------------------------------------------------------ protocols


@pytest.mark.django_db
@given(text=st.one_of(hostile_text, st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
@HOSTILE
def test_protocol_import_refuses_garbage_whole(admin_user, text):
    before = snapshot()
    try:
        protocol_services.import_protocol(text=text, by=admin_user, reason="import")
    except (ProtocolFileError, ValidationError):
        assert not changed_tables(before)
    else:
        pytest.fail("garbage was imported")


@pytest.mark.django_db
@given(reason=hostile_text, action=st.sampled_from(["activate", "retire", "amend"]), which=st.sampled_from(["a", "d"]))
@HOSTILE
def test_protocol_lifecycle_refuses_bad_reasons_and_wrong_states(admin_user, reason, action, which):
    label = f"v{ProtocolVersion.objects.count()}"
    version = make_version(code=f"LIFE-{label}", label=label, status="active" if which == "a" else "draft")
    call = {
        "activate": lambda: protocol_services.activate_version(version=version, by=admin_user, reason=reason),
        "retire": lambda: protocol_services.retire_version(version=version, by=admin_user, reason=reason),
        "amend": lambda: protocol_services.create_amendment(
            version=version, by=admin_user, reason=reason, label=reason
        ),
    }[action]
    attempt(call)


@pytest.mark.django_db
def test_amendment_with_a_label_already_used_is_refused(admin_user):
    version = make_version(code="DUP", label="v1.0", status="active")
    attempt(lambda: protocol_services.create_amendment(version=version, label="v1.0", by=admin_user, reason="again"))
    assert ProtocolVersion.objects.filter(protocol__code="DUP").count() == 1


@pytest.mark.django_db
def test_stale_revision_on_a_signed_record_is_refused(world):
    session = _fresh(world.logged)
    result = attempt(
        lambda: services.log_session(
            session=session,
            outcome="completed",
            actual_start=session.actual_start,
            actual_end=session.actual_end,
            attended_by=[world.users["staff"]],
            notes="Changed after signing",
            by=world.users["staff"],
            reason="Correction",
            expected_revision=session.revision - 1,
        )
    )
    assert result is None
