"""The daily work in a real browser: a coordinator enrols and books, a therapist logs, signs and corrects.

Journey 1 (issue 7): enrol a participant, book PREP1 through DOSE1 with a therapist pair and
rooms, meet a clash message, book one session out of window with a reason.
Journey 2: a therapist logs and signs a session, then corrects it with a reason and the
signature is removed. Screenshots of the key pages at laptop and phone width.
"""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sessions import services
from sessions.models import Deviation, Participant, StudySession
from tests.conftest import PASSWORD
from tests.e2e.conftest import LAPTOP, PHONE

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def default_protocol(db):
    from protocols.library import load_demo_protocols

    return load_demo_protocols()["TT-333"]


def local_today(site):
    return timezone.now().astimezone(site.zone).date()


def session_of(participant, code):
    return StudySession.objects.select_related("definition").get(participant=participant, definition__code=code)


WIDER_THAN_SCREEN = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').trim().slice(0, 40))"""


def fits_phone(page):
    """Nothing sticks out sideways, not even inside a scrolling table."""
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] and not page.evaluate(
        WIDER_THAN_SCREEN
    )


def both_widths(page, screenshot, name):
    screenshot(f"{name}-laptop")
    page.set_viewport_size(PHONE)
    screenshot(f"{name}-phone")
    assert fits_phone(page), f"{name} scrolls sideways on a phone: {page.evaluate(WIDER_THAN_SCREEN)}"
    page.set_viewport_size(LAPTOP)


def fill_booking(page, *, day, at, room, therapists):
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("Start time").fill(at)
    page.get_by_label("Room").select_option(label=room)
    for box in page.locator("input[name=therapists]").all():
        box.uncheck()
    for name in therapists:
        page.get_by_label(name).check()


def test_coordinator_enrols_and_books_through_the_first_dosing_session(
    page, live_server, sign_in, screenshot, site, coordinator, therapist, co_therapist, default_protocol
):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    today = local_today(site)
    # Someone else's session already holds bob on the morning PREP1 will be aimed at.
    other = services.enroll_participant(
        site=site, protocol_version=default_protocol, study_code="S01-0900", enrollment_date=today, by=coordinator
    )
    busy = session_of(other, "PREP1")
    services.schedule_session(
        session=busy,
        start=datetime.combine(busy.target_date, time(9), tzinfo=site.zone),
        room=site.rooms.get(name="Therapy room 1"),
        therapists=[therapist],
        by=coordinator,
    )

    sign_in("alice", PASSWORD)
    page.get_by_role("link", name="Participants").click()
    page.get_by_role("link", name="Enrol a participant").click()
    page.get_by_label("Study code").fill("S01-0107")
    page.get_by_label("Protocol version").select_option(label=str(default_protocol))
    page.get_by_label("Enrollment date").fill(today.isoformat())
    both_widths(page, screenshot, "daily-enrol")
    page.get_by_role("button", name="Enrol").click()
    expect(page.get_by_role("heading", name="S01-0107")).to_be_visible()
    expect(page.get_by_text("S01-0107 is enrolled")).to_be_visible()
    participant = Participant.objects.get(study_code="S01-0107")

    # PREP1 at the busy morning: the clash is named, then a free afternoon works.
    prep1 = session_of(participant, "PREP1")
    page.get_by_role("link", name="Book PREP1").click()
    expect(page.get_by_role("heading", name="Free times in the window")).to_be_visible()
    fill_booking(page, day=prep1.target_date, at="09:00", room="Therapy room 1", therapists=["Bob Tester"])
    page.get_by_role("button", name="Book PREP1").click()
    alert = page.locator(".alert-danger")
    expect(alert).to_contain_text("Not saved")
    expect(alert).to_contain_text("Bob Tester")
    both_widths(page, screenshot, "daily-book-clash")
    page.get_by_label("Date").fill((prep1.target_date + timedelta(days=1)).isoformat())
    page.get_by_label("Start time").fill("13:30")
    page.get_by_role("button", name="Book PREP1").click()
    expect(page.get_by_text("PREP1 booked for")).to_be_visible()
    expect(page.locator(".alert-success")).to_contain_text("Later windows moved")

    # PREP2 on its target, with bea, in the other room.
    prep2 = session_of(participant, "PREP2")
    page.get_by_role("link", name="Book PREP2").click()
    fill_booking(page, day=prep2.target_date, at="10:00", room="Overnight suite A", therapists=["Bea Tester"])
    page.get_by_role("button", name="Book PREP2").click()
    expect(page.get_by_text("PREP2 booked for")).to_be_visible()

    # PREP3 two days after its window closes: only with a deviation reason.
    prep3 = session_of(participant, "PREP3")
    page.get_by_role("link", name="Book PREP3").click()
    fill_booking(
        page, day=prep3.window_closes + timedelta(days=2), at="09:00", room="Therapy room 1", therapists=["Bob Tester"]
    )
    page.get_by_role("button", name="Book PREP3").click()
    expect(page.get_by_text("Outside the protocol window or sequence")).to_be_visible()
    both_widths(page, screenshot, "daily-book-out-of-window")
    page.get_by_label("Deviation reason").fill("Participant in hospital for an unrelated procedure.")
    page.get_by_role("button", name="Book PREP3").click()
    expect(page.locator(".alert-success")).to_contain_text("A protocol deviation was recorded")
    assert Deviation.objects.filter(participant=participant, category="out_of_window").count() == 1

    # DOSE1 with the co-therapist pair in the overnight suite.
    dose1 = session_of(participant, "DOSE1")
    page.get_by_role("link", name="Book DOSE1").click()
    expect(page.get_by_text("needs 2 therapists").first).to_be_visible()
    fill_booking(
        page, day=dose1.target_date, at="08:30", room="Overnight suite A", therapists=["Bob Tester", "Bea Tester"]
    )
    page.get_by_role("button", name="Book DOSE1").click()
    expect(page.get_by_text("DOSE1 booked for")).to_be_visible()

    booked = participant.sessions.filter(status="scheduled").values_list("definition__code", flat=True)
    assert sorted(booked) == ["DOSE1", "PREP1", "PREP2", "PREP3"]
    rows = page.locator("table.tt-session-table tbody tr")
    assert rows.count() == 9
    expect(page.get_by_role("heading", name="Audit history")).to_be_visible()
    expect(page.get_by_text("Participant in hospital for an unrelated procedure.").first).to_be_visible()
    both_widths(page, screenshot, "daily-participant")

    page.get_by_role("link", name="DOSE1", exact=True).first.click()
    expect(page.get_by_role("heading", name="Dosing session: follow the trial protocol")).to_be_visible()
    both_widths(page, screenshot, "daily-session-dosing")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Participants").click()
    expect(page.get_by_role("link", name="S01-0107")).to_be_visible()
    expect(page.get_by_role("link", name="S01-0900")).to_be_visible()
    both_widths(page, screenshot, "daily-participant-list")
    assert errors == []


