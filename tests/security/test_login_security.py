"""Sign-in defences: lockout per account and per address, idle timeout, logout by POST, passwords."""

import time

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import RequestFactory

from tests.conftest import PASSWORD
from trialtracker.middleware import LAST_SEEN_KEY
from trialtracker.security import client_ip

LOGIN = "/accounts/login/"


def _fail(client, username, address, **extra):
    return client.post(LOGIN, {"username": username, "password": "not-the-password"}, REMOTE_ADDR=address, **extra)


def _sign_in(client, username, address, **extra):
    return client.post(LOGIN, {"username": username, "password": PASSWORD}, REMOTE_ADDR=address, **extra)


def _is_locked(response):
    return response.status_code == 429 and "Sign-in temporarily locked" in response.content.decode()


@pytest.mark.django_db
def test_account_locks_after_repeated_failures_from_many_addresses(client, coordinator, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _fail(client, "alice", f"10.0.1.{attempt}").status_code == 200
    assert _is_locked(_fail(client, "alice", "10.0.1.99"))
    # Even the right password from a fresh address is refused while the account is locked.
    assert _is_locked(_sign_in(client, "alice", "10.0.2.1"))


@pytest.mark.django_db
def test_address_locks_after_failures_across_many_accounts(client, coordinator, therapist, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _fail(client, f"guess{attempt}", "10.0.3.3").status_code == 200
    assert _is_locked(_fail(client, "guess-last", "10.0.3.3"))
    # A real user at the locked address is refused; the same user elsewhere is not.
    assert _is_locked(_sign_in(client, "bob", "10.0.3.3"))
    assert _sign_in(client, "bob", "10.0.3.4").status_code == 302


@pytest.mark.django_db
def test_success_before_the_limit_resets_the_count(client, coordinator, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _fail(client, "alice", "10.0.4.1")
    assert _sign_in(client, "alice", "10.0.4.1").status_code == 302
    client.logout()
    assert _fail(client, "alice", "10.0.4.1").status_code == 200


@pytest.mark.django_db
def test_admin_unlocks_an_account_with_axes_reset_username(client, coordinator, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        _fail(client, "alice", f"10.0.5.{attempt}")
    assert _is_locked(_sign_in(client, "alice", "10.0.5.50"))
    call_command("axes_reset_username", "alice")
    assert _sign_in(client, "alice", "10.0.5.50").status_code == 302


@pytest.mark.django_db
def test_admin_sees_and_can_delete_lockouts_in_the_admin(client, coordinator, admin_user, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        _fail(client, "alice", f"10.0.6.{attempt}")
    client.force_login(admin_user)
    assert "alice" in client.get("/admin/axes/accessattempt/").content.decode()
    ids = [str(pk) for pk in AccessAttempt.objects.filter(username="alice").values_list("pk", flat=True)]
    response = client.post(
        "/admin/axes/accessattempt/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="alice").exists()


@pytest.mark.django_db
def test_behind_proxies_lockout_counts_the_client_not_the_balancer(client, coordinator, therapist, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    balancer = "10.9.9.9"
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        _fail(client, f"guess{attempt}", balancer, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert _is_locked(_sign_in(client, "bob", balancer, HTTP_X_FORWARDED_FOR="203.0.113.7"))
    # Another client behind the same balancer is not locked out by the first one's failures.
    assert _sign_in(client, "bob", balancer, HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 302


@pytest.mark.parametrize(
    ("count", "remote", "forwarded", "expected"),
    [
        (0, "10.0.0.1", "1.2.3.4", "10.0.0.1"),  # no proxies configured: the header is ignored
        (1, "10.0.0.1", "1.2.3.4", "1.2.3.4"),
        (1, "10.0.0.1", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # a forged left-most entry is ignored
        (2, "10.0.0.1", "6.6.6.6, 1.2.3.4, 172.16.0.1", "1.2.3.4"),
        (2, "10.0.0.1", "1.2.3.4", "10.0.0.1"),  # did not pass through every proxy
        (1, "10.0.0.1", "", "10.0.0.1"),
    ],
)
def test_client_ip_trusts_only_the_entries_our_proxies_wrote(settings, count, remote, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = count
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("weak", ["short", "password1234", "123456789012"])
def test_weak_passwords_are_refused(coordinator, weak):
    with pytest.raises(ValidationError):
        validate_password(weak, user=coordinator)


@pytest.mark.django_db
def test_password_change_refuses_a_weak_password(client, coordinator):
    client.force_login(coordinator)
    response = client.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": "password", "new_password2": "password"},
    )
    assert response.status_code == 200
    coordinator.refresh_from_db()
    assert coordinator.check_password(PASSWORD)


@pytest.mark.django_db
def test_idle_session_ends_with_signed_out_for_inactivity_message(client, coordinator, settings):
    client.force_login(coordinator)
    assert client.get("/").status_code == 200
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - settings.IDLE_TIMEOUT_SECONDS - 1
    session.save()
    response = client.get("/protocols/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN) and "idle=1" in response["Location"]
    assert "signed out after a period of inactivity" in client.get(response["Location"]).content.decode()
    # The session really ended: the next request is anonymous.
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_activity_within_the_timeout_keeps_the_session(client, coordinator, settings):
    client.force_login(coordinator)
    client.get("/")
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - settings.IDLE_TIMEOUT_SECONDS + 60
    session.save()
    assert client.get("/").status_code == 200


def test_session_cookie_outlives_the_idle_timeout_so_the_message_can_be_shown(settings):
    # If the cookie expired with the timeout, the browser would drop it and the user would see a bare login page.
    assert settings.SESSION_COOKIE_AGE > settings.IDLE_TIMEOUT_SECONDS
    assert settings.SESSION_SAVE_EVERY_REQUEST


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_logout_refuses_everything_but_post(client, coordinator, method):
    client.force_login(coordinator)
    assert getattr(client, method)("/accounts/logout/").status_code == 405
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_logout_needs_the_csrf_token(coordinator):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(coordinator)
    assert strict.post("/accounts/logout/").status_code == 403
    assert strict.get("/").status_code == 200


@pytest.mark.django_db
def test_runaway_username_or_user_agent_is_refused_not_a_500(client, coordinator):
    response = client.post(
        LOGIN,
        {"username": "x" * 5000, "password": "p"},
        REMOTE_ADDR="10.0.8.1",
        HTTP_USER_AGENT="agent" * 1000,
    )
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()
    response = client.post(LOGIN, {"username": "alice", "password": "p"}, HTTP_USER_AGENT="agent" * 1000)
    assert response.status_code == 200
