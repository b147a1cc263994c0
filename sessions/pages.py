"""What the daily-work pages show, worked out from the rows the selectors return.

Small helpers the views call: who may log a session, the one next action of each row, the
initial values of the forms, and the participant's audit history as readable rows
(who, when, what, old → new, why). No writes here.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from sessions import selectors
from sessions.access import Role, has_role
from sessions.models import Assignment, Deviation, Participant, Room, StudySession

SIGNATURE_MEANING = "I confirm this record is accurate"
Status = StudySession.Status


def sessions_of(user, participant: Participant):
    """The participant's sessions in protocol order (the selector loads therapists as `active_assignments`)."""
    return selectors.sessions_for_user(user).filter(participant=participant).order_by("definition__order")


def active_therapists(session: StudySession) -> list:
    assignments = getattr(session, "active_assignments", None)
    if assignments is None:
        assignments = session.assignments.filter(is_active=True).select_related("therapist").order_by("id")
    return [assignment.therapist for assignment in assignments]


def can_log(user, session: StudySession) -> bool:
    site_id = session.participant.site_id
    if has_role(user, site_id, Role.COORDINATOR):
        return True
    return has_role(user, site_id, Role.STAFF) and any(t.pk == user.pk for t in active_therapists(session))


@dataclass(frozen=True)
class Action:
    label: str
    url: str
    primary: bool = True

    @property
    def short_label(self) -> str:
        """What fits a phone's table row; the full label stays the link's accessible name."""
        return {"Reschedule": "Move"}.get(self.label, self.label)


def next_action(user, session: StudySession, *, coordinator: bool) -> Action:
    """The one thing a row of the session table leads to for this user."""
    open_page = Action("Open", reverse("sessions:session_detail", args=[session.pk]), primary=False)
    active = session.participant.is_active
    if session.status == Status.UNSCHEDULED and coordinator and active:
        return Action("Book", reverse("sessions:schedule", args=[session.pk]))
    if session.status == Status.SCHEDULED:
        if session.scheduled_start and session.scheduled_start <= timezone.now() and can_log(user, session):
            return Action("Log", reverse("sessions:log", args=[session.pk]))
        if coordinator and active:
            return Action("Reschedule", reverse("sessions:schedule", args=[session.pk]), primary=False)
    if session.status == Status.COMPLETED and not session.is_signed and can_log(user, session):
        return Action("Sign", reverse("sessions:sign", args=[session.pk]))
    if session.status == Status.MISSED and coordinator and active:
        return Action("Resolve", reverse("sessions:session_detail", args=[session.pk]))
    return open_page


def anchor_session(session: StudySession) -> StudySession | None:
    """The participant's session this one's window is timed from (None: timed from enrollment)."""
    anchor_id = session.definition.anchor_id
    if anchor_id is None:
        return None
    return (
        StudySession.objects.filter(participant_id=session.participant_id, definition_id=anchor_id)
        .select_related("definition")
        .first()
    )


def _local(moment: datetime | None, session: StudySession) -> datetime | None:
    return moment.astimezone(session.participant.site.zone) if moment else None


def schedule_initial(session: StudySession, query) -> dict:
    """Current booking, or the day and time of a suggested slot the person clicked."""
    initial: dict = {"revision": session.revision}
    start = _local(session.scheduled_start, session) if session.status == Status.SCHEDULED else None
    if start:
        initial.update(day=start.date(), start_time=start.time().replace(second=0, microsecond=0))
    if session.status == Status.SCHEDULED:
        initial["room"] = session.room_id
        initial["therapists"] = [t.pk for t in active_therapists(session)]
    for key in ("day", "start_time"):
        if query.get(key):
            initial[key] = query[key][:10]
    if query.get("room"):
        initial["room"] = query["room"][:12]
    if query.getlist("therapists"):
        initial["therapists"] = [value[:12] for value in query.getlist("therapists")[:10]]
    return initial