def test_therapist_logs_signs_and_corrects_a_session(
    page, live_server, sign_in, screenshot, site, coordinator, therapist, co_therapist, default_protocol
):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    participant = services.enroll_participant(
        site=site,
        protocol_version=default_protocol,
        study_code="S01-0011",
        enrollment_date=local_today(site) - timedelta(days=16),
        by=coordinator,
    )
    prep1 = session_of(participant, "PREP1")
    services.schedule_session(
        session=prep1,
        start=datetime.combine(prep1.target_date, time(10), tzinfo=site.zone),
        room=site.rooms.get(name="Therapy room 1"),
        therapists=[therapist],
        by=coordinator,
    )

    sign_in("bob", PASSWORD)
    page.get_by_role("link", name="Participants").click()
    page.get_by_role("link", name="S01-0011").click()
    page.get_by_role("link", name="Log PREP1").click()
    expect(page.get_by_text("No names or other identifying information").first).to_be_visible()
    page.get_by_label("Completed as planned").check()
    page.get_by_label("Actual end time").fill("11:40")
    page.get_by_label("Notes").fill("Session went as planned; breathing exercises practised.")
    both_widths(page, screenshot, "daily-log")
    page.get_by_role("button", name="Save the log").click()
    expect(page.get_by_text("Outcome logged. Sign the record to lock it.")).to_be_visible()

    page.get_by_role("link", name="Sign", exact=True).click()
    expect(page.get_by_text("I confirm this record is accurate").first).to_be_visible()
    page.get_by_label("Your password").fill("not-my-password")
    page.get_by_role("button", name="Sign the record").click()
    expect(page.get_by_text("That password is not right")).to_be_visible()
    screenshot("daily-sign-wrong-password-laptop")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Sign the record").click()
    signature = page.locator(".tt-signature")
    expect(signature).to_contain_text("Signed by Bob Tester on")
    expect(signature).to_contain_text("I confirm this record is accurate")
    both_widths(page, screenshot, "daily-session-signed")

    page.get_by_role("link", name="Correct this record").click()
    expect(page.get_by_text("This is a correction.")).to_be_visible()
    page.get_by_label("Actual end time").fill("11:25")
    page.get_by_role("button", name="Save the correction").click()
    expect(page.locator(".alert-danger")).to_be_visible()  # the reason is missing
    page.get_by_label("Reason for the correction").fill("End time was misread from the wall clock.")
    both_widths(page, screenshot, "daily-correction")
    page.get_by_role("button", name="Save the correction").click()
    expect(page.get_by_text("The signature was removed")).to_be_visible()
    expect(page.locator(".tt-signature")).to_contain_text("Not signed yet")
    prep1.refresh_from_db()
    assert not prep1.is_signed and prep1.actual_end.astimezone(site.zone).strftime("%H:%M") == "11:25"

    page.get_by_role("link", name="S01-0011").first.click()
    history = page.get_by_role("table", name="Latest changes")
    expect(history).to_contain_text("End time was misread from the wall clock.")
    both_widths(page, screenshot, "daily-participant-history")
    assert errors == []
