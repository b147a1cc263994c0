"""A person signs in, sees their home page, and signs out — in a real browser."""

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import PHONE

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_coordinator_signs_in_and_out(page, live_server, sign_in, screenshot, coordinator, site):
    page.goto(live_server.url + "/")
    assert "/accounts/login/" in page.url
    screenshot("login")
    sign_in("alice", PASSWORD)
    assert page.get_by_role("heading", name="Welcome, Alice Tester").is_visible()
    assert page.get_by_text(site.name).is_visible()
    screenshot("home-coordinator")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")


def test_wrong_password_is_explained(page, live_server, sign_in, coordinator):
    sign_in("alice", "not-the-password")
    assert page.get_by_role("alert").inner_text().startswith("Please enter a correct username and password")


def test_pages_load_no_blocked_assets_under_csp(page, live_server, sign_in, coordinator):
    failures = []
    page.on("console", lambda msg: failures.append(msg.text) if msg.type == "error" else None)
    page.on("requestfailed", lambda request: failures.append(request.url))
    sign_in("alice", PASSWORD)
    page.goto(live_server.url + "/")
    assert failures == []
    # Bootstrap's JS is loaded and works: the phone-width menu opens.
    page.set_viewport_size(PHONE)
    page.get_by_role("button", name="Toggle navigation").click()
    assert page.get_by_role("link", name="Home").is_visible()
