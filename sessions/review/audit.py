"""Audit-trail search across the history of participants, sessions, assignments and deviations.

Each history row becomes an `AuditEvent`: when (UTC), who, what record, created/changed/
deleted, old → new per field, and the reason given. Free-text clinical notes never appear:
a change to them shows as "changed" without the text. Scoped to the user's sites.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import CharField, Q, Value
from django.db.models.functions import Concat

from sessions.models import Assignment, Deviation, Participant, StudySession

# Fields never copied into an audit listing or export: free text that may hold clinical detail.
HIDDEN_FIELDS = {"notes"}
# The record column already names these; the revision counter means nothing to a reader.
SKIPPED_FIELDS = {"revision", "id", "participant_id", "definition_id", "session_id", "protocol_id"}
CHANGE_TYPES = {"+": "created", "~": "changed", "-": "deleted"}
PAGE_SIZE = 100


@dataclass
class AuditEvent:
    when: datetime
    user: str
    record: str  # Participant | Session | Assignment | Deviation
    study_code: str
    session_code: str
    change: str
    changes: list[tuple[str, str, str]]  # (field, old, new)
    reason: str
    participant_id: int | None

    @property
    def changes_text(self) -> str:
        return "; ".join(f"{name}: {old} → {new}" for name, old, new in self.changes)


@dataclass
class AuditQuery:
    study_code: str = ""
    username: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.study_code or self.username or self.date_from or self.date_to)


def _value(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


class Names:
    """Readable names for the foreign keys of history rows: a few small tables, read once per page."""

    def __init__(self):
        from protocols.models import ProtocolVersion
        from sessions.models import Room, Site

        self.by_model = {
            get_user_model(): dict(get_user_model().objects.values_list("pk", "username")),
            Room: dict(Room.objects.values_list("pk", "name")),
            Site: dict(Site.objects.values_list("pk", "code")),
            ProtocolVersion: {
                pk: f"{code} {label}"
                for pk, code, label in ProtocolVersion.objects.values_list("pk", "protocol__code", "label")
            },
        }

    def of(self, field, value) -> str:
        if value is None or not field.is_relation:
            return _value(value)
        return self.by_model.get(field.related_model, {}).get(value, f"#{value}")


def _diff(model, row, previous, names: Names | None = None) -> list[tuple[str, str, str]]:
    render = names.of if names is not None else (lambda field, value: _value(value))
    changes = []
    for field in model._meta.fields:
        name = field.attname
        if name in SKIPPED_FIELDS:
            continue
        new = getattr(row, name)
        old = getattr(previous, name) if previous is not None else None
        if previous is not None and old == new:
            continue
        if previous is None and new in (None, ""):
            continue
        label = field.name.replace("_", " ")
        if name in HIDDEN_FIELDS:
            changes.append((label, "(text)" if old else "—", "(text changed)" if new else "—"))
        else:
            changes.append((label, render(field, old), render(field, new)))
    return changes


def _bounds(query: AuditQuery) -> tuple[datetime | None, datetime | None]:
    """The date range as UTC instants: from the start of date_from to the end of date_to."""
    start = datetime.combine(query.date_from, time.min, tzinfo=UTC) if query.date_from else None
    end = datetime.combine(query.date_to + timedelta(days=1), time.min, tzinfo=UTC) if query.date_to else None
    return start, end


def _time_filter(query: AuditQuery) -> Q:
    start, end = _bounds(query)
    condition = Q()
    if start:
        condition &= Q(history_date__gte=start)
    if end:
        condition &= Q(history_date__lt=end)
    return condition


def _matching_user_ids(text: str) -> list[int]:
    """The people a typed "User name" means: the login name, or the full name shown on the pages
    ("Casey Morgan"), ignoring case."""
    text = " ".join(text.split())
    users = get_user_model().objects.annotate(
        full_name=Concat("first_name", Value(" "), "last_name", output_field=CharField())
    )
    return list(users.filter(Q(username__iexact=text) | Q(full_name__iexact=text)).values_list("pk", flat=True))


def _sources(site_ids, query: AuditQuery):
    """(model, history queryset, how to name the record) for each audited model, filtered."""
    participants = Participant.objects.filter(site_id__in=site_ids)
    if query.study_code:
        participants = participants.filter(study_code__iexact=query.study_code.strip())
    sessions = StudySession.objects.filter(participant__in=participants)
    common = _time_filter(query)
    if query.username:
        common &= Q(history_user_id__in=_matching_user_ids(query.username))
    return [
        (Participant, Participant.history.filter(common, id__in=participants.values("pk")), "Participant"),
        (StudySession, StudySession.history.filter(common, participant_id__in=participants.values("pk")), "Session"),
        (Assignment, Assignment.history.filter(common, session_id__in=sessions.values("pk")), "Assignment"),
        (Deviation, Deviation.history.filter(common, participant_id__in=participants.values("pk")), "Deviation"),
    ]


def _previous_rows(model, rows) -> dict[int, object]:
    """history_id → the record's previous history row, one query per model."""
    if not rows:
        return {}
    ids = {row.id for row in rows}
    older = model.history.filter(id__in=ids, history_date__lt=max(row.history_date for row in rows))
    by_record: dict[int, list] = {}
    for row in older.order_by("id", "history_date", "history_id"):
        by_record.setdefault(row.id, []).append(row)
    previous = {}
    for row in rows:
        key = (row.history_date, row.history_id)
        candidates = [r for r in by_record.get(row.id, []) if (r.history_date, r.history_id) < key]
        previous[row.history_id] = candidates[-1] if candidates else None
    return previous


