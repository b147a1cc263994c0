"""Writes to participants and their study sessions: enrol, book, cancel, log, sign, deviations, withdraw.

Every service is keyword-only, runs in one transaction, refuses bad input with a
`ValidationError` whose message a coordinator can act on (and then writes nothing), and
records who did it and why in the audit trail (simple-history: `_history_user` and
`_change_reason` on every saved row).

Window maths is not done here: protocols/schedule.py is the engine; this module adapts rows
to it and stores what it projects (target date and window) on each StudySession.

No double booking: the clash checks below give the friendly message; on PostgreSQL the
exclusion constraints are the last word (a concurrent request that slipped past the check
fails on insert and is turned into the same BookingConflict); on SQLite every transaction
takes the write lock first (transaction_mode IMMEDIATE), so check and write cannot interleave.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from protocols.models import ProtocolVersion, SessionDefinition
from protocols.schedule import KnownSession, PlannedSession, Projection, Window, check_start, local_date, project
from sessions.models import (
    BOOKED_STATUSES,
    STUDY_CODE_PATTERN,
    Assignment,
    Deviation,
    Membership,
    Participant,
    Room,
    StudySession,
)
from trialtracker.validation import check_plausible_date, clean_text

SIGNATURE_MEANING = "I confirm this record is accurate"
PAST_YEARS_ALLOWED = 5
FUTURE_YEARS_ALLOWED = 3
MAX_TEXT = 4000

SessionStatus = StudySession.Status
Outcome = StudySession.Outcome
ParticipantStatus = Participant.Status
OPEN_SESSION_STATUSES = (SessionStatus.UNSCHEDULED, SessionStatus.SCHEDULED)


class BookingConflict(ValidationError):
    """A therapist, room or the participant is already busy at the requested time."""


class StaleEdit(ValidationError):
    """Someone else changed the record since the form was opened; the message shows the current values."""


@dataclass(frozen=True)
class BookingResult:
    session: StudySession
    deviation: Deviation | None = None
    # Later sessions whose window moved because of this booking: (session, old window, new window).
    moved: list[tuple[StudySession, Window | None, Window]] = field(default_factory=list)


# ---------------------------------------------------------------------------- helpers


def _audit(instance, *, by: AbstractBaseUser | None, reason: str) -> None:
    """Label the next history row of `instance` with who and why.

    simple-history takes the user from `_history_user` when set (outside a request there is
    no other source), else from the request its middleware saw.
    """
    instance._change_reason = reason
    if by is not None:
        instance._history_user = by


def _text(value: str | None, *, field_name: str, required: bool, label: str, multiline: bool = True) -> str:
    """Plain text (trialtracker.validation.clean_text) as a field error; required when asked."""
    try:
        value = clean_text(value, max_length=MAX_TEXT, multiline=multiline)
    except ValidationError as error:
        raise ValidationError({field_name: error.messages}) from error
    if required and not value:
        raise ValidationError({field_name: f"Give {label}: it is kept in the audit trail."})
    return value


def _check_plausible(day: date, *, field_name: str, label: str) -> None:
    try:
        check_plausible_date(day, label=label, past_years=PAST_YEARS_ALLOWED, future_years=FUTURE_YEARS_ALLOWED)
    except ValidationError as error:
        raise ValidationError({field_name: error.messages}) from error


def _aware(value: datetime | None, *, field_name: str, label: str) -> datetime:
    if value is None:
        raise ValidationError({field_name: f"Give the {label}."})
    if timezone.is_naive(value):
        raise ValidationError({field_name: f"The {label} needs a time zone."})
    return value


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


def _local(moment: datetime, tz) -> str:
    return moment.astimezone(tz).strftime("%a %-d %b %Y %H:%M")


def _span(start: datetime, end: datetime, tz) -> str:
    """'Tue 03 Mar 2026 09:00–17:00 MST', or with both dates when it runs overnight."""
    start_local, end_local = start.astimezone(tz), end.astimezone(tz)
    if start_local.date() == end_local.date():
        return f"{start_local:%a %-d %b %Y %H:%M}–{end_local:%H:%M %Z}"
    return f"{start_local:%a %-d %b %Y %H:%M} – {end_local:%a %-d %b %Y %H:%M %Z}"


def _lock_session(session: StudySession, expected_revision: int | None) -> StudySession:
    """The session row, locked for this transaction, refused if someone changed it meanwhile."""
    stored = (
        StudySession.objects.select_for_update(of=("self",))
        .select_related("participant__site", "definition", "room")
        .get(pk=session.pk)
    )
    if expected_revision is not None and stored.revision != expected_revision:
        raise StaleEdit(_stale_message(stored), code="stale")
    return stored


def _stale_message(stored: StudySession) -> str:
    tz = stored.participant.site.zone
    if stored.status == SessionStatus.SCHEDULED and stored.scheduled_start:
        booking = f"booked for {_span(stored.scheduled_start, stored.scheduled_end, tz)}"
        if stored.room_id:
            booking += f" in {stored.room.name}"
    else:
        booking = stored.get_status_display().lower()
    therapists = ", ".join(
        sorted(_person(a.therapist) for a in stored.assignments.filter(is_active=True).select_related("therapist"))
    )
    parts = [f"It is now {booking}"]
    if therapists:
        parts.append(f"with {therapists}")
    if stored.outcome:
        parts.append(f"logged as {stored.get_outcome_display().lower()}")
    if stored.is_signed:
        parts.append(f"signed by {_person(stored.signed_by)}")
    return (
        f"Someone else changed {stored} while you were editing (revision {stored.revision}). "
        + ", ".join(parts)
        + ". Reload to see the current record and make your change again."
    )


def _lock_participant(participant: Participant) -> Participant:
    # Locking the participant serialises every booking of one participant, so the sequence
    # and overlap checks see each other's writes.
    return (
        Participant.objects.select_for_update(of=("self",))
        .select_related("site", "protocol_version")
        .get(pk=participant.pk)
    )


def _plan(version: ProtocolVersion) -> tuple[list[PlannedSession], dict[str, SessionDefinition]]:
    definitions = list(version.definitions.select_related("anchor").order_by("order"))
    return [d.as_planned() for d in definitions], {d.code: d for d in definitions}


def _stored_window(session: StudySession) -> Window | None:
    if session.target_date is None or session.window_opens is None or session.window_closes is None:
        return None
    return Window(target=session.target_date, earliest=session.window_opens, latest=session.window_closes)


def _known(session: StudySession) -> KnownSession:
    return KnownSession(
        status=session.status,
        scheduled_start=session.scheduled_start,
        scheduled_end=session.scheduled_end,
        actual_start=session.actual_start,
        actual_end=session.actual_end,
        window=_stored_window(session),
    )


def _sessions_of(participant: Participant) -> list[StudySession]:
    return list(participant.sessions.select_related("definition").order_by("definition__order"))


def reproject_participant(
    participant: Participant, *, by: AbstractBaseUser | None = None, reason: str = "Windows re-projected"
) -> list[tuple[StudySession, Window | None, Window]]:
    """Store each session's projected target and window again; return the sessions whose window moved.

    Completed sessions keep the window they were judged against (the engine does not move
    them). Called by every service after a booking, log or cancellation (the cascade).
    """
    plan, _ = _plan(participant.protocol_version)
    sessions = _sessions_of(participant)
    known = {s.definition.code: _known(s) for s in sessions}
    projections = project(plan, participant.enrollment_date, participant.site.zone, known)
    moved = []
    with transaction.atomic():
        for session in sessions:
            new = projections[session.definition.code].window
            old = _stored_window(session)
            if old == new:
                continue
            session.target_date, session.window_opens, session.window_closes = new.target, new.earliest, new.latest
            session.revision += 1
            _audit(session, by=by, reason=reason)
            session.save(update_fields=["target_date", "window_opens", "window_closes", "revision"])
            if old is not None:
                moved.append((session, old, new))
    return moved


def _refresh_participant_status(participant: Participant, *, by: AbstractBaseUser | None, reason: str) -> None:
    """enrolled → in treatment (a session booked or done) → completed (nothing left open)."""
    if not participant.is_active:
        return
    statuses = list(participant.sessions.values_list("status", flat=True))
    if statuses and not any(s in OPEN_SESSION_STATUSES for s in statuses) and SessionStatus.COMPLETED in statuses:
        new = ParticipantStatus.COMPLETED
    elif any(s in BOOKED_STATUSES for s in statuses):
        new = ParticipantStatus.IN_TREATMENT
    else:
        new = participant.status
    if new != participant.status:
        participant.status = new
        _audit(participant, by=by, reason=reason)
        participant.save(update_fields=["status"])


def _site_staff_ids(site_id: int, *roles: str) -> set[int]:
    return set(Membership.objects.filter(site_id=site_id, role__in=roles).values_list("user_id", flat=True))


# ---------------------------------------------------------------------------- enrolment


@transaction.atomic
def enroll_participant(
    *,
    site,
    protocol_version: ProtocolVersion,
    study_code: str,
    enrollment_date: date,
    by: AbstractBaseUser,
) -> Participant:
    """Enrol a participant on an active protocol version and create every session, unscheduled,
    with the windows the engine projects from the enrollment date."""
    study_code = (study_code or "").strip().upper()
    if not study_code:
        raise ValidationError({"study_code": "Give the participant's study code, e.g. S01-0007."})
    if len(study_code) > 20 or not re.match(STUDY_CODE_PATTERN, study_code):
        raise ValidationError(
            {
                "study_code": "Use uppercase letters and digits in groups joined by hyphens, e.g. S01-0007 "
                "(at most 20 characters, never a name or initials)."
            }
        )
    version = ProtocolVersion.objects.select_related("protocol").get(pk=protocol_version.pk)
    if version.status != ProtocolVersion.Status.ACTIVE:
        raise ValidationError(
            {
                "protocol_version": f"{version.protocol.code} {version.label} is "
                f"{version.get_status_display().lower()}: participants can only be enrolled on the active version."
            }
        )
    if enrollment_date is None:
        raise ValidationError({"enrollment_date": "Give the enrollment date."})
    _check_plausible(enrollment_date, field_name="enrollment_date", label="The enrollment date")
    if Participant.objects.filter(protocol=version.protocol, study_code=study_code).exists():
        raise ValidationError(
            {"study_code": f"{study_code} is already enrolled on {version.protocol.code}: study codes are unique."}
        )
    participant = Participant(
        study_code=study_code,
        site=site,
        protocol=version.protocol,
        protocol_version=version,
        enrollment_date=enrollment_date,
        enrolled_by=by,
    )
    _audit(participant, by=by, reason="Enrolled")
    try:
        with transaction.atomic():
            participant.save()
    except IntegrityError as error:  # a concurrent enrolment of the same code won the race
        taken = f"{study_code} is already enrolled on {version.protocol.code}."
        raise ValidationError({"study_code": taken}) from error
    plan, definitions = _plan(version)
    projections = project(plan, enrollment_date, site.zone)
    for code, definition in definitions.items():
        window = projections[code].window
        session = StudySession(
            participant=participant,
            definition=definition,
            target_date=window.target,
            window_opens=window.earliest,
            window_closes=window.latest,
        )
        _audit(session, by=by, reason="Created at enrolment")
        session.save()
    return participant


# ---------------------------------------------------------------------------- booking


def _conflicts(
    *,
    session: StudySession,
    start: datetime,
    end: datetime,
    busy_until: datetime,
    room: Room | None,
    therapist_ids: Sequence[int],
) -> list[str]:
    """Sentences naming every clash of the requested booking, in site-local time."""
    tz = session.participant.site.zone
    site_id = session.participant.site_id
    problems = []

    def label(other: StudySession) -> str:
        # Another site's participant is not ours to name.
        if other.participant.site_id == site_id:
            return f"{other.participant.study_code} {other.definition.code}"
        return "a session at another site"

    clashes = (
        Assignment.objects.filter(therapist_id__in=therapist_ids, is_active=True, starts_at__lt=end, ends_at__gt=start)
        .exclude(session=session)
        .select_related("therapist", "session__participant", "session__definition")
        .order_by("starts_at")
    )
    for clash in clashes:
        problems.append(
            f"{_person(clash.therapist)} is already booked {_span(clash.starts_at, clash.ends_at, tz)}"
            f" ({label(clash.session)})."
        )
    if room is not None:
        taken = (
            StudySession.objects.filter(
                room=room, status__in=BOOKED_STATUSES, scheduled_start__lt=busy_until, room_busy_until__gt=start
            )
            .exclude(pk=session.pk)
            .select_related("participant", "definition")
            .order_by("scheduled_start")
        )
        for other in taken:
            held = " including its room hold" if other.room_busy_until > other.scheduled_end else ""
            problems.append(
                f"{room.name} is taken {_span(other.scheduled_start, other.room_busy_until, tz)}"
                f" ({label(other)}{held})."
            )
    overlapping = (
        StudySession.objects.filter(
            participant_id=session.participant_id,
            status__in=BOOKED_STATUSES,
            scheduled_start__lt=end,
            scheduled_end__gt=start,
        )
        .exclude(pk=session.pk)
        .select_related("definition")
    )
    for other in overlapping:
        problems.append(
            f"{session.participant.study_code} already has {other.definition.code} booked"
            f" {_span(other.scheduled_start, other.scheduled_end, tz)}."
        )
    return problems


@transaction.atomic
def schedule_session(
    *,
    session: StudySession,
    start: datetime,
    room: Room,
    therapists: Iterable[AbstractBaseUser],
    by: AbstractBaseUser,
    reason: str = "",
    deviation_reason: str = "",
    expected_revision: int | None = None,
) -> BookingResult:
    """Book (or re-book) a session: start, room and therapists.

    The end is the start plus the planned duration; the room stays busy for the definition's
    room hold after that. Re-booking a session that was booked before needs `reason`. A start
    outside the window or out of sequence needs `deviation_reason` and records a Deviation; a
    start before the anchor session is refused. A start in the past is allowed, so that a
    coordinator can back-enter a session that took place without a booking.
    """
    start = _aware(start, field_name="start", label="start")
    participant = _lock_participant(session.participant)
    stored = _lock_session(session, expected_revision)
    definition = stored.definition
    tz = participant.site.zone

    if not participant.is_active:
        raise ValidationError(f"{participant} is {participant.get_status_display().lower()}: nothing can be booked.")
    if stored.status == SessionStatus.COMPLETED:
        raise ValidationError(f"{stored} has already taken place; correct its log instead of re-booking it.")
    rebooking = stored.scheduled_start is not None
    reason = _text(reason, field_name="reason", required=rebooking, label="a reason for moving the booking")
    deviation_reason = _text(deviation_reason, field_name="deviation_reason", required=False, label="")
    _check_plausible(local_date(start, tz), field_name="start", label="The start")

    if room is None:
        raise ValidationError({"room": "Choose a room."})
    if room.site_id != participant.site_id:
        raise ValidationError({"room": f"{room.name} is not a room of {participant.site.code}."})
    if not room.is_active:
        raise ValidationError({"room": f"{room.name} is no longer in use."})

    chosen = list(dict.fromkeys(therapists or ()))  # unique, in the order given
    staff_ids = _site_staff_ids(participant.site_id, Membership.Role.STAFF)
    outsiders = [t for t in chosen if t.pk not in staff_ids or not t.is_active]
    if outsiders:
        names = ", ".join(_person(t) for t in outsiders)
        raise ValidationError({"therapists": f"{names} is not staff at {participant.site.code}."})
    if len(chosen) < definition.therapists_required:
        raise ValidationError(
            {
                "therapists": f"{definition.name} needs {definition.therapists_required} therapist"
                f"{'s' if definition.therapists_required != 1 else ''}; {len(chosen)} chosen."
            }
        )

    end = start + timedelta(minutes=definition.duration_minutes)
    busy_until = end + timedelta(hours=definition.room_hold_hours)

    plan, _ = _plan(participant.protocol_version)
    sessions = _sessions_of(participant)
    known = {s.definition.code: _known(s) for s in sessions}
    check = check_start(plan, participant.enrollment_date, tz, known, definition.code, start, end)
    if check.before_anchor:
        anchor = definition.anchor
        what = f"its anchor {anchor.code}" if anchor else f"enrollment ({participant.enrollment_date:%-d %b %Y})"
        raise ValidationError({"start": f"{definition.code} cannot start before {what}."})

    conflicts = _conflicts(
        session=stored, start=start, end=end, busy_until=busy_until, room=room, therapist_ids=[t.pk for t in chosen]
    )
    if conflicts:
        raise BookingConflict(conflicts, code="conflict")

    deviation_needed = not check.acceptable_without_deviation
    if deviation_needed and not deviation_reason:
        problems = []
        if not check.in_window:
            problems.append(
                f"{_local(start, tz)[:15]} is {check.timing.value.replace('_', ' ')}: the window is "
                f"{check.window.earliest:%-d %b} – {check.window.latest:%-d %b %Y}"
            )
        if check.out_of_sequence:
            problems.append(f"it would come out of sequence with {', '.join(check.sequence_conflicts)}")
        raise ValidationError(
            {"deviation_reason": _sentence("; ".join(problems)) + ". Give a deviation reason to book it anyway."}
        )

    what = "Rebooked" if rebooking else "Booked"
    audit_reason = reason or f"{what} for {_span(start, end, tz)}"
    try:
        with transaction.atomic():
            _audit(stored, by=by, reason=audit_reason)
            _write_booking(
                stored,
                start=start,
                end=end,
                busy_until=busy_until,
                room=room,
                therapists=chosen,
                by=by,
                reason=audit_reason,
            )
            stored.save()
    except IntegrityError as error:
        # A concurrent booking committed between our check and our write: the database
        # (PostgreSQL exclusion constraints) refused it. Name the clash if we can now see it.
        found = _conflicts(
            session=stored, start=start, end=end, busy_until=busy_until, room=room, therapist_ids=[t.pk for t in chosen]
        )
        raise BookingConflict(
            found or ["Someone booked the same therapist or room at this time a moment ago. Choose another time."],
            code="conflict",
        ) from error

    deviation = None
    if deviation_needed:
        category = Deviation.Category.OUT_OF_WINDOW if not check.in_window else Deviation.Category.OUT_OF_SEQUENCE
        detail = (
            f"{definition.code} booked {_local(start, tz)}, window {check.window.earliest:%-d %b} – "
            f"{check.window.latest:%-d %b %Y} ({check.days_from_target:+d} days from target)"
            if not check.in_window
            else f"{definition.code} booked {_local(start, tz)} out of sequence with "
            f"{', '.join(check.sequence_conflicts)}"
        )
        deviation = _new_deviation(
            participant=participant,
            session=stored,
            category=category,
            description=f"{detail}. {deviation_reason}",
            by=by,
        )
    moved = reproject_participant(
        participant, by=by, reason=f"Window re-projected after {definition.code} {what.lower()}"
    )
    _refresh_participant_status(participant, by=by, reason=f"{definition.code} {what.lower()}")
    stored.refresh_from_db()
    return BookingResult(session=stored, deviation=deviation, moved=moved)


def _write_booking(
    session: StudySession,
    *,
    start: datetime,
    end: datetime,
    busy_until: datetime,
    room: Room,
    therapists: list,
    by: AbstractBaseUser,
    reason: str,
) -> None:
    """Move the therapists' assignments to the new times and set the booking on the (unsaved) session."""
    current = {a.therapist_id: a for a in session.assignments.filter(is_active=True)}
    wanted = {t.pk: t for t in therapists}
    for therapist_id, assignment in current.items():
        if therapist_id not in wanted:
            assignment.is_active = False
            _audit(assignment, by=by, reason=f"Therapist replaced: {reason}")
            assignment.save(update_fields=["is_active"])
    for therapist_id, therapist in wanted.items():
        assignment = current.get(therapist_id) or Assignment(session=session, therapist=therapist)
        assignment.starts_at, assignment.ends_at, assignment.is_active = start, end, True
        _audit(assignment, by=by, reason=reason)
        assignment.save()
    if session.status in (SessionStatus.MISSED, SessionStatus.CANCELLED):
        # A new booking replaces the old outcome; the old log stays in the history.
        _clear_log(session)
        session.cancel_reason = ""
    session.status = SessionStatus.SCHEDULED
    session.scheduled_start, session.scheduled_end, session.room_busy_until = start, end, busy_until
    session.room = room
    session.revision += 1


