"""Audit trail: every service write leaves history rows with the acting user and a reason, the admin
shows clinical records and their history read-only, and nothing deletes a clinical record."""

import inspect
from datetime import timedelta

import pytest
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone

from sessions import services
from sessions.models import Assignment, Deviation, Participant, StudySession
from tests.conftest import PASSWORD
from tests.sessions.factories import book, enrolled_participant, session_of

pytestmark = pytest.mark.django_db

CLINICAL = [Participant, StudySession, Assignment, Deviation]


@pytest.fixture
def everything(site, coordinator, therapist, co_therapist):
    """Every service, once, as the users who would call it."""
    participant = enrolled_participant(
        site, code="S01-0001", by=coordinator, enrollment_date=timezone.localdate() - timedelta(days=30)
    )
    prep1 = book(session_of(participant, "PREP1"), therapists=[therapist], by=coordinator).session
    prep1 = book(
        prep1,
        therapists=[therapist],
        by=coordinator,
        start=prep1.scheduled_start + timedelta(days=1),
        reason="Room repainted",
    ).session
    logged = services.log_session(
        session=prep1,
        outcome="completed",
        actual_start=prep1.scheduled_start,
        actual_end=prep1.scheduled_end,
        attended_by=[therapist],
        notes="",
        by=therapist,
    )
    signed = services.sign_session(session=logged, by=therapist, password=PASSWORD)
    services.log_session(
        session=signed,
        outcome="stopped_early",
        actual_start=prep1.scheduled_start,
        actual_end=prep1.scheduled_start + timedelta(minutes=30),
        attended_by=[therapist],
        notes="",
        by=therapist,
        reason="Typo in outcome",
    )
    prep2 = session_of(participant, "PREP2")
    late = book(
        prep2,
        therapists=[therapist],
        by=coordinator,
        start=prep2.scheduled_start or (prep1.scheduled_start + timedelta(days=30)),
        deviation_reason="Participant travelling",
    )
    services.cancel_session(session=late.session, by=coordinator, reason="Participant unwell")
    deviation = services.record_deviation(participant=participant, category="other", description="x", by=coordinator)
    services.close_deviation(deviation=deviation, resolution="Discussed with PI", by=coordinator)
    services.void_deviation(deviation=late.deviation, reason="Raised in error", by=coordinator)
    book(session_of(participant, "DOSE1"), therapists=[therapist, co_therapist], by=coordinator)
    services.withdraw_participant(
        participant=participant, withdrawn_on=timezone.localdate(), reason="Moved away", by=coordinator
    )
    return participant


def test_every_history_row_names_the_user_and_a_reason(everything, coordinator, therapist):
    for model in CLINICAL:
        rows = list(model.history.all())
        assert rows, f"{model.__name__} has no history"
        for row in rows:
            assert row.history_user in (coordinator, therapist), f"{model.__name__} row {row.pk} has no user"
            assert row.history_change_reason, f"{model.__name__} row {row.pk} has no reason"


def test_reasons_given_are_the_reasons_recorded(everything):
    reasons = set(StudySession.history.values_list("history_change_reason", flat=True))
    assert "Room repainted" in reasons
    assert "Cancelled: Participant unwell" in reasons
    assert any("Typo in outcome" in r and "signature removed" in r for r in reasons)
    assert "Signed: I confirm this record is accurate" in reasons
    assert any(r.startswith("Window re-projected after PREP1") for r in reasons)
    assert "Withdrawn: Moved away" in set(Participant.history.values_list("history_change_reason", flat=True))
    deviation_reasons = set(Deviation.history.values_list("history_change_reason", flat=True))
    assert {"Deviation reported", "Closed: Discussed with PI", "Voided: Raised in error"} <= deviation_reasons


def test_history_keeps_old_and_new_values_of_a_correction(everything):
    prep1 = session_of(everything, "PREP1")
    outcomes = [row.outcome for row in prep1.history.order_by("history_date", "history_id")]
    assert "completed" in outcomes and outcomes[-1] == "stopped_early"
    signed_rows = [row for row in prep1.history.all() if row.signed_at is not None]
    assert signed_rows, "the signature is kept in the history after the correction removed it"


def test_no_path_deletes_a_clinical_record(everything):
    for model in CLINICAL:
        assert not model.history.filter(history_type="-").exists()
    assert StudySession.objects.filter(participant=everything).count() == 9
    source = inspect.getsource(services)
    assert ".delete(" not in source


def test_the_database_refuses_to_delete_a_participant_with_sessions(everything):
    with pytest.raises(ProtectedError):
        everything.delete()


@pytest.mark.parametrize("model", CLINICAL, ids=lambda m: m.__name__)
def test_admin_shows_clinical_records_read_only(client, admin_user, everything, model):
    client.force_login(admin_user)
    obj = model.objects.first()
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    assert client.get(reverse(f"{name}_changelist")).status_code == 200
    change = client.get(reverse(f"{name}_change", args=[obj.pk]))
    assert change.status_code == 200 and b'name="_save"' not in change.content
    assert client.post(reverse(f"{name}_change", args=[obj.pk]), {}).status_code == 403
    assert client.get(reverse(f"{name}_add")).status_code == 403
    assert client.get(reverse(f"{name}_delete", args=[obj.pk])).status_code == 403
    assert client.post(reverse(f"{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    assert b"delete_selected" not in client.get(reverse(f"{name}_changelist")).content
    assert client.get(reverse(f"{name}_history", args=[obj.pk])).status_code == 200
    version = obj.history.earliest()
    history_form = reverse(f"{name}_simple_history", args=[obj.pk, version.history_id])
    assert client.get(history_form).status_code == 200
    before = model.history.count()
    assert client.post(history_form, {}).status_code == 403
    assert model.history.count() == before
    assert model.objects.filter(pk=obj.pk).exists()


def test_admin_registers_no_history_model_for_editing(admin_user):
    from django.contrib import admin

    for model in CLINICAL:
        assert model.history.model not in admin.site._registry
