"""Journey 3: a monitor opens the swimlane review, finds the out-of-window session and exports the CSV.

Also screenshots the review pages (dashboards, calendar, timeline) at laptop and phone width.
"""

import pytest
from django.template.loader import render_to_string
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import LAPTOP, PHONE


def _go(page, target):
    """Click a link or submit button and wait for the next page: reading it earlier races on a busy machine."""
    with page.expect_navigation():
        target.click()


pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def review_state(site, other_site, coordinator, therapist, co_therapist, monitor):
    from sessions.models import Room
    from sessions.review.selectors import site_today
    from tests.review.factories import active_version, demo_like_state

    Room.objects.get_or_create(site=site, name="Therapy room 2")
    version = active_version("TT-333")
    return demo_like_state(
        site=site,
        other_site=other_site,
        version=version,
        coordinator=coordinator,
        therapists=[therapist, co_therapist],
        today=site_today(site),
    )


def _both_widths(page, screenshot, name):
    page.set_viewport_size(LAPTOP)
    screenshot(f"{name}-laptop")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1, name
    screenshot(f"{name}-phone")
    page.set_viewport_size(LAPTOP)


@pytest.fixture
def demo(db):
    from trialtracker.demo import DEMO_PASSWORD, seed_demo

    seed_demo()
    return DEMO_PASSWORD


def test_monitor_finds_the_out_of_window_session_and_exports_csv(
    page, live_server, sign_in, screenshot, demo, tmp_path
):
    from sessions.models import Deviation

    documented = {
        (d.participant.study_code, d.session.definition.code)
        for d in Deviation.objects.filter(category="out_of_window", session__isnull=False).select_related(
            "participant", "session__definition"
        )
    }
    assert documented, "the demo data has an out-of-window session"
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in("monitor", demo)
    _both_widths(page, screenshot, "review-monitor-home")
    _go(page, page.get_by_role("link", name="Review", exact=True).first)
    assert page.get_by_role("heading", name="Monitor review").is_visible()
    assert page.locator("#lanes-wide").is_visible()

    # Every out-of-window session is in one list at the top of the page, whatever the protocol page.
    found = set()
    for protocol in page.locator("#f-protocol option").all_inner_texts():
        page.get_by_label("Protocol", exact=True).select_option(label=protocol)
        _go(page, page.get_by_role("button", name="Apply"))
        for row in page.locator("#out-of-window tbody tr").all():
            cells = row.locator("th, td").all_inner_texts()
            found.add((cells[0].split()[0], cells[1].split()[0]))
    assert documented <= found
    study_code, session_code = sorted(documented)[0]
    protocol = Deviation.objects.filter(participant__study_code=study_code).first().participant.protocol
    page.get_by_label("Protocol", exact=True).select_option(label=protocol.code)
    _go(page, page.get_by_role("button", name="Apply"))
    row = page.locator("#out-of-window tbody tr").filter(has_text=study_code).filter(has_text=session_code)
    assert row.count() == 1 and ("late" in row.inner_text() or "early" in row.inner_text())
    _both_widths(page, screenshot, "review-monitor-swimlanes")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Sessions CSV").click()
    download = download_info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    text = path.read_text()
    assert text.startswith("site,study_code,protocol,")
    matching = [line for line in text.splitlines() if f",{study_code}," in line and f",{session_code}," in line]
    assert len(matching) == 1 and (",late," in matching[0] or ",early," in matching[0])

    participant_link = row.get_by_role("link", name=study_code)
    if participant_link.count():  # the participant page exists once the daily pages are in
        _go(page, participant_link)
        timeline = page.get_by_role("img", name=f"{study_code}: sessions against their protocol windows")
        # count() does not wait: let the participant page load first (CI machines are busy).
        expect(timeline).to_have_count(1)
        assert page.locator("#timeline-wide .tt-tl-out").count() >= 1
        _both_widths(page, screenshot, "review-participant-timeline")
        page.emulate_media(media="print")
        assert not page.locator("#sessions-heading").is_visible()  # the printout is the one-page schedule
        assert page.locator("table.tt-print-schedule").is_visible()
        screenshot("review-participant-print")
        page.emulate_media(media="screen")
        page.go_back()

    _go(page, page.get_by_role("link", name="Audit trail").first)
    page.get_by_label("Study code").fill(study_code)
    _go(page, page.get_by_role("button", name="Search"))
    assert page.locator("table tbody tr").count() > 0
    _both_widths(page, screenshot, "review-audit")
    assert errors == []


def test_coordinator_sees_the_demo_dashboard_and_calendar(page, live_server, sign_in, screenshot, demo):
    sign_in("coordinator", demo)
    assert page.get_by_role("heading", name="To schedule").is_visible()
    _both_widths(page, screenshot, "review-demo-coordinator-home")
    _go(page, page.get_by_role("link", name="Calendar").first)
    assert page.locator("table.tt-cal").is_visible()
    _both_widths(page, screenshot, "review-demo-site-calendar")


def test_coordinator_and_staff_pages_read_at_a_glance(page, live_server, sign_in, screenshot, review_state):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in("alice", PASSWORD)
    assert page.get_by_role("heading", name="Today").is_visible()
    assert page.get_by_role("heading", name="Overdue").is_visible()
    _both_widths(page, screenshot, "review-coordinator-home")
    _go(page, page.get_by_role("link", name="Calendar").first)
    assert page.locator("table.tt-cal").is_visible()
    _both_widths(page, screenshot, "review-site-calendar")
    _go(page, page.get_by_role("link", name="Next week →"))
    _both_widths(page, screenshot, "review-site-calendar-next")
    _go(page, page.get_by_role("link", name="Profile"))
    _go(page, page.get_by_role("button", name="Create my calendar URL"))
    assert "/review/feed/" in page.get_by_label("Your private calendar URL", exact=False).input_value()
    _both_widths(page, screenshot, "review-profile")

    page.context.clear_cookies()
    sign_in("bob", PASSWORD)
    assert page.get_by_role("heading", name="My sessions").is_visible()
    _both_widths(page, screenshot, "review-staff-home")
    assert errors == []


def test_timeline_picture(page, live_server, screenshot, review_state):
    """The timeline partial as the participant page includes it, on its own page."""
    from sessions.review.selectors import site_today
    from sessions.timeline import participant_timeline

    stylesheets = "".join(
        f'<link rel="stylesheet" href="{live_server.url}/static/{path}">'
        for path in ("vendor/bootstrap-5.3.9/css/bootstrap.min.css", "css/app.css")
    )
    for key in ("late", "dose_soon", "missed"):
        participant = review_state[key]
        sessions = list(participant.sessions.select_related("definition"))
        timeline = participant_timeline(participant, sessions, site_today(participant.site))
        html = render_to_string("review/_timeline.html", {"timeline": timeline}).replace(
            'href="/static/', f'href="{live_server.url}/static/'
        )
        page.set_content(
            f"<!doctype html><html><head><meta name=viewport content='width=device-width'>{stylesheets}</head>"
            f"<body class='app'><main class='container-xl py-4'>{html}</main></body></html>"
        )
        page.wait_for_load_state("networkidle")
        assert page.locator("#timeline-wide").is_visible()
        _both_widths(page, screenshot, f"review-timeline-{key}")
    page.emulate_media(media="print")
    screenshot("review-timeline-print")
    page.emulate_media(media="screen")