def log_initial(session: StudySession) -> dict:
    start = _local(session.actual_start or session.scheduled_start, session)
    end = _local(session.actual_end or session.scheduled_end, session)
    attended = list(session.attended_by.all()) if session.outcome else active_therapists(session)
    initial = {
        "revision": session.revision,
        # No default outcome: a hurried save must not record the plan as what happened.
        "outcome": session.outcome,
        "attended_by": [user.pk for user in attended],
        "notes": session.notes,
    }
    if start:
        initial.update(start_day=start.date(), start_time=start.strftime("%H:%M"))
    if end:
        initial.update(end_day=end.date(), end_time=end.strftime("%H:%M"))
    return initial


@dataclass(frozen=True)
class SlotLink:
    start: datetime
    url: str
    room: object = None
    outside_window: bool = False


def slot_links(session: StudySession, slots) -> list[SlotLink]:
    """Suggested free starts as links that fill the booking form in (works without JavaScript)."""
    links = []
    base = reverse("sessions:schedule", args=[session.pk])
    needed = session.definition.therapists_required
    # Rooms the site uses for sessions with a room hold (the overnight suites): offer those for such
    # sessions, and the other rooms first for short ones, so a preparation session does not take the
    # suite a dosing session needs.
    hold_needed = session.definition.room_hold_hours > 0
    hold_rooms = set(
        StudySession.objects.filter(
            participant__site_id=session.participant.site_id, definition__room_hold_hours__gt=0, room__isnull=False
        )
        .values_list("room_id", flat=True)
        .distinct()
    )
    for slot in list(slots or [])[:8]:
        start = getattr(slot, "start", slot)
        if not isinstance(start, datetime):
            continue
        local = _local(start, session)
        query = [("day", local.date().isoformat()), ("start_time", local.strftime("%H:%M"))]
        rooms = getattr(slot, "rooms", ())
        fitting = [r for r in rooms if (r.pk in hold_rooms) == hold_needed]
        room = (fitting or list(rooms) or [None])[0]
        if room is not None:
            query.append(("room", room.pk))
        query += [("therapists", person.pk) for person in list(getattr(slot, "therapists", ()))[:needed]]
        outside = bool(getattr(slot, "outside_window", False))
        links.append(SlotLink(start=local, url=f"{base}?{urlencode(query)}", room=room, outside_window=outside))
    return links


def _day(value: date) -> str:
    return f"{value:%a} {value.day} {value:%b %Y}"


def _window(window) -> str:
    opens = f"{window.earliest:%a} {window.earliest.day} {window.earliest:%b}"
    if window.earliest.year != window.latest.year:
        opens += f" {window.earliest:%Y}"
    return f"{opens} – {_day(window.latest)}"


def _stranded(later: StudySession, new) -> str:
    """A warning when a later session's booking no longer lies inside its moved window."""
    if later.status != StudySession.Status.SCHEDULED or later.scheduled_start is None:
        return ""
    day = _local(later.scheduled_start, later).date()
    if new.earliest <= day <= new.latest:
        return ""
    return f" {later.definition.code} is booked {_day(day)}, now outside its window: reschedule it."


def booked_message(result) -> str:
    session = result.session
    start = _local(session.scheduled_start, session)
    text = f"{session.definition.code} booked for {_day(start.date())} at {start:%H:%M} ({start:%Z})."
    if result.deviation is not None:
        text += " A protocol deviation was recorded."
    moved = list(result.moved or [])
    if moved:
        parts = [f"{later.definition.code} now {_window(new)} (was {_window(old)})" for later, old, new in moved]
        text += " Later windows moved: " + "; ".join(parts) + "."
        text += "".join(_stranded(later, new) for later, _old, new in moved)
    else:
        text += " No later window moved."
    return text


# Audit history

