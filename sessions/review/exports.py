"""CSV exports of sessions, deviations and audit events, streamed row by row.

Scoped to the sites where the user is a coordinator or monitor. No free-text notes column is
ever written. The column headers are documented in README "Review and exports".
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from django.db.models import Aggregate, CharField, OuterRef, QuerySet, Subquery

from sessions.models import Assignment, Deviation, StudySession
from sessions.review.audit import AuditQuery, iter_audit_events

SESSION_COLUMNS = [
    "site",
    "study_code",
    "protocol",
    "protocol_version",
    "session_code",
    "session_name",
    "phase",
    "status",
    "target_date",
    "window_opens",
    "window_closes",
    "scheduled_start_local",
    "scheduled_end_local",
    "room",
    "therapists",
    "actual_start_local",
    "actual_end_local",
    "outcome",
    "timing",
    "signed_by",
    "signed_at_utc",
]
DEVIATION_COLUMNS = [
    "site",
    "study_code",
    "protocol",
    "session_code",
    "category",
    "status",
    "description",
    "reported_by",
    "reported_at_utc",
    "resolution",
    "closed_by",
    "closed_at_utc",
]
AUDIT_COLUMNS = ["when_utc", "user", "record", "study_code", "session_code", "change", "changes", "reason"]


class _Echo:
    """A file-like object whose write() hands the line back, for csv.writer in a stream."""

    def write(self, value):
        return value


def csv_lines(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_safe(value) for value in row])


def _safe(value) -> str:
    """Text as a spreadsheet will not run it as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _local(moment, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""


def _utc(moment) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def _person(user) -> str:
    return user.get_username() if user else ""


class GroupConcat(Aggregate):
    """Values joined with ";" in one column: GROUP_CONCAT on SQLite, STRING_AGG on PostgreSQL."""

    function = "GROUP_CONCAT"
    template = "%(function)s(%(expressions)s, ';')"
    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="STRING_AGG", **extra_context)


def _therapist_names():
    """The usernames of a session's active therapists, as one subquery (no query per chunk)."""
    return (
        Assignment.objects.filter(session=OuterRef("pk"), is_active=True)
        .order_by()
        .values("session")
        .annotate(names=GroupConcat("therapist__username"))
        .values("names")
    )


def session_queryset(site_ids, *, protocol=None, site=None) -> QuerySet[StudySession]:
    queryset = StudySession.objects.filter(participant__site_id__in=site_ids)
    if protocol is not None:
        queryset = queryset.filter(participant__protocol=protocol)
    if site is not None:
        queryset = queryset.filter(participant__site=site)
    return (
        queryset.select_related(
            "participant__site",
            "participant__protocol",
            "participant__protocol_version",
            "definition",
            "room",
            "signed_by",
        )
        .annotate(therapist_names=Subquery(_therapist_names()))
        .order_by("participant__site__code", "participant__study_code", "definition__order")
    )


def _timing(session: StudySession, zone: ZoneInfo) -> str:
    moment = session.actual_start or session.scheduled_start
    if session.status not in ("scheduled", "completed") or moment is None or not session.window_opens:
        return ""
    day = moment.astimezone(zone).date()
    if day < session.window_opens:
        return "early"
    if day > session.window_closes:
        return "late"
    return "in_window"


def session_rows(queryset: QuerySet[StudySession]) -> Iterator[list]:
    for session in queryset.iterator(chunk_size=500):
        participant = session.participant
        zone = ZoneInfo(participant.site.time_zone)
        yield [
            participant.site.code,
            participant.study_code,
            participant.protocol.code,
            participant.protocol_version.label,
            session.definition.code,
            session.definition.name,
            session.definition.phase,
            session.status,
            session.target_date,
            session.window_opens,
            session.window_closes,
            _local(session.scheduled_start, zone),
            _local(session.scheduled_end, zone),
            session.room.name if session.room else "",
            session.therapist_names or "",
            _local(session.actual_start, zone),
            _local(session.actual_end, zone),
            session.outcome,
            _timing(session, zone),
            _person(session.signed_by),
            _utc(session.signed_at),
        ]


def deviation_queryset(site_ids, *, protocol=None, site=None) -> QuerySet[Deviation]:
    queryset = Deviation.objects.filter(participant__site_id__in=site_ids)
    if protocol is not None:
        queryset = queryset.filter(participant__protocol=protocol)
    if site is not None:
        queryset = queryset.filter(participant__site=site)
    return queryset.select_related(
        "participant__site", "participant__protocol", "session__definition", "reported_by", "closed_by"
    ).order_by("participant__site__code", "participant__study_code", "reported_at")


def deviation_rows(queryset: QuerySet[Deviation]) -> Iterator[list]:
    for deviation in queryset.iterator(chunk_size=500):
        participant = deviation.participant
        yield [
            participant.site.code,
            participant.study_code,
            participant.protocol.code,
            deviation.session.definition.code if deviation.session_id else "",
            deviation.category,
            deviation.status,
            deviation.description,
            _person(deviation.reported_by),
            _utc(deviation.reported_at),
            deviation.resolution,
            _person(deviation.closed_by),
            _utc(deviation.closed_at),
        ]


def audit_rows(site_ids, query: AuditQuery) -> Iterator[list]:
    for event in iter_audit_events(site_ids, query):
        yield [
            _utc(event.when),
            event.user,
            event.record,
            event.study_code,
            event.session_code,
            event.change,
            event.changes_text,
            event.reason,
        ]
