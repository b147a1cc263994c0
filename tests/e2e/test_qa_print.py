"""The participant page prints as a one-page schedule (a real PDF from Chromium, not just print CSS)."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.test_review_journey import review_state  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_participant_page_prints_on_one_page(page, live_server, sign_in, coordinator, review_state, tmp_path):  # noqa: F811
    participant = review_state["dose_soon"]
    sign_in(coordinator.username, PASSWORD)
    page.goto(f"{live_server.url}/participants/{participant.pk}/")
    expect(page.get_by_role("heading", name=participant.study_code)).to_be_visible()
    pdf = page.pdf(prefer_css_page_size=True)
    pages = int(re.search(rb"/Count (\d+)", pdf).group(1))
    assert pages == 1, f"the printed schedule takes {pages} pages"