# What each history model joins to name its record (study code, session code) in the same query.
RELATED = {
    Participant: (),
    StudySession: ("participant", "definition"),
    Assignment: ("session__participant", "session__definition"),
    Deviation: ("participant", "session__definition"),
}


def _name(model, row) -> tuple[str, str, int | None]:
    """Study code, session code and participant id of a history row (joined, no query)."""
    if model is Participant:
        return row.study_code, "", row.id
    if model is StudySession:
        return row.participant.study_code, row.definition.code, row.participant_id
    if model is Assignment:
        session = row.session
        return session.participant.study_code, session.definition.code, session.participant_id
    session_code = row.session.definition.code if row.session_id else ""
    return row.participant.study_code, session_code, row.participant_id


def _events(model, record: str, rows, names: Names) -> list[AuditEvent]:
    user_model = get_user_model()
    previous = _previous_rows(model, rows)
    events = []
    for row in rows:
        user = row.history_user
        study_code, session_code, participant_id = _name(model, row)
        events.append(
            AuditEvent(
                when=row.history_date,
                user=(user.get_username() if isinstance(user, user_model) else "") or "system",
                record=record,
                study_code=study_code,
                session_code=session_code,
                change=CHANGE_TYPES.get(row.history_type, row.history_type),
                changes=_diff(model, row, previous.get(row.history_id), names),
                reason=row.history_change_reason or "",
                participant_id=participant_id,
            )
        )
    return events


def audit_events(site_ids, query: AuditQuery, *, limit: int = PAGE_SIZE) -> list[AuditEvent]:
    """The latest `limit` events matching the query, newest first, in a fixed number of queries."""
    events: list[AuditEvent] = []
    names = Names()
    for model, history, record in _sources(site_ids, query):
        history = history.select_related("history_user", *RELATED[model])
        rows = list(history.order_by("-history_date", "-history_id")[:limit])
        events.extend(_events(model, record, rows, names))
    events.sort(key=lambda e: e.when, reverse=True)
    return events[:limit]


def iter_audit_events(site_ids, query: AuditQuery) -> Iterator[AuditEvent]:
    """Every matching event, record type by record type, in one streamed query per type.

    Each record's history is read in order, so the previous version is the row just read;
    the user and date filters are applied after the diff so "old" is always the true old value.
    """
    unfiltered = AuditQuery(study_code=query.study_code)
    wanted_user = query.username.strip().lower()
    wanted_ids = set(_matching_user_ids(query.username)) if wanted_user else set()
    start, end = _bounds(query)
    names = Names()
    for model, history, record in _sources(site_ids, unfiltered):
        ordered = history.select_related("history_user", *RELATED[model]).order_by("id", "history_date", "history_id")
        if wanted_user:
            # Keep only records this user touched, with their whole history for the diffs.
            touched = model.history.filter(history_user_id__in=wanted_ids).values("id")
            ordered = ordered.filter(id__in=touched)
        previous = None
        for row in ordered.iterator(chunk_size=2000):
            before = previous if previous is not None and previous.id == row.id else None
            previous = row
            user = row.history_user
            if wanted_user and row.history_user_id not in wanted_ids:
                continue
            if (start and row.history_date < start) or (end and row.history_date >= end):
                continue
            study_code, session_code, participant_id = _name(model, row)
            yield AuditEvent(
                when=row.history_date,
                user=(user.get_username() if user is not None else "") or "system",
                record=record,
                study_code=study_code,
                session_code=session_code,
                change=CHANGE_TYPES.get(row.history_type, row.history_type),
                changes=_diff(model, row, before, names),
                reason=row.history_change_reason or "",
                participant_id=participant_id,
            )
