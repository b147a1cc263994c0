"""The daily-work services: enrol, book, cancel, log, sign, correct, withdraw — and every refusal writes nothing."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from protocols.models import ProtocolVersion
from sessions import services
from sessions.models import Assignment, Deviation, Participant, StudySession
from tests.conftest import PASSWORD, make_user
from tests.sessions.factories import active_version, book, enrolled_participant, local, session_of, target_start

pytestmark = pytest.mark.django_db


def snapshot():
    """Everything a refused call must leave untouched: rows and history rows of every clinical model."""
    return (
        Participant.objects.count(),
        Participant.history.count(),
        StudySession.history.count(),
        Assignment.objects.count(),
        Assignment.history.count(),
        Deviation.objects.count(),
        Deviation.history.count(),
        list(StudySession.objects.order_by("pk").values_list("pk", "status", "revision", "scheduled_start")),
    )


@pytest.fixture
def participant(site, coordinator):
    return enrolled_participant(site, code="S01-0001", by=coordinator)


@pytest.fixture
def past_participant(site, coordinator):
    """Enrolled 30 days ago: PREP1's window lies in the past."""
    return enrolled_participant(
        site, code="S01-0009", by=coordinator, enrollment_date=timezone.localdate() - timedelta(days=30)
    )


@pytest.fixture
def third_therapist(site):
    return make_user("dan", site=site, role="staff")


def refused(error_type=ValidationError):
    return pytest.raises(error_type)


# ---------------------------------------------------------------------------- enrolment


def test_enrol_creates_every_session_unscheduled_with_projected_windows(site, coordinator):
    participant = enrolled_participant(site, code="S01-0001", by=coordinator)
    sessions = list(participant.sessions.select_related("definition").order_by("definition__order"))
    assert [s.definition.code for s in sessions] == [
        "PREP1", "PREP2", "PREP3", "DOSE1", "INT1", "DOSE2", "INT2", "DOSE3", "INT3",
    ]  # fmt: skip
    assert {s.status for s in sessions} == {"unscheduled"}
    prep1 = sessions[0]
    assert prep1.target_date == participant.enrollment_date + timedelta(days=14)
    assert prep1.window_opens == prep1.target_date - timedelta(days=7)
    assert prep1.window_closes == prep1.target_date + timedelta(days=7)
    assert sessions[-1].target_date == participant.enrollment_date + timedelta(days=127)
    assert participant.status == "enrolled"
    assert participant.enrolled_by == coordinator


def test_enrol_refuses_a_version_that_is_not_active(site, coordinator):
    draft = active_version()
    ProtocolVersion.objects.filter(pk=draft.pk).update(status="retired")
    before = snapshot()
    with refused() as error:
        enrolled_participant(site, version=draft, code="S01-0001", by=coordinator)
    assert "active version" in str(error.value.message_dict["protocol_version"])
    assert snapshot() == before


def test_enrol_refuses_a_duplicate_study_code(site, coordinator, participant):
    before = snapshot()
    with refused() as error:
        enrolled_participant(site, code="S01-0001", by=coordinator)
    assert "already enrolled" in error.value.message_dict["study_code"][0]
    assert snapshot() == before


@pytest.mark.parametrize("code", ["", "S01 0001", "S01--1", "-S01", "J.SMITH", "S01-0001-ABCDEFGHIJKLMNOP", "S01\x000"])
def test_enrol_refuses_a_study_code_that_breaks_the_pattern(site, coordinator, code):
    before = snapshot()
    with refused() as error:
        enrolled_participant(site, code=code, by=coordinator)
    assert "study_code" in error.value.message_dict
    assert snapshot() == before


def test_enrol_uppercases_a_lowercase_code(site, coordinator):
    assert enrolled_participant(site, code="s01-0042", by=coordinator).study_code == "S01-0042"


# ---------------------------------------------------------------------------- booking


def test_booking_in_window_books_room_and_therapists(participant, coordinator, therapist):
    prep1 = session_of(participant, "PREP1")
    start = target_start(prep1, hour=10)
    result = book(prep1, therapists=[therapist], by=coordinator, start=start)
    session = result.session
    assert session.status == "scheduled"
    assert session.scheduled_start == start
    assert session.scheduled_end == start + timedelta(minutes=90)
    assert session.room_busy_until == session.scheduled_end
    assert session.revision == 1
    assert [a.therapist for a in session.assignments.filter(is_active=True)] == [therapist]
    assert result.deviation is None
    assert result.moved == []
    participant.refresh_from_db()
    assert participant.status == "in_treatment"


