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
from sessions.models import Deviation, Participant, StudySession
from sessions.review.monitor import PHASE_LABELS, PHASES, Adherence, OutOfWindow, PhaseCompletion

COMPLETED = StudySession.Status.COMPLETED.value
SCHEDULED = StudySession.Status.SCHEDULED.value
CANCELLED = StudySession.Status.CANCELLED.value
DOSING = SessionDefinition.Phase.DOSING.value


# One pass over the sessions: the sums by phase, the days of completed dosing sessions (gaps
# are taken between each participant's consecutive days in Python) and the out-of-window rows.
# An earlier form materialised every session in a CTE and read it four times, and grouping by
# phase sorted all 90,000 sessions on disk: each cost as much as this whole pass (bench/run.py).
# OFFSET 0 keeps the subquery from being flattened, so each row's local day is computed once.
INSIDE = "(s.window_opens IS NULL OR s.window_closes IS NULL OR s.day BETWEEN s.window_opens AND s.window_closes)"
DOSING_DONE = "(s.status = %s AND s.phase = %s AND s.day IS NOT NULL)"
PHASE_SUMS = f"""
           count(*) FILTER (WHERE s.phase = %s AND s.status <> %s),
           count(*) FILTER (WHERE s.phase = %s AND s.status = %s AND s.day IS NOT NULL),
           count(*) FILTER (WHERE s.phase = %s AND s.status = %s AND s.day IS NOT NULL AND {INSIDE}),"""
PASS = f"""
    SELECT {PHASE_SUMS * len(PHASES)}
           array_agg(s.participant_id ORDER BY s.participant_id, s.day) FILTER (WHERE {DOSING_DONE}),
           array_agg(s.day ORDER BY s.participant_id, s.day) FILTER (WHERE {DOSING_DONE}),
           json_agg(json_build_array(
               s.id, s.participant_id, s.study_code, s.site_code, s.code, s.status, s.day, s.window_opens,
               s.window_closes)) FILTER (WHERE s.day IS NOT NULL AND NOT {INSIDE}),
           count(DISTINCT s.participant_id)
    FROM (
        SELECT ss.id, ss.participant_id, p.study_code, p.site_code, d.code, d.phase, ss.status,
               ss.window_opens, ss.window_closes,
               ((CASE WHEN ss.status = %s THEN COALESCE(ss.actual_start, ss.scheduled_start)
                      WHEN ss.status = %s THEN ss.scheduled_start END)
                 AT TIME ZONE p.zone)::date AS day
        FROM {StudySession._meta.db_table} ss
        JOIN ({{participants}}) p (id, study_code, zone, site_code) ON p.id = ss.participant_id
        JOIN {SessionDefinition._meta.db_table} d ON d.id = ss.definition_id
        OFFSET 0
    ) s
"""  # noqa: S608 - table names from the models; every value is a parameter


def figures(participants: QuerySet[Participant]) -> dict:
    """planned/completed by phase, sessions that took place, in window, participants, gaps, outside rows.

    One statement, one pass over the chosen participants' sessions.
    """
    inner, inner_params = (
        participants.order_by().values_list("pk", "study_code", "site__time_zone", "site__code").query.sql_with_params()
    )
    sql = PASS.replace("{participants}", inner)
    dosing_done = [COMPLETED, DOSING]
    params = [
        *[value for phase in PHASES for value in (phase, CANCELLED, phase, COMPLETED, phase, COMPLETED)],
        *dosing_done,
        *dosing_done,
        *[COMPLETED, SCHEDULED, *inner_params],  # the sessions and their local days
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    sums, (who, days, out, people) = row[: 3 * len(PHASES)], row[3 * len(PHASES) :]
    planned, completed = {}, {}
    took_place = in_window = 0
    for index, phase in enumerate(PHASES):
        n_planned, n_completed, n_in_window = sums[3 * index : 3 * index + 3]
        if n_planned or n_completed:
            planned[phase], completed[phase] = n_planned, n_completed
        took_place += n_completed
        in_window += n_in_window
    gaps: list[int] = []
    previous = None
    for pid, on in zip(who or [], days or [], strict=True):
        if previous is not None and previous[0] == pid:
            gaps.append((on - previous[1]).days)
        previous = (pid, on)
    day = date.fromisoformat
    return {
        "planned": planned,
        "completed": completed,
        "took_place": took_place,
        "in_window": in_window,
        "people": people,
        "gaps": gaps,
        "outside": [
            (pk, pid, code, site_code, def_code, status, day(on), day(opens), day(closes))
            for pk, pid, code, site_code, def_code, status, on, opens, closes in out or []
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
