"""Changing or removing a staff role in the admin names the future bookings it leaves behind."""

import pytest
from django.urls import reverse

from sessions.models import Membership
from tests.sessions.factories import book, enrolled_participant, session_of, target_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def booked(site, coordinator, therapist, co_therapist):
    """PREP1 booked in the future with Bob; PREP2 booked with Bea only."""
    participant = enrolled_participant(site, code="S01-0007", by=coordinator)
    prep1 = session_of(participant, "PREP1")
    book(prep1, therapists=[therapist], by=coordinator, start=target_start(prep1, hour=9, offset_days=1))
    prep2 = session_of(participant, "PREP2")
    book(prep2, therapists=[co_therapist], by=coordinator)
    return session_of(participant, "PREP1")


def _change_url(membership):
    return reverse("admin:trial_sessions_membership_change", args=[membership.pk])


def _delete_url(membership):
    return reverse("admin:trial_sessions_membership_delete", args=[membership.pk])


def test_delete_confirmation_lists_the_future_bookings_with_links(client, admin_user, therapist, booked):
    membership = Membership.objects.get(user=therapist, role="staff")
    client.force_login(admin_user)
    page = client.get(_delete_url(membership)).content.decode()
    assert "is booked on 1 future session at S01" in page
    assert reverse("sessions:session_detail", args=[booked.pk]) in page
    local = booked.scheduled_start.astimezone(booked.participant.site.zone)
    assert f"S01-0007 · PREP1 · {local:%a} {local.day} {local:%b %Y}, {local:%H:%M}" in page
    assert "PREP2" not in page  # booked with someone else
    # Not blocked: with a reason the role goes, and the warning is repeated on the next page.
    response = client.post(_delete_url(membership), {"post": "yes", "reason": "Left the site"}, follow=True)
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert "is no longer staff at S01" in response.content.decode()
    assert reverse("sessions:session_detail", args=[booked.pk]) in response.content.decode()


def test_delete_confirmation_of_someone_without_future_bookings_has_no_warning(client, admin_user, therapist):
    membership = Membership.objects.get(user=therapist, role="staff")
    client.force_login(admin_user)
    assert "future session" not in client.get(_delete_url(membership)).content.decode()


def test_changing_away_from_staff_warns_and_still_saves(client, admin_user, therapist, site, booked):
    membership = Membership.objects.get(user=therapist, role="staff")
    client.force_login(admin_user)
    data = {"user": therapist.pk, "site": site.pk, "role": "coordinator", "reason": "Now coordinates"}
    response = client.post(_change_url(membership), data, follow=True)
    page = response.content.decode()
    membership.refresh_from_db()
    assert membership.role == "coordinator"
    assert "is no longer staff at S01 but is still booked on 1 future session(s)" in page
    assert f'<a href="{reverse("sessions:session_detail", args=[booked.pk])}">S01-0007 · PREP1 · ' in page


def test_a_change_that_keeps_the_staff_role_does_not_warn(client, admin_user, therapist, site, booked):
    membership = Membership.objects.get(user=therapist, role="staff")
    client.force_login(admin_user)
    data = {"user": therapist.pk, "site": site.pk, "role": "staff", "reason": "Re-saved"}
    response = client.post(_change_url(membership), data, follow=True)
    assert "no longer staff" not in response.content.decode()


def test_a_change_without_a_reason_is_still_refused(client, admin_user, therapist, site, booked):
    membership = Membership.objects.get(user=therapist, role="staff")
    client.force_login(admin_user)
    data = {"user": therapist.pk, "site": site.pk, "role": "coordinator", "reason": " "}
    assert client.post(_change_url(membership), data).status_code == 200
    membership.refresh_from_db()
    assert membership.role == "staff"