def test_dosing_holds_the_room_overnight(participant, coordinator, therapist, co_therapist):
    dose1 = session_of(participant, "DOSE1")
    session = book(dose1, therapists=[therapist, co_therapist], by=coordinator).session
    assert session.scheduled_end - session.scheduled_start == timedelta(hours=8)
    assert session.room_busy_until - session.scheduled_end == timedelta(hours=14)


def test_out_of_window_without_a_deviation_reason_is_refused(participant, coordinator, therapist):
    prep1 = session_of(participant, "PREP1")
    before = snapshot()
    with refused() as error:
        book(prep1, therapists=[therapist], by=coordinator, start=target_start(prep1, offset_days=9))
    message = error.value.message_dict["deviation_reason"][0]
    assert "late" in message and "window" in message
    assert snapshot() == before


def test_out_of_window_with_a_reason_books_and_records_a_deviation(participant, coordinator, therapist):
    prep1 = session_of(participant, "PREP1")
    result = book(
        prep1,
        therapists=[therapist],
        by=coordinator,
        start=target_start(prep1, offset_days=9),
        deviation_reason="Participant travelling",
    )
    assert result.session.status == "scheduled"
    deviation = result.deviation
    assert deviation.category == "out_of_window" and deviation.status == "open"
    assert deviation.session == result.session and deviation.reported_by == coordinator
    assert "Participant travelling" in deviation.description and "+9 days" in deviation.description


def test_a_start_before_enrollment_is_refused(participant, coordinator, therapist):
    prep1 = session_of(participant, "PREP1")
    before = snapshot()
    with refused() as error:
        book(
            prep1,
            therapists=[therapist],
            by=coordinator,
            start=local(participant.site, participant.enrollment_date - timedelta(days=1)),
            deviation_reason="anything",
        )
    assert "before enrollment" in error.value.message_dict["start"][0]
    assert snapshot() == before


def test_a_start_before_the_anchor_session_is_refused(participant, coordinator, therapist):
    prep1 = book(session_of(participant, "PREP1"), therapists=[therapist], by=coordinator).session
    prep2 = session_of(participant, "PREP2")
    before = snapshot()
    with refused() as error:
        book(
            prep2,
            therapists=[therapist],
            by=coordinator,
            start=prep1.scheduled_start - timedelta(days=1),
            deviation_reason="anything",
        )
    assert "before its anchor PREP1" in error.value.message_dict["start"][0]
    assert snapshot() == before


def test_out_of_sequence_needs_a_deviation_reason(participant, coordinator, therapist, co_therapist):
    pair = [therapist, co_therapist]
    dose1 = book(session_of(participant, "DOSE1"), therapists=pair, by=coordinator).session
    day = dose1.scheduled_start
    book(
        session_of(participant, "INT1"),
        therapists=[therapist],
        by=coordinator,
        start=day + timedelta(days=25),
        deviation_reason="Therapist on leave",
    )
    dose2 = session_of(participant, "DOSE2")
    before = snapshot()
    with refused() as error:
        book(dose2, therapists=pair, by=coordinator, start=day + timedelta(days=22))
    assert "out of sequence with INT1" in error.value.message_dict["deviation_reason"][0]
    assert snapshot() == before
    result = book(dose2, therapists=pair, by=coordinator, start=day + timedelta(days=22), deviation_reason="Agreed")
    assert result.deviation.category == "out_of_sequence"


def test_a_therapist_clash_is_refused_naming_who_and_when(site, participant, coordinator, therapist):
    other = enrolled_participant(site, code="S01-0002", by=coordinator)
    start = target_start(session_of(participant, "PREP1"))
    book(session_of(participant, "PREP1"), therapists=[therapist], by=coordinator, start=start)
    rooms = list(site.rooms.order_by("name"))
    before = snapshot()
    with refused(services.BookingConflict) as error:
        book(
            session_of(other, "PREP1"),
            therapists=[therapist],
            by=coordinator,
            start=start + timedelta(minutes=30),
            room=rooms[1],
        )
    message = " ".join(error.value.messages)
    assert "Bob Tester is already booked" in message
    assert "09:00–10:30" in message and "S01-0001 PREP1" in message
    assert snapshot() == before