USER_FIELDS = ("therapist_id", "signed_by_id", "logged_by_id", "reported_by_id", "closed_by_id", "enrolled_by_id")
SKIPPED_FIELDS = {"id", "revision", "participant", "anchor_order"}
CREATION_FIELDS = {
    "participant": ("study_code", "status", "enrollment_date", "protocol_version"),
    "session": ("status", "window_opens", "window_closes"),
    "assignment": ("therapist", "starts_at", "ends_at"),
    "deviation": ("category", "status", "description"),
}


@dataclass
class AuditRow:
    when: datetime
    who: str
    subject: str
    action: str
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    reason: str = ""
    window_move: tuple[str, str, str] | None = None  # (code, old window, new window) of a re-projection


class _Names:
    """Turns stored ids into what a person recognises, with one query per kind of object."""

    def __init__(self, records, participant, sessions, extra_users=()):
        users, rooms = set(extra_users), set()
        for record in records:
            for name in USER_FIELDS:
                users.add(getattr(record, name, None))
            rooms.add(getattr(record, "room_id", None))
        users.discard(None)
        rooms.discard(None)
        people = get_user_model().objects.filter(pk__in=users) if users else []
        self.users = {user.pk: user.get_full_name() or user.username for user in people}
        self.rooms = dict(Room.objects.filter(pk__in=rooms).values_list("pk", "name")) if rooms else {}
        self.sessions = {session.pk: session.definition.code for session in sessions}
        self.zone = participant.site.zone
        self.version = participant.protocol_version

    def people(self, user_ids) -> str:
        return ", ".join(sorted(self.users.get(pk, f"user #{pk}") for pk in user_ids)) or "—"

    def value(self, model_field, value) -> str:
        if value in (None, ""):
            return "—"
        name = model_field.name
        if name + "_id" in USER_FIELDS:
            return self.users.get(value, f"user #{value}")
        if name == "room":
            return self.rooms.get(value, f"room #{value}")
        if name == "session":
            return self.sessions.get(value, f"session #{value}")
        if name == "protocol_version":
            return str(self.version) if value == self.version.pk else f"version #{value}"
        if model_field.choices:
            return str(dict(model_field.flatchoices).get(value, value))
        if isinstance(value, datetime):
            local = value.astimezone(self.zone)
            return f"{_day(local.date())} {local:%H:%M %Z}"
        if isinstance(value, date):
            return _day(value)
        if isinstance(value, bool):
            return "yes" if value else "no"
        text = str(value)
        return text if len(text) <= 160 else text[:157] + "…"


def _tracked_fields(model):
    return [f for f in model._meta.concrete_fields if f.name not in SKIPPED_FIELDS]


def _raw(record, model_field):
    return getattr(record, model_field.attname, None)


def audit_history(participant: Participant, sessions, deviations) -> list[AuditRow]:
    """Every recorded change of the participant, its sessions, assignments and deviations, newest first."""
    session_ids = [session.pk for session in sessions]
    codes = {session.pk: session.definition.code for session in sessions}
    sources = [
        ("participant", Participant, Participant.history.filter(id=participant.pk)),
        ("session", StudySession, StudySession.history.filter(participant_id=participant.pk)),
        ("assignment", Assignment, Assignment.history.filter(session_id__in=session_ids)),
        ("deviation", Deviation, Deviation.history.filter(participant_id=participant.pk)),
    ]
    loaded = [(kind, model, list(qs.select_related("history_user"))) for kind, model, qs in sources]
    present = _staff_present_by_record(participant)
    extra_users = {user_id for users in present.values() for user_id in users}
    names = _Names([r for _, _, records in loaded for r in records], participant, sessions, extra_users)
    rows = []
    for kind, model, records in loaded:
        fields = _tracked_fields(model)
        records.sort(key=lambda r: (r.id, r.history_date, r.history_id))
        previous = {}
        for record in records:
            before = previous.get(record.id)
            row = _row(kind, record, before, fields, names, participant, codes)
            if kind == "session" and before is not None:
                old, new = present.get(before.history_id, set()), present.get(record.history_id, set())
                if old != new:
                    row.changes.append(("staff present", names.people(old), names.people(new)))
            rows.append(row)
            previous[record.id] = record
    rows.sort(key=lambda row: row.when, reverse=True)
    return _group_window_moves(rows)


