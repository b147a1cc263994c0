"""seed_demo: the demo logins, two sites, both protocols and ~40 participants at every stage —
all written through the services (so the audit trail shows them) and idempotent.

Seeding takes a few seconds, so one test seeds twice and checks everything in between.
"""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, F
from django.utils import timezone

from sessions.models import Assignment, Deviation, Membership, Participant, Room, Site, StudySession
from trialtracker.demo import DEMO_PASSWORD

CLINICAL = [Participant, StudySession, Assignment, Deviation]


def _counts():
    return (
        get_user_model().objects.count(),
        Site.objects.count(),
        Room.objects.count(),
        Membership.objects.count(),
        *(model.objects.count() for model in CLINICAL),
        *(model.history.count() for model in CLINICAL),
    )


def check_logins_and_sites():
    users = get_user_model().objects
    for username in ("coordinator", "therapist", "monitor", "admin"):
        assert users.get(username=username).check_password(DEMO_PASSWORD)
    assert users.get(username="admin").is_superuser
    assert len(set(Site.objects.values_list("time_zone", flat=True))) == 2
    assert Membership.objects.filter(user__username="coordinator", role="coordinator").count() == 2


def check_participants_at_every_stage():
    participants = Participant.objects.all()
    assert participants.count() == 40
    assert set(participants.values_list("site__code", flat=True)) == {"S01", "S02"}
    assert set(participants.values_list("protocol__code", flat=True)) == {"TT-333", "TT-339"}
    by_status = dict(participants.values_list("status").annotate(n=Count("id")))
    assert by_status.keys() == {"enrolled", "in_treatment", "completed", "withdrawn"}
    assert by_status["in_treatment"] >= 15 and by_status["completed"] >= 4 and by_status["withdrawn"] >= 2

    # Just enrolled, mid-preparation, between dosing sessions.
    assert participants.filter(status="enrolled", sessions__status="scheduled").count() == 0
    prep3_done = StudySession.objects.filter(definition__code="PREP3", status="completed").values("participant_id")
    mid_preparation = participants.filter(sessions__definition__code="PREP1", sessions__status="completed").exclude(
        pk__in=prep3_done
    )
    assert mid_preparation.exists()
    between_dosing = participants.filter(sessions__definition__code="DOSE1", sessions__status="completed").filter(
        sessions__definition__code="DOSE2", sessions__status="scheduled"
    )
    assert between_dosing.exists()

    sessions = StudySession.objects.all()
    now = timezone.now()
    assert sessions.filter(status="missed").exists()
    assert sessions.filter(outcome="stopped_early").exists()
    assert not sessions.filter(status="completed", scheduled_start__gt=now).exists()  # the past is in the past
    assert not sessions.filter(status="completed", actual_start__gt=now).exists()
    assert sessions.filter(status="scheduled", scheduled_start__gt=now).count() >= 15
    assert sessions.filter(status="scheduled", scheduled_start__lt=now).exists()  # booked, awaiting its log
    logged = sessions.exclude(outcome="")
    assert logged.filter(signed_at__isnull=False).exists() and logged.filter(signed_at__isnull=True).exists()
    assert sessions.filter(status="cancelled", participant__status="withdrawn").exists()

    # Dosing: a therapist pair and an overnight room hold.
    dosing = sessions.filter(definition__phase="dosing", status__in=["scheduled", "completed"])
    assert dosing.exists()
    for session in dosing:
        assert session.assignments.filter(is_active=True).count() == 2
        assert session.room_busy_until > session.scheduled_end
        assert "Overnight" in session.room.name

    deviations = Deviation.objects.all()
    assert deviations.filter(category="out_of_window", status="open", session__isnull=False).exists()
    assert deviations.filter(status="closed").exists()
    assert deviations.filter(category="missed").exists()
    # An out-of-window deviation is for a session actually outside its window.
    for deviation in deviations.filter(category="out_of_window").select_related("session__participant__site"):
        session = deviation.session
        day = session.scheduled_start.astimezone(session.participant.site.zone).date()
        assert not session.window_opens <= day <= session.window_closes

    # Written through the services: every history row has a user and a reason.
    for model in CLINICAL:
        assert not model.history.filter(history_user__isnull=True).exists()
        assert not model.history.filter(history_change_reason__isnull=True).exists()
        assert not model.history.filter(history_change_reason="").exists()

    # No double booking anywhere in the demo (checked here for SQLite, which has no exclusion constraint).
    active = list(Assignment.objects.filter(is_active=True).values_list("therapist_id", "starts_at", "ends_at"))
    for index, (therapist, start, end) in enumerate(active):
        for other, other_start, other_end in active[index + 1 :]:
            assert not (therapist == other and start < other_end and other_start < end)
    booked = list(
        sessions.filter(status__in=["scheduled", "completed"], room__isnull=False).values_list(
            "room_id", "scheduled_start", "room_busy_until"
        )
    )
    for index, (room, start, end) in enumerate(booked):
        for other, other_start, other_end in booked[index + 1 :]:
            assert not (room == other and start < other_end and other_start < end)
    assert not sessions.filter(scheduled_end__lte=F("scheduled_start")).exists()


@pytest.mark.django_db
def test_seed_demo_covers_every_stage_and_runs_twice_without_duplicates():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "Added 40 demo participants" in out.getvalue()
    check_logins_and_sites()
    check_participants_at_every_stage()
    first = _counts()
    call_command("seed_demo", stdout=StringIO())
    assert _counts() == first