def test_the_room_hold_after_dosing_blocks_the_room_overnight(
    site, participant, coordinator, therapist, co_therapist, third_therapist
):
    suite = site.rooms.get(name="Overnight suite A")
    dose1 = book(
        session_of(participant, "DOSE1"), therapists=[therapist, co_therapist], by=coordinator, room=suite
    ).session
    # A participant enrolled 42 days later has PREP1's target on the morning after DOSE1.
    later = enrolled_participant(
        site, code="S01-0002", by=coordinator, enrollment_date=participant.enrollment_date + timedelta(days=42)
    )
    next_morning = local(site, dose1.target_date + timedelta(days=1), hour=6)
    before = snapshot()
    with refused(services.BookingConflict) as error:
        book(session_of(later, "PREP1"), therapists=[third_therapist], by=coordinator, room=suite, start=next_morning)
    message = " ".join(error.value.messages)
    assert "Overnight suite A is taken" in message and "including its room hold" in message
    assert "07:00" in message  # 09:00 + 8 h + 14 h hold, site-local
    assert snapshot() == before
    # Once the hold is over, the room is free.
    book(
        session_of(later, "PREP1"),
        therapists=[third_therapist],
        by=coordinator,
        room=suite,
        start=next_morning + timedelta(hours=1),
    )


def test_a_participant_cannot_have_two_sessions_at_once(participant, coordinator, therapist, third_therapist, site):
    prep1 = book(session_of(participant, "PREP1"), therapists=[therapist], by=coordinator).session
    prep2 = session_of(participant, "PREP2")
    with refused(services.BookingConflict) as error:
        book(
            prep2,
            therapists=[third_therapist],
            by=coordinator,
            room=site.rooms.get(name="Overnight suite A"),
            start=prep1.scheduled_start + timedelta(minutes=30),
            deviation_reason="x",
        )
    assert "already has PREP1 booked" in " ".join(error.value.messages)


def test_dosing_needs_the_definition_number_of_therapists(participant, coordinator, therapist):
    before = snapshot()
    with refused() as error:
        book(session_of(participant, "DOSE1"), therapists=[therapist], by=coordinator)
    assert "needs 2 therapists; 1 chosen" in error.value.message_dict["therapists"][0]
    assert snapshot() == before


def test_a_therapist_or_room_of_another_site_is_refused(participant, coordinator, other_site):
    stranger = make_user("eve", site=other_site, role="staff")
    prep1 = session_of(participant, "PREP1")
    before = snapshot()
    with refused() as error:
        book(prep1, therapists=[stranger], by=coordinator)
    assert "not staff at S01" in error.value.message_dict["therapists"][0]
    with refused() as error:
        book(prep1, therapists=[make_user("finn")], by=coordinator, room=other_site.rooms.first())
    assert "not a room of S01" in error.value.message_dict["room"][0]
    assert snapshot() == before


def test_a_coordinator_is_not_a_therapist(participant, coordinator):
    with refused() as error:
        book(session_of(participant, "PREP1"), therapists=[coordinator], by=coordinator)
    assert "therapists" in error.value.message_dict


def test_rescheduling_needs_a_reason(participant, coordinator, therapist):
    prep1 = book(session_of(participant, "PREP1"), therapists=[therapist], by=coordinator).session
    before = snapshot()
    with refused() as error:
        book(prep1, therapists=[therapist], by=coordinator, start=prep1.scheduled_start + timedelta(days=2))
    assert "reason" in error.value.message_dict
    assert snapshot() == before