def _clear_log(session: StudySession) -> None:
    session.outcome = ""
    session.actual_start = session.actual_end = None
    session.notes = ""
    session.logged_by = None
    _clear_signature(session)
    if session.attended_by.exists():
        session.attended_by.clear()


def _clear_signature(session: StudySession) -> None:
    session.signed_by = None
    session.signed_at = None
    session.signature_meaning = ""


def _deactivate_assignments(session: StudySession, *, by, reason: str) -> None:
    for assignment in session.assignments.filter(is_active=True):
        assignment.is_active = False
        _audit(assignment, by=by, reason=reason)
        assignment.save(update_fields=["is_active"])


@transaction.atomic
def cancel_session(
    *, session: StudySession, by: AbstractBaseUser, reason: str, expected_revision: int | None = None
) -> StudySession:
    """Cancel a booked or unscheduled session (never deleted): the therapists and room are freed."""
    reason = _text(reason, field_name="reason", required=True, label="a reason for cancelling")
    participant = _lock_participant(session.participant)
    stored = _lock_session(session, expected_revision)
    if stored.status not in OPEN_SESSION_STATUSES:
        raise ValidationError(
            f"{stored} is {stored.get_status_display().lower()}; only booked or unscheduled sessions can be cancelled."
        )
    _cancel(stored, by=by, reason=reason)
    reproject_participant(participant, by=by, reason=f"Window re-projected after {stored.definition.code} cancelled")
    _refresh_participant_status(participant, by=by, reason=f"{stored.definition.code} cancelled")
    stored.refresh_from_db()
    return stored