def _staff_present_by_record(participant: Participant) -> dict[int, set[int]]:
    """History row id → who was recorded present (simple-history keeps the m2m as a snapshot per row)."""
    history = StudySession.history.model
    snapshot = next(
        (rel.related_model for rel in history._meta.related_objects if rel.name.endswith("_attended_by")), None
    )
    present: dict[int, set[int]] = {}
    if snapshot is None:
        return present
    rows = snapshot.objects.filter(history__participant_id=participant.pk).values_list("history_id", "user_id")
    for history_id, user_id in rows:
        present.setdefault(history_id, set()).add(user_id)
    return present


def _subject(kind, record, participant, codes, names) -> str:
    if kind == "participant":
        return participant.study_code
    if kind == "session":
        return codes.get(record.id, f"session #{record.id}")
    if kind == "assignment":
        return f"{codes.get(record.session_id, 'session')} · therapist {names.users.get(record.therapist_id, '')}"
    category = dict(Deviation.Category.choices).get(record.category, record.category)
    return f"Deviation · {category}"


def _row(kind, record, before, fields, names, participant, codes) -> AuditRow:
    user = record.history_user
    who = (user.get_full_name() or user.username) if user else "System"
    local = record.history_date.astimezone(participant.site.zone)
    if before is None or record.history_type == "+":
        action = "Created"
        wanted = CREATION_FIELDS.get(kind, ())
        changes = [
            (f.verbose_name, "", names.value(f, _raw(record, f)))
            for f in fields
            if f.name in wanted and _raw(record, f) not in (None, "")
        ]
    else:
        action = "Deleted" if record.history_type == "-" else "Changed"
        changes = [
            (f.verbose_name, names.value(f, _raw(before, f)), names.value(f, _raw(record, f)))
            for f in fields
            if _raw(before, f) != _raw(record, f)
        ]
    row = AuditRow(
        when=local,
        who=who,
        subject=_subject(kind, record, participant, codes, names),
        action=action,
        changes=changes,
        reason=record.history_change_reason or "",
    )
    moved = {f.name for f in fields if before is not None and _raw(before, f) != _raw(record, f)}
    if kind == "session" and action == "Changed" and moved and moved <= WINDOW_FIELDS:
        row.window_move = (row.subject, _window_text(before), _window_text(record))
    return row


WINDOW_FIELDS = {"target_date", "window_opens", "window_closes"}


def _window_text(record) -> str:
    if record.window_opens is None or record.window_closes is None:
        return "—"
    opens, closes, target = record.window_opens, record.window_closes, record.target_date
    text = f"{opens.day} {opens:%b} – {closes.day} {closes:%b %Y}"
    return f"{text} (target {target.day} {target:%b})" if target else text


def _group_window_moves(rows: list[AuditRow]) -> list[AuditRow]:
    """One booking re-projects every later window: show that as one entry, not one per session."""
    grouped: list[AuditRow] = []
    for row in rows:
        last = grouped[-1] if grouped else None
        if (
            row.window_move
            and last is not None
            and last.window_move is not None
            and (last.who, last.reason) == (row.who, row.reason)
            and abs((last.when - row.when).total_seconds()) < 60
        ):
            last.changes.append(row.window_move)
            last.subject = "Later windows"
            continue
        if row.window_move:
            row = AuditRow(
                when=row.when,
                who=row.who,
                subject=row.subject,
                action="Window moved",
                changes=[row.window_move],
                reason=row.reason,
                window_move=row.window_move,
            )
        grouped.append(row)
    for row in grouped:
        if row.window_move and len(row.changes) > 1:
            row.action = f"{len(row.changes)} windows moved"
            row.changes.reverse()  # newest-first put the last session first; show plan order
    return grouped