def test_rescheduling_moves_later_windows(participant, coordinator, therapist):
    prep1 = book(session_of(participant, "PREP1"), therapists=[therapist], by=coordinator).session
    prep2_before = session_of(participant, "PREP2")
    result = book(
        prep1,
        therapists=[therapist],
        by=coordinator,
        start=prep1.scheduled_start + timedelta(days=3),
        reason="Participant asked for a later day",
    )
    moved = {session.definition.code: (old, new) for session, old, new in result.moved}
    assert list(moved) == ["PREP2", "PREP3", "DOSE1", "INT1", "DOSE2", "INT2", "DOSE3", "INT3"]
    old, new = moved["PREP2"]
    assert old.target == prep2_before.target_date
    assert new.target == old.target + timedelta(days=3)
    prep2 = session_of(participant, "PREP2")
    assert (prep2.target_date, prep2.window_opens, prep2.window_closes) == (new.target, new.earliest, new.latest)
    last = prep1.history.latest()
    assert last.history_change_reason == "Participant asked for a later day"


def test_rescheduling_keeps_or_replaces_therapists(participant, coordinator, therapist, third_therapist):
    prep1 = book(session_of(participant, "PREP1"), therapists=[therapist], by=coordinator).session
    book(prep1, therapists=[third_therapist], by=coordinator, start=prep1.scheduled_start, reason="Swap")
    active = Assignment.objects.filter(session=prep1, is_active=True)
    assert [a.therapist for a in active] == [third_therapist]
    assert Assignment.objects.filter(session=prep1, is_active=False, therapist=therapist).exists()


def test_stale_revision_is_refused_with_the_current_values(participant, coordinator, therapist):
    prep1 = session_of(participant, "PREP1")
    seen = prep1.revision
    book(prep1, therapists=[therapist], by=coordinator, start=target_start(prep1, hour=10), expected_revision=seen)
    before = snapshot()
    with refused(services.StaleEdit) as error:
        book(
            prep1,
            therapists=[therapist],
            by=coordinator,
            start=target_start(prep1, hour=14),
            reason="Later",
            expected_revision=seen,
        )
    message = error.value.messages[0]
    assert "Someone else changed S01-0001 PREP1" in message
    assert "10:00–11:30" in message and "Bob Tester" in message
    assert snapshot() == before


# ---------------------------------------------------------------------------- cancel


def test_cancel_needs_a_reason_and_frees_the_therapist_and_room(site, participant, coordinator, therapist):
    prep1 = book(session_of(participant, "PREP1"), therapists=[therapist], by=coordinator).session
    with refused():
        services.cancel_session(session=prep1, by=coordinator, reason="  ")
    cancelled = services.cancel_session(session=prep1, by=coordinator, reason="Participant unwell")
    assert cancelled.status == "cancelled" and cancelled.cancel_reason == "Participant unwell"
    assert not Assignment.objects.filter(session=prep1, is_active=True).exists()
    other = enrolled_participant(site, code="S01-0002", by=coordinator)
    book(session_of(other, "PREP1"), therapists=[therapist], by=coordinator, start=prep1.scheduled_start)
    assert StudySession.objects.filter(pk=prep1.pk).exists()  # cancelled, never deleted


def test_a_cancelled_session_can_be_booked_again_with_a_reason(participant, coordinator, therapist):
    prep1 = book(session_of(participant, "PREP1"), therapists=[therapist], by=coordinator).session
    services.cancel_session(session=prep1, by=coordinator, reason="Clinic closed")
    again = book(prep1, therapists=[therapist], by=coordinator, reason="Clinic open again").session
    assert again.status == "scheduled" and again.cancel_reason == ""


# ---------------------------------------------------------------------------- log and sign


@pytest.fixture
def held_session(past_participant, coordinator, therapist):
    """PREP1 booked (back-entered) at its target, in the past."""
    return book(session_of(past_participant, "PREP1"), therapists=[therapist], by=coordinator).session


def log(session, *, by, outcome="completed", **kwargs):
    start = session.scheduled_start
    values = {
        "actual_start": start + timedelta(minutes=5),
        "actual_end": start + timedelta(minutes=95),
        "attended_by": [by],
        "notes": "Went as planned.",
    }
    values.update(kwargs)
    return services.log_session(session=session, outcome=outcome, by=by, **values)


def test_log_records_what_happened(held_session, therapist):
    logged = log(held_session, by=therapist)
    assert logged.status == "completed" and logged.outcome == "completed"
    assert logged.actual_start == held_session.scheduled_start + timedelta(minutes=5)
    assert list(logged.attended_by.all()) == [therapist]
    assert logged.logged_by == therapist and not logged.is_signed


