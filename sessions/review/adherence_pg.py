"""The monitor's adherence figures, computed by PostgreSQL instead of in Python.

monitor.adherence() reads every session of the chosen participants and judges each in Python:
fine for a site, but at 10,000 participants (90,000 sessions) that is seconds per page view
(bench/run.py). PostgreSQL can do the same sums itself, converting each start to the site's
local date with AT TIME ZONE, and send back only the figures, the gaps between dosing sessions
and the out-of-window rows. The results are the same as the Python loop's, rule for rule; SQLite
(which has no time zones) keeps the loop.
"""

from __future__ import annotations

from datetime import date

from django.db import connection
from django.db.models import QuerySet

from protocols.models import SessionDefinition
from sessions.models import Deviation, Participant, Site, StudySession
from sessions.review.monitor import PHASE_LABELS, PHASES, Adherence, OutOfWindow, PhaseCompletion

COMPLETED = StudySession.Status.COMPLETED.value
SCHEDULED = StudySession.Status.SCHEDULED.value
CANCELLED = StudySession.Status.CANCELLED.value
DOSING = SessionDefinition.Phase.DOSING.value


def _sessions_cte(participants: QuerySet[Participant]) -> tuple[str, list]:
    """Each session of the participants with its site-local day (only when booked or done).

    MATERIALIZED: the sums below read it once, not once each; kept narrow (no text columns).
    """
    inner, params = participants.order_by().values("pk").query.sql_with_params()
    sql = f"""
        WITH s AS MATERIALIZED (
            SELECT ss.id, ss.participant_id, ss.definition_id, d.phase, ss.status, ss.window_opens, ss.window_closes,
                   ((CASE WHEN ss.status = %s THEN COALESCE(ss.actual_start, ss.scheduled_start)
                          WHEN ss.status = %s THEN ss.scheduled_start END)
                     AT TIME ZONE site.time_zone)::date AS day
            FROM {StudySession._meta.db_table} ss
            JOIN {Participant._meta.db_table} p ON p.id = ss.participant_id
            JOIN {Site._meta.db_table} site ON site.id = p.site_id
            JOIN {SessionDefinition._meta.db_table} d ON d.id = ss.definition_id
            WHERE ss.participant_id IN ({inner})
        )
    """  # noqa: S608 - table names from the models; every value is a parameter
    return sql, [COMPLETED, SCHEDULED, *params]


INSIDE = "(s.window_opens IS NULL OR s.window_closes IS NULL OR s.day BETWEEN s.window_opens AND s.window_closes)"
SUMS = f"""
    SELECT
      (SELECT json_agg(json_build_array(phase, planned, completed, in_window)) FROM (
          SELECT phase,
                 count(*) FILTER (WHERE status <> %s) AS planned,
                 count(*) FILTER (WHERE status = %s AND day IS NOT NULL) AS completed,
                 count(*) FILTER (WHERE status = %s AND day IS NOT NULL AND {INSIDE}) AS in_window
          FROM s GROUP BY phase) sums),
      (SELECT count(DISTINCT participant_id) FROM s),
      (SELECT array_agg(gap) FROM (
          SELECT day - lag(day) OVER (PARTITION BY participant_id ORDER BY day) AS gap
          FROM s WHERE status = %s AND phase = %s AND day IS NOT NULL) gaps
       WHERE gap IS NOT NULL),
      (SELECT json_agg(json_build_array(
                s.id, s.participant_id, p.study_code, site.code, d.code, s.status, s.day, s.window_opens,
                s.window_closes))
       FROM s
       JOIN {Participant._meta.db_table} p ON p.id = s.participant_id
       JOIN {Site._meta.db_table} site ON site.id = p.site_id
       JOIN {SessionDefinition._meta.db_table} d ON d.id = s.definition_id
       WHERE s.day IS NOT NULL AND NOT {INSIDE})
"""  # noqa: S608 - table names from the models; every value is a parameter


def figures(participants: QuerySet[Participant]) -> dict:
    """planned/completed by phase, sessions that took place, in window, participants, gaps, outside rows.

    One statement: the sums, the gaps between dosing sessions and the out-of-window rows.
    """
    cte, params = _sessions_cte(participants)
    with connection.cursor() as cursor:
        cursor.execute(cte + SUMS, [*params, CANCELLED, COMPLETED, COMPLETED, COMPLETED, DOSING])
        sums, people, gaps, outside = cursor.fetchone()
    planned, completed = {}, {}
    took_place = in_window = 0
    for phase, n_planned, n_completed, n_in_window in sums or []:
        planned[phase], completed[phase] = n_planned, n_completed
        took_place += n_completed
        in_window += n_in_window
    day = date.fromisoformat
    return {
        "planned": planned,
        "completed": completed,
        "took_place": took_place,
        "in_window": in_window,
        "people": people,
        "gaps": list(gaps or []),
        "outside": [
            (pk, pid, code, site_code, def_code, status, day(on), day(opens), day(closes))
            for pk, pid, code, site_code, def_code, status, on, opens, closes in outside or []
        ],
    }


def adherence(participants: QuerySet[Participant], documented: set[int]) -> Adherence:
    """monitor.adherence(), the figures summed by the database."""
    found = figures(participants)
    outside = [
        OutOfWindow(
            participant_id=pid,
            session_id=pk,
            study_code=code,
            site_code=site_code,
            code=def_code,
            status=status,
            day=day,
            opens=opens,
            closes=closes,
            has_deviation=pk in documented,
        )
        for pk, pid, code, site_code, def_code, status, day, opens, closes in found["outside"]
    ]
    return Adherence(
        participants=found["people"],
        took_place=found["took_place"],
        in_window=found["in_window"],
        dosing_gaps=found["gaps"],
        phases=[
            PhaseCompletion(
                phase=p, label=PHASE_LABELS[p], completed=found["completed"].get(p, 0), planned=found["planned"][p]
            )
            for p in PHASES
            if found["planned"].get(p)
        ],
        open_deviations=Deviation.objects.filter(participant__in=participants, status=Deviation.Status.OPEN).count(),
        out_of_window=sorted(outside, key=lambda o: (o.day, o.study_code)),
    )