def _cancel(session: StudySession, *, by, reason: str) -> None:
    _deactivate_assignments(session, by=by, reason=f"Session cancelled: {reason}")
    session.status = SessionStatus.CANCELLED
    session.cancel_reason = reason
    session.revision += 1
    _audit(session, by=by, reason=f"Cancelled: {reason}")
    session.save()


# ---------------------------------------------------------------------------- logging and signing


def may_record(user, session: StudySession) -> bool:
    """Assigned staff, the site's coordinators and administrators may log and sign a session."""
    if user.is_superuser:
        return True
    site_id = session.participant.site_id
    if Membership.objects.filter(user=user, site_id=site_id, role=Membership.Role.COORDINATOR).exists():
        return True
    return session.assignments.filter(therapist=user, is_active=True).exists()


@transaction.atomic
def log_session(
    *,
    session: StudySession,
    outcome: str,
    actual_start: datetime | None,
    actual_end: datetime | None,
    attended_by: Iterable[AbstractBaseUser],
    notes: str,
    by: AbstractBaseUser,
    reason: str = "",
    expected_revision: int | None = None,
) -> StudySession:
    """Record what happened at a booked session: outcome, actual times, who attended, notes.

    Logging a session that was logged before is a correction: it needs `reason`, and a
    signed record loses its signature until it is signed again. A missed session keeps no
    actual times; the coordinator can then re-book it or record a deviation.
    """
    participant = _lock_participant(session.participant)
    stored = _lock_session(session, expected_revision)
    if not may_record(by, stored):
        raise PermissionDenied("Only staff assigned to this session or a coordinator can log it.")
    if stored.status not in (SessionStatus.SCHEDULED, SessionStatus.COMPLETED, SessionStatus.MISSED):
        raise ValidationError(f"{stored} is {stored.get_status_display().lower()}: book it before logging it.")
    correction = bool(stored.outcome)
    if correction:
        reason = _text(reason, field_name="reason", required=True, label="a reason for the correction")
    else:
        reason = _text(reason, field_name="reason", required=False, label="")
    if outcome not in Outcome.values:
        raise ValidationError({"outcome": "Choose what happened: completed, stopped early or missed."})
    notes = _text(notes, field_name="notes", required=False, label="")
    tz = participant.site.zone
    if outcome == Outcome.MISSED:
        actual_start = actual_end = None
    else:
        actual_start = _aware(actual_start, field_name="actual_start", label="actual start")
        actual_end = _aware(actual_end, field_name="actual_end", label="actual end")
        if actual_end <= actual_start:
            raise ValidationError({"actual_end": "The end must be after the start."})
        if actual_start > timezone.now():
            raise ValidationError({"actual_start": "The session cannot be logged before it has started."})
        if actual_end - actual_start > timedelta(hours=24):
            raise ValidationError({"actual_end": "A session cannot last more than 24 hours."})
        _check_plausible(local_date(actual_start, tz), field_name="actual_start", label="The actual start")
    attendees = list(dict.fromkeys(attended_by or ()))
    allowed = _site_staff_ids(participant.site_id, Membership.Role.STAFF, Membership.Role.COORDINATOR)
    strangers = [u for u in attendees if u.pk not in allowed and not u.is_superuser]
    if strangers:
        names = ", ".join(_person(u) for u in strangers)
        raise ValidationError({"attended_by": f"{names} does not work at {participant.site.code}."})
    if outcome != Outcome.MISSED and not attendees:
        raise ValidationError({"attended_by": "Say which staff were present."})

    was_signed = stored.is_signed
    what = "Correction" if correction else "Logged"
    audit_reason = f"{what}: {reason}" if reason else f"Logged as {Outcome(outcome).label.lower()}"
    if was_signed:
        audit_reason += " (signature removed until signed again)"
    _audit(stored, by=by, reason=audit_reason)
    if set(stored.attended_by.values_list("pk", flat=True)) != {u.pk for u in attendees}:
        stored.attended_by.set(attendees)
    stored.outcome = outcome
    stored.actual_start, stored.actual_end = actual_start, actual_end
    stored.notes = notes
    stored.logged_by = by
    stored.status = SessionStatus.MISSED if outcome == Outcome.MISSED else SessionStatus.COMPLETED
    _clear_signature(stored)
    stored.revision += 1
    stored.save()
    reproject_participant(
        participant, by=by, reason=f"Window re-projected after {stored.definition.code} {what.lower()}"
    )
    _refresh_participant_status(participant, by=by, reason=f"{stored.definition.code} logged")
    stored.refresh_from_db()
    return stored