def test_log_refuses_end_before_start_and_future_times(held_session, therapist):
    before = snapshot()
    with refused() as error:
        log(held_session, by=therapist, actual_end=held_session.scheduled_start)
    assert "actual_end" in error.value.message_dict
    future = timezone.now() + timedelta(days=1)
    with refused():
        log(held_session, by=therapist, actual_start=future, actual_end=future + timedelta(hours=1))
    assert snapshot() == before


def test_notes_never_hold_a_dose_amount(held_session, therapist):
    before = snapshot()
    with refused() as error:
        log(held_session, by=therapist, notes="Supplemental 60 mg given at 12:30.")
    assert "records no dose amounts" in str(error.value.message_dict["notes"])
    assert snapshot() == before


def test_only_assigned_staff_or_a_coordinator_may_log(held_session, third_therapist, coordinator):
    with refused(PermissionDenied):
        log(held_session, by=third_therapist)
    assert log(held_session, by=coordinator, attended_by=[third_therapist]).status == "completed"


def test_log_missed_marks_the_session_missed(held_session, therapist, coordinator):
    missed = log(held_session, by=therapist, outcome="missed", attended_by=[])
    assert missed.status == "missed" and missed.actual_start is None
    with refused() as error:
        book(missed, therapists=[therapist], by=coordinator, start=missed.scheduled_start + timedelta(days=1))
    assert "reason" in error.value.message_dict
    rebooked = book(
        missed,
        therapists=[therapist],
        by=coordinator,
        start=missed.scheduled_start + timedelta(days=1),
        reason="Missed; rebooked inside the window",
    ).session
    assert rebooked.status == "scheduled" and rebooked.outcome == ""


def test_sign_with_a_wrong_password_is_refused(held_session, therapist):
    logged = log(held_session, by=therapist)
    before = snapshot()
    with refused() as error:
        services.sign_session(session=logged, by=therapist, password="not-my-password")
    assert "password" in error.value.message_dict
    assert snapshot() == before


def test_sign_records_name_time_and_meaning(held_session, therapist):
    logged = log(held_session, by=therapist)
    signed = services.sign_session(session=logged, by=therapist, password=PASSWORD)
    assert signed.signed_by == therapist and signed.signed_at is not None
    assert signed.signature_meaning == "I confirm this record is accurate"
    with refused():
        services.sign_session(session=signed, by=therapist, password=PASSWORD)


def test_sign_refuses_an_unlogged_session(held_session, therapist):
    with refused():
        services.sign_session(session=held_session, by=therapist, password=PASSWORD)


def test_a_correction_without_a_reason_is_refused(held_session, therapist):
    signed = services.sign_session(session=log(held_session, by=therapist), by=therapist, password=PASSWORD)
    before = snapshot()
    with refused() as error:
        log(signed, by=therapist, notes="Changed my mind")
    assert "reason" in error.value.message_dict
    assert snapshot() == before
    assert StudySession.objects.get(pk=signed.pk).is_signed


def test_a_correction_with_a_reason_removes_the_signature(held_session, therapist):
    signed = services.sign_session(session=log(held_session, by=therapist), by=therapist, password=PASSWORD)
    corrected = log(signed, by=therapist, outcome="stopped_early", reason="Ended early; logged wrongly")
    assert corrected.outcome == "stopped_early" and not corrected.is_signed
    assert corrected.signed_by is None and corrected.signature_meaning == ""
    row = corrected.history.latest()
    assert "Ended early; logged wrongly" in row.history_change_reason and row.history_user == therapist
    assert services.sign_session(session=corrected, by=therapist, password=PASSWORD).is_signed


def test_logging_the_actual_date_reprojects_later_windows(held_session, therapist):
    participant = held_session.participant
    prep2_before = session_of(participant, "PREP2").target_date
    log(
        held_session,
        by=therapist,
        actual_start=held_session.scheduled_start - timedelta(days=2),
        actual_end=held_session.scheduled_start - timedelta(days=2) + timedelta(hours=1),
    )
    assert session_of(participant, "PREP2").target_date == prep2_before - timedelta(days=2)


# ---------------------------------------------------------------------------- withdraw


