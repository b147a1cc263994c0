"""The participant timeline picture, and the daily reminder e-mails."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.template.loader import render_to_string

from sessions.models import ReminderLog
from sessions.timeline import participant_timeline
from tests.review.conftest import TODAY

pytestmark = pytest.mark.django_db


def timeline_of(participant, today=TODAY):
    sessions = list(participant.sessions.select_related("definition"))
    return participant_timeline(participant, sessions, today)


def test_timeline_marks_windows_bookings_today_and_deviations(known_state):
    timeline = timeline_of(known_state["a"])
    rows = {row.code: row for row in timeline.wide.rows}
    assert list(rows) == ["PREP1", "PREP2", "PREP3", "DOSE1", "INT1", "DOSE2", "INT2", "DOSE3", "INT3"]
    assert (rows["PREP1"].mark_kind, rows["PREP1"].out_of_window) == ("done", False)
    assert (rows["PREP2"].mark_kind, rows["PREP2"].out_of_window, rows["PREP2"].flagged) == ("done", True, True)
    assert rows["DOSE1"].mark_kind == "booked" and rows["DOSE1"].status_text == "Booked 10 Mar 2026"
    assert rows["PREP3"].mark == "" and rows["PREP3"].band_x is not None
    # Bands sit inside the plot, marks inside their band when in window, today on the DOSE1 mark.
    assert rows["PREP1"].band_x <= rows["PREP1"].mark_x <= rows["PREP1"].band_x + rows["PREP1"].band_width
    assert rows["PREP2"].mark_x > rows["PREP2"].band_x + rows["PREP2"].band_width
    assert timeline.wide.today_x == rows["DOSE1"].mark_x
    assert all(
        timeline.wide.plot_left <= r.band_x and r.band_x + r.band_width <= timeline.wide.plot_right
        for r in rows.values()
    )
    assert timeline.deviation_lines == ["Out of window (open) — PREP2"]
    assert (
        "PREP2 Prep2 (preparation), window 22 Jan 2026 to 5 Feb 2026, done 10 Feb 2026, "
        "OUT OF WINDOW, deviation recorded." in timeline.lines
    )


def test_timeline_is_pure_when_given_deviations(known_state, django_assert_num_queries):
    participant = known_state["a"]
    sessions = list(participant.sessions.select_related("definition", "participant__site"))
    participant = sessions[0].participant
    with django_assert_num_queries(0):
        timeline = participant_timeline(participant, sessions, TODAY, deviations=[])
    assert not any(row.flagged for row in timeline.rows)


def test_timeline_template_is_accessible_and_csp_clean(known_state):
    html = render_to_string("review/_timeline.html", {"timeline": timeline_of(known_state["a"])})
    assert html.count("<svg") == 2 and 'role="img"' in html
    assert '<title id="timeline-wide-title">S01-0001: sessions against their protocol windows</title>' in html
    assert '<desc id="timeline-wide-desc">' in html and "The timeline as text" in html
    assert "style=" not in html and "<script" not in html
    assert "d-print-table" in html  # the one-page printed schedule


def test_timeline_of_a_new_participant_without_bookings(known_state):
    timeline = timeline_of(known_state["b"])
    assert all(row.mark == "" for row in timeline.rows)
    assert timeline.wide.enrollment_x is not None and timeline.wide.today_x is not None


@pytest.fixture
def emails(known_state, coordinator, therapist, co_therapist):
    for user in (coordinator, therapist, co_therapist):
        user.email = f"{user.username}@example.org"
        user.save()


def test_sendreminders_mails_tomorrows_sessions_and_the_to_schedule_list_once_a_day(emails):
    # 11 March, noon in Denver: tomorrow Bea has S01-0003 PREP1.
    with time_machine.travel(datetime(2026, 3, 11, 12, tzinfo=ZoneInfo("America/Denver")), tick=False):
        call_command("sendreminders")
        sent = {(m.to[0], m.subject) for m in mail.outbox}
        assert ("bea@example.org", "TrialTracker: your 1 session tomorrow") in sent
        assert not any(to == "bob@example.org" for to, _ in sent)
        to_schedule = next(m for m in mail.outbox if m.to == ["alice@example.org"])
        assert "S01-0002 · Prep1: window 27 Feb–13 Mar 2026" in to_schedule.body
        assert "S02-" not in to_schedule.body and "SECRET-NOTE" not in to_schedule.body
        bea = next(m for m in mail.outbox if m.to == ["bea@example.org"])
        assert "10:00–11:30 S01-0003 · Prep1 · Therapy room 1" in bea.body
        count = len(mail.outbox)
        call_command("sendreminders")
        assert len(mail.outbox) == count  # idempotent per day
        assert ReminderLog.objects.filter(day=date(2026, 3, 12), kind="tomorrow").count() == 1
    with time_machine.travel(datetime(2026, 3, 12, 12, tzinfo=ZoneInfo("America/Denver")), tick=False):
        call_command("sendreminders")
        assert len(mail.outbox) > count  # a new day, a new to-schedule list


def test_sendreminders_dry_run_sends_and_records_nothing(emails, capsys):
    call_command("sendreminders", "--dry-run")
    assert mail.outbox == [] and not ReminderLog.objects.exists()
    assert "would send" in capsys.readouterr().out


def test_enrolled_label_gives_way_to_today_when_they_would_overlap(known_state):
    # S01-0003 was enrolled 13 days before today: both labels would sit on the same spot.
    recent = timeline_of(known_state["c"])
    assert recent.wide.enrollment_x is not None and not recent.wide.enrollment_label_fits
    html = render_to_string("review/_timeline_svg.html", {"chart": recent.wide})
    assert "Enrolled</text>" not in html and "tt-tl-enrollment" in html
    # S01-0001 was enrolled ten weeks ago: there is room for both.
    assert timeline_of(known_state["a"]).wide.enrollment_label_fits