@transaction.atomic
def sign_session(*, session: StudySession, by: AbstractBaseUser, password: str) -> StudySession:
    """Sign a logged record after re-entering the password (21 CFR 11.50: name, time, meaning)."""
    stored = _lock_session(session, None)
    if not may_record(by, stored):
        raise PermissionDenied("Only staff assigned to this session or a coordinator can sign it.")
    if not stored.outcome:
        raise ValidationError(f"{stored} has not been logged yet: log it before signing.")
    if stored.is_signed:
        raise ValidationError(f"{stored} is already signed by {_person(stored.signed_by)}.")
    # Fetch the user afresh: the password check must not trust a cached object.
    signer = get_user_model().objects.get(pk=by.pk)
    if not password or not signer.check_password(password):
        raise ValidationError({"password": "That password is not right. Enter your own password to sign."})
    return _record_signature(stored, by=by)


def _record_signature(session: StudySession, *, by: AbstractBaseUser) -> StudySession:
    """Write the signature. Only sign_session (after the password check) and the demo seeding
    (trialtracker/demo.py, where no person is present to type a password) call this."""
    session.signed_by = by
    session.signed_at = timezone.now()
    session.signature_meaning = SIGNATURE_MEANING
    session.revision += 1
    _audit(session, by=by, reason=f"Signed: {SIGNATURE_MEANING}")
    session.save()
    return session


