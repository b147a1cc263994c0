"""A coordinator opens the default protocol and sees its plan, on a laptop and on a phone."""

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import LAPTOP, PHONE

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def default_protocol(db):
    from protocols.library import load_demo_protocols

    return load_demo_protocols()["TT-333"]


def test_coordinator_sees_the_default_plan_as_table_and_picture(
    page, live_server, sign_in, screenshot, coordinator, default_protocol
):
    failures = []
    page.on("console", lambda msg: failures.append(msg.text) if msg.type == "error" else None)
    sign_in("alice", PASSWORD)
    page.get_by_role("link", name="Protocols").click()
    page.get_by_role("link", name="v1.0").first.click()
    assert page.get_by_role("heading", name="TT-333 v1.0").is_visible()
    summary = page.locator("p.lead").get_by_text(
        "9 sessions (3 preparation, 3 dosing, 3 integration) over about 18 weeks"
    )
    assert summary.is_visible()
    picture = page.get_by_role("img", name="TT-333 v1.0: planned sessions by week from enrollment")
    assert picture.count() == 1  # one drawing per screen size; only the one shown is announced
    wide = page.locator("#plan-wide")
    assert wide.is_visible() and not page.locator("#plan-narrow").is_visible()
    assert wide.bounding_box()["width"] > 1000
    assert page.locator("table.tt-plan-table tbody tr").count() == 9
    screenshot("protocol-default-laptop")

    page.set_viewport_size(PHONE)
    narrow = page.locator("#plan-narrow")
    assert narrow.is_visible() and not wide.is_visible()
    box = narrow.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]  # no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator(".tt-plan-list li").count() == 9
    screenshot("protocol-default-phone")
    page.set_viewport_size(LAPTOP)
    assert failures == []