def test_withdraw_cancels_later_sessions_and_keeps_everything(held_session, therapist, coordinator):
    participant = held_session.participant
    log(held_session, by=therapist)
    prep2 = book(session_of(participant, "PREP2"), therapists=[therapist], by=coordinator).session
    # PREP2 was booked for two days ago: withdrawn that day, its booking is cancelled too.
    today = prep2.scheduled_start.astimezone(participant.site.zone).date()
    with refused():
        services.withdraw_participant(participant=participant, withdrawn_on=today, reason="", by=coordinator)
    withdrawn = services.withdraw_participant(
        participant=participant, withdrawn_on=today, reason="Participant's decision", by=coordinator
    )
    assert withdrawn.status == "withdrawn" and withdrawn.withdrawn_on == today
    statuses = dict(participant.sessions.values_list("definition__code", "status"))
    assert statuses["PREP1"] == "completed"
    assert {code: s for code, s in statuses.items() if code != "PREP1"} == dict.fromkeys(
        ["PREP2", "PREP3", "DOSE1", "INT1", "DOSE2", "INT2", "DOSE3", "INT3"], "cancelled"
    )
    assert participant.sessions.count() == 9
    assert not Assignment.objects.filter(session=prep2, is_active=True).exists()
    with refused():
        book(session_of(participant, "PREP3"), therapists=[therapist], by=coordinator)


def test_withdrawal_date_must_be_sensible(participant, coordinator):
    before = snapshot()
    for day in (participant.enrollment_date - timedelta(days=1), timezone.localdate() + timedelta(days=5)):
        with refused():
            services.withdraw_participant(participant=participant, withdrawn_on=day, reason="x", by=coordinator)
    assert snapshot() == before


# ---------------------------------------------------------------------------- deviations


def test_deviation_record_close_and_void(participant, coordinator):
    prep1 = session_of(participant, "PREP1")
    deviation = services.record_deviation(
        participant=participant, category="other", description="Room flooded", by=coordinator, session=prep1
    )
    assert deviation.status == "open" and deviation.reported_by == coordinator
    closed = services.close_deviation(deviation=deviation, resolution="Moved rooms", by=coordinator)
    assert closed.status == "closed" and closed.closed_by == coordinator and closed.resolution == "Moved rooms"
    with refused():
        services.close_deviation(deviation=closed, resolution="again", by=coordinator)
    voided = services.void_deviation(deviation=closed, reason="Reported in error", by=coordinator)
    assert voided.status == "voided" and Deviation.objects.filter(pk=deviation.pk).exists()


def test_deviation_refuses_bad_input(site, participant, coordinator):
    other = enrolled_participant(site, code="S01-0002", by=coordinator)
    before = snapshot()
    with refused():
        services.record_deviation(participant=participant, category="allocation", description="x", by=coordinator)
    with refused():
        services.record_deviation(participant=participant, category="other", description=" ", by=coordinator)
    with refused():
        services.record_deviation(
            participant=participant,
            category="other",
            description="x",
            by=coordinator,
            session=session_of(other, "PREP1"),
        )
    assert snapshot() == before


# ---------------------------------------------------------------------------- participant status and re-projection


def test_participant_moves_from_enrolled_to_in_treatment_to_completed(site, coordinator, therapist, co_therapist):
    participant = enrolled_participant(
        site, code="S01-0077", by=coordinator, enrollment_date=timezone.localdate() - timedelta(days=150)
    )
    assert participant.status == "enrolled"
    for session in participant.sessions.select_related("definition").order_by("definition__order"):
        team = [therapist, co_therapist] if session.definition.is_dosing else [therapist]
        room = site.rooms.get(name="Overnight suite A" if session.definition.is_dosing else "Therapy room 1")
        booked = book(session, therapists=team, by=coordinator, room=room).session
        participant.refresh_from_db()
        assert participant.status == "in_treatment"
        log(booked, by=therapist, actual_end=booked.scheduled_end)
    participant.refresh_from_db()
    assert participant.status == "completed"
    assert participant.history.latest().history_change_reason == "INT3 logged"


def test_reprojection_is_idempotent_and_writes_nothing_when_nothing_moved(participant, coordinator, therapist):
    book(session_of(participant, "PREP1"), therapists=[therapist], by=coordinator, start=None)
    before = snapshot()
    assert services.reproject_participant(participant) == []
    assert snapshot() == before