# ---------------------------------------------------------------------------- deviations


def _new_deviation(*, participant: Participant, session: StudySession | None, category: str, description: str, by):
    deviation = Deviation(
        participant=participant,
        session=session,
        category=category,
        description=description,
        reported_by=by,
        reported_at=timezone.now(),
    )
    _audit(deviation, by=by, reason="Deviation reported")
    deviation.save()
    return deviation


@transaction.atomic
def record_deviation(
    *,
    participant: Participant,
    category: str,
    description: str,
    by: AbstractBaseUser,
    session: StudySession | None = None,
) -> Deviation:
    """Report a protocol deviation of a participant (and optionally one of their sessions)."""
    if category not in Deviation.Category.values:
        raise ValidationError({"category": "Choose the kind of deviation."})
    description = _text(description, field_name="description", required=True, label="a description")
    if session is not None and session.participant_id != participant.pk:
        raise ValidationError({"session": f"{session} is not a session of {participant}."})
    return _new_deviation(participant=participant, session=session, category=category, description=description, by=by)


def _lock_deviation(deviation: Deviation) -> Deviation:
    return Deviation.objects.select_for_update().get(pk=deviation.pk)


@transaction.atomic
def close_deviation(*, deviation: Deviation, resolution: str, by: AbstractBaseUser) -> Deviation:
    """Close an open deviation with how it was resolved."""
    resolution = _text(resolution, field_name="resolution", required=True, label="the resolution")
    stored = _lock_deviation(deviation)
    if stored.status != Deviation.Status.OPEN:
        raise ValidationError(f"This deviation is already {stored.get_status_display().lower()}.")
    stored.status = Deviation.Status.CLOSED
    stored.resolution = resolution
    stored.closed_by, stored.closed_at = by, timezone.now()
    _audit(stored, by=by, reason=f"Closed: {resolution}")
    stored.save()
    return stored


