"""Security pages in a real browser: the account change log, the role removal page, the lockout page."""

import pytest

from sessions.models import Membership
from tests.conftest import PASSWORD
from tests.e2e.conftest import PHONE

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(site, other_site, coordinator, therapist, co_therapist, monitor, outsider, admin_user):
    from tests.security.world import build_world

    return build_world(
        site=site,
        other_site=other_site,
        coordinator=coordinator,
        therapist=therapist,
        co_therapist=co_therapist,
        monitor=monitor,
        outsider=outsider,
        admin_user=admin_user,
    )


def _csp_errors(page):
    """Console messages of content the Content-Security-Policy blocked."""
    errors = []
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and ("Content Security Policy" in msg.text or "Refused to" in msg.text)
            else None
        ),
    )
    return errors


def test_admin_removes_a_role_with_a_reason_and_reads_the_log(
    page, live_server, sign_in, screenshot, admin_user, therapist, monitor
):
    errors = _csp_errors(page)
    sign_in("root", PASSWORD)
    membership = Membership.objects.get(user=therapist)
    page.goto(f"{live_server.url}/admin/trial_sessions/membership/{membership.pk}/delete/")
    page.get_by_role("button", name="Remove role").click()
    # The browser itself refuses an empty reason (required); the server refuses it too (tests/security).
    assert Membership.objects.filter(pk=membership.pk).exists()
    page.get_by_label("Reason for removing this role").fill("Left the site on 2026-11-20 (delegation log 14)")
    screenshot("admin-remove-role")
    page.get_by_role("button", name="Remove role").click()
    page.wait_for_load_state("networkidle")
    assert not Membership.objects.filter(pk=membership.pk).exists()

    page.goto(live_server.url + "/audit/accounts/")
    assert page.get_by_role("heading", name="Account and role changes").is_visible()
    assert page.get_by_text("Left the site on 2026-11-20 (delegation log 14)").is_visible()
    screenshot("account-change-log")
    page.set_viewport_size(PHONE)
    screenshot("account-change-log-phone")
    assert errors == []


def test_locked_out_page_is_plain_and_helpful(page, live_server, screenshot, coordinator, settings):
    errors = _csp_errors(page)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.goto(live_server.url + "/accounts/login/")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("wrong-password")
        page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("heading", name="Sign-in temporarily locked").is_visible()
    screenshot("locked-out")
    assert errors == []


@pytest.mark.parametrize("role", ["coordinator", "staff", "monitor"])
def test_no_page_breaks_the_content_security_policy(page, live_server, sign_in, world, role):
    """Every GET page the role may open, in Chromium: nothing the CSP blocks (inline script, style=)."""
    from django.urls import reverse

    from tests.security.access_table import ACCESS
    from tests.urlwalk import PUBLIC_URL_NAMES, all_urls

    errors = _csp_errors(page)
    sign_in(world.users[role].username, PASSWORD)
    visited = []
    for walked in all_urls():
        rule = ACCESS.get(walked.name)
        if walked.name in PUBLIC_URL_NAMES or rule is None or "GET" not in rule.methods or role not in rule.roles:
            continue
        if walked.name.startswith("review:export") or walked.name.endswith("_csv"):
            continue  # downloads, not pages
        kwargs = {rule.kwarg: getattr(world, rule.target).pk} if rule.target else {}
        page.goto(live_server.url + reverse(walked.name, kwargs=kwargs))
        page.wait_for_load_state("networkidle")
        visited.append(walked.name)
    assert len(visited) >= 5, visited
    assert errors == [], errors