@transaction.atomic
def void_deviation(*, deviation: Deviation, reason: str, by: AbstractBaseUser) -> Deviation:
    """Void a deviation reported in error; it stays on record, marked void, with the reason."""
    reason = _text(reason, field_name="reason", required=True, label="a reason for voiding")
    stored = _lock_deviation(deviation)
    if stored.status == Deviation.Status.VOIDED:
        raise ValidationError("This deviation is already voided.")
    stored.status = Deviation.Status.VOIDED
    stored.resolution = reason
    stored.closed_by, stored.closed_at = by, timezone.now()
    _audit(stored, by=by, reason=f"Voided: {reason}")
    stored.save()
    return stored


# ---------------------------------------------------------------------------- withdrawal


@transaction.atomic
def withdraw_participant(
    *, participant: Participant, withdrawn_on: date, reason: str, by: AbstractBaseUser
) -> Participant:
    """Withdraw a participant: sessions not yet held from `withdrawn_on` on are cancelled, never deleted."""
    reason = _text(reason, field_name="reason", required=True, label="the reason for withdrawal")
    stored = _lock_participant(participant)
    if not stored.is_active:
        raise ValidationError(f"{stored} is already {stored.get_status_display().lower()}.")
    if withdrawn_on is None:
        raise ValidationError({"withdrawn_on": "Give the date of withdrawal."})
    if withdrawn_on < stored.enrollment_date:
        raise ValidationError(
            {"withdrawn_on": f"Withdrawal cannot come before enrollment ({stored.enrollment_date:%-d %b %Y})."}
        )
    if withdrawn_on > timezone.localdate(timezone=stored.site.zone):
        raise ValidationError({"withdrawn_on": "Withdrawal cannot be dated in the future."})
    tz = stored.site.zone
    for session in stored.sessions.select_related("definition").filter(status__in=OPEN_SESSION_STATUSES):
        if session.scheduled_start is None or local_date(session.scheduled_start, tz) >= withdrawn_on:
            _cancel(session, by=by, reason=f"Participant withdrawn: {reason}")
    stored.status = ParticipantStatus.WITHDRAWN
    stored.withdrawn_on = withdrawn_on
    stored.withdrawal_reason = reason
    _audit(stored, by=by, reason=f"Withdrawn: {reason}")
    stored.save()
    return stored


def window_of(session: StudySession) -> Window | None:
    """The stored window of a session as the engine's Window (None before enrolment projected it)."""
    return _stored_window(session)


def projections_for(participant: Participant) -> dict[str, Projection]:
    """The engine's current projection for each of the participant's sessions, by code (anchor info included)."""
    plan, _ = _plan(participant.protocol_version)
    known = {s.definition.code: _known(s) for s in _sessions_of(participant)}
    return project(plan, participant.enrollment_date, participant.site.zone, known)
