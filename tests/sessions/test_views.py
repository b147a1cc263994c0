"""The daily-work pages: who may open each one, and what a person sees when a save is refused.

Every view is tried as the allowed role, as an outsider from another site (404), as a wrong
role (403) and with the wrong method (405). Refused input shows the form again and writes nothing.
"""

import re
from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from sessions import services
from sessions.models import Assignment, Deviation, Participant, StudySession
from tests.conftest import PASSWORD, make_user
from tests.protocols.factories import make_version

DOSE_AMOUNT = re.compile(r"\d+(\.\d+)?\s?mg\b", re.IGNORECASE)


@pytest.fixture
def version(db):
    return make_version(code="TT-333", status="active")


def today_at(site):
    return timezone.now().astimezone(site.zone).date()


def enrol(site, version, by, *, code="S01-0001", days_ago=0):
    return services.enroll_participant(
        site=site,
        protocol_version=version,
        study_code=code,
        enrollment_date=today_at(site) - timedelta(days=days_ago),
        by=by,
    )


def session_of(participant, code):
    return StudySession.objects.select_related("definition", "participant__site").get(
        participant=participant, definition__code=code
    )


def book(session, *, therapists, by, day=None, hour=9, room=None, **kwargs):
    site = session.participant.site
    day = day or session.target_date
    return services.schedule_session(
        session=session,
        start=datetime.combine(day, time(hour), tzinfo=site.zone),
        room=room or site.rooms.get(name="Therapy room 1"),
        therapists=therapists,
        by=by,
        **kwargs,
    )


@pytest.fixture
def participant(site, version, coordinator):
    return enrol(site, version, coordinator)


@pytest.fixture
def past_participant(site, version, coordinator):
    """Enrolled 20 days ago: PREP1's window (days 7–21) is open and its target is in the past."""
    return enrol(site, version, coordinator, code="S01-0002", days_ago=20)


@pytest.fixture
def held_session(past_participant, coordinator, therapist):
    """PREP1 booked on its target day, which has passed, with bob: ready to log."""
    session = session_of(past_participant, "PREP1")
    book(session, therapists=[therapist], by=coordinator)
    return session_of(past_participant, "PREP1")


@pytest.fixture
def logged_session(held_session, therapist):
    return services.log_session(
        session=held_session,
        outcome="completed",
        actual_start=held_session.scheduled_start,
        actual_end=held_session.scheduled_end,
        attended_by=[therapist],
        notes="Went as planned.",
        by=therapist,
    )


@pytest.fixture
def deviation(participant, coordinator):
    return services.record_deviation(
        participant=participant, category="other", description="Visit started late.", by=coordinator
    )


def login(client, user):
    client.force_login(user)
    return client


# ----------------------------------------------------------------------------- access

# (url name, object the pk comes from, method to write with, users allowed, users refused with 403)
ACCESS = [
    ("participant_detail", "participant", None, ["coordinator", "therapist", "monitor"], []),
    ("withdraw", "participant", "post", ["coordinator"], ["therapist", "monitor"]),
    ("deviation_create", "participant", "post", ["coordinator"], ["therapist", "monitor"]),
    ("deviation_close", "deviation", "post", ["coordinator"], ["therapist", "monitor"]),
    ("session_detail", "held_session", None, ["coordinator", "therapist", "monitor"], []),
    ("schedule", "held_session", "post", ["coordinator"], ["therapist", "monitor"]),
    ("cancel", "held_session", "post", ["coordinator"], ["therapist", "monitor"]),
    ("log", "held_session", "post", ["coordinator", "therapist"], ["monitor", "co_therapist"]),
    ("sign", "logged_session", "post", ["coordinator", "therapist"], ["monitor", "co_therapist"]),
]


@pytest.mark.parametrize(("name", "source", "write", "allowed", "refused"), ACCESS, ids=[a[0] for a in ACCESS])
def test_each_page_allows_its_roles_and_refuses_the_rest(
    client, request, outsider, co_therapist, monitor, name, source, write, allowed, refused
):
    target = request.getfixturevalue(source)
    url = reverse(f"sessions:{name}", args=[target.pk])
    for username in allowed:
        response = login(client, request.getfixturevalue(username)).get(url)
        assert response.status_code == 200, (username, response.status_code)
    for username in refused:
        assert login(client, request.getfixturevalue(username)).get(url).status_code == 403, username
    login(client, outsider)
    assert client.get(url).status_code == 404
    if write:
        assert client.post(url, {}).status_code == 404
    login(client, request.getfixturevalue(allowed[0]))
    wrong = client.put(url) if write else client.post(url, {})
    assert wrong.status_code == 405


def test_participant_list_shows_only_the_users_sites(client, participant, coordinator, monitor, therapist, outsider):
    url = reverse("sessions:participant_list")
    for user in (coordinator, monitor, therapist):
        response = login(client, user).get(url)
        assert response.status_code == 200
        assert "S01-0001" in response.text
    response = login(client, outsider).get(url)
    assert response.status_code == 200 and "S01-0001" not in response.text
    assert client.post(url, {}).status_code == 405


def test_participant_list_searches_and_filters(client, site, version, coordinator, participant):
    enrol(site, version, coordinator, code="S01-0099")
    login(client, coordinator)
    response = client.get(reverse("sessions:participant_list"), {"q": "0099", "status": "enrolled"})
    assert "S01-0099" in response.text and "S01-0001" not in response.text
    assert "Enrol a participant" in response.text


def test_enrol_is_for_coordinators_only(client, site, therapist, monitor, coordinator):
    url = reverse("sessions:enroll")
    assert login(client, therapist).get(url).status_code == 403
    assert login(client, monitor).get(url).status_code == 403
    assert login(client, coordinator).get(url).status_code == 200
    assert client.put(url).status_code == 405
    assert "Enrol a participant" not in login(client, therapist).get(reverse("sessions:participant_list")).text


def test_enrol_offers_only_the_coordinators_own_sites(client, site, other_site, outsider, version):
    login(client, outsider)
    response = client.post(
        reverse("sessions:enroll"),
        {"study_code": "S01-0500", "site": site.pk, "protocol_version": version.pk, "enrollment_date": "2026-11-01"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.text
    assert not Participant.objects.exists()


# ----------------------------------------------------------------------------- enrol


def test_enrol_creates_the_participant_with_every_session(client, site, coordinator, version):
    login(client, coordinator)
    day = today_at(site)
    response = client.post(
        reverse("sessions:enroll"),
        {"study_code": "S01-0042", "site": site.pk, "protocol_version": version.pk, "enrollment_date": day},
    )
    participant = Participant.objects.get(study_code="S01-0042")
    assert response.status_code == 302
    assert response.url == reverse("sessions:participant_detail", args=[participant.pk])
    assert participant.sessions.filter(status="unscheduled").count() == 9
    page = client.get(response.url)
    assert "S01-0042 is enrolled" in page.text
    assert page.text.count('aria-label="Book ') == 9


@pytest.mark.parametrize(
    ("code", "day", "message"),
    [
        ("s01 0042", None, "uppercase letters and digits"),
        ("S01-0042", "1999-01-01", "1999"),
        ("S01-0042", "not a date", "Enter a valid date"),
    ],
)
def test_enrol_refuses_bad_input_and_writes_nothing(client, site, coordinator, version, code, day, message):
    login(client, coordinator)
    data = {
        "study_code": code,
        "site": site.pk,
        "protocol_version": version.pk,
        "enrollment_date": day or today_at(site),
    }
    response = client.post(reverse("sessions:enroll"), data)
    assert response.status_code == 200
    assert message in response.text
    assert "Not saved" in response.text
    assert not Participant.objects.exists()


def test_enrol_refuses_a_duplicate_study_code(client, site, coordinator, version, participant):
    login(client, coordinator)
    data = {
        "study_code": participant.study_code,
        "site": site.pk,
        "protocol_version": version.pk,
        "enrollment_date": today_at(site),
    }
    response = client.post(reverse("sessions:enroll"), data)
    assert response.status_code == 200 and "Not saved" in response.text
    assert Participant.objects.count() == 1


# ----------------------------------------------------------------------------- schedule


def schedule_data(session, *, day, at="09:00", room, therapists, **extra):
    session.refresh_from_db()
    return {
        "day": day.isoformat(),
        "start_time": at,
        "room": room.pk,
        "therapists": [t.pk for t in therapists],
        "revision": session.revision,
        **extra,
    }


def test_booking_in_window_saves_and_says_which_windows_moved(client, site, coordinator, therapist, participant):
    session = session_of(participant, "PREP1")
    login(client, coordinator)
    form = client.get(reverse("sessions:schedule", args=[session.pk]))
    assert "Free times in the window" in form.text and "needs 1 therapist" in form.text
    day = session.target_date + timedelta(days=2)
    room = site.rooms.get(name="Therapy room 1")
    response = client.post(
        reverse("sessions:schedule", args=[session.pk]),
        schedule_data(session, day=day, room=room, therapists=[therapist]),
        follow=True,
    )
    session.refresh_from_db()
    assert session.status == "scheduled" and session.room == room
    assert session.scheduled_start == datetime.combine(day, time(9), tzinfo=site.zone)
    assert "PREP1 booked for" in response.text
    assert "Later windows moved: PREP2" in response.text
    assert "8 windows moved" in response.text  # the audit history shows the cascade as one entry


def test_a_clash_is_shown_on_the_form_and_nothing_is_written(
    client, site, version, coordinator, therapist, participant
):
    other = enrol(site, version, coordinator, code="S01-0003")
    first = session_of(participant, "PREP1")
    book(first, therapists=[therapist], by=coordinator)
    second = session_of(other, "PREP1")
    login(client, coordinator)
    before = StudySession.history.count()
    response = client.post(
        reverse("sessions:schedule", args=[second.pk]),
        schedule_data(
            second, day=first.target_date, room=site.rooms.get(name="Overnight suite A"), therapists=[therapist]
        ),
    )
    assert response.status_code == 200
    assert "Not saved" in response.text and "Bob Tester" in response.text
    second.refresh_from_db()
    assert second.status == "unscheduled" and StudySession.history.count() == before


def test_out_of_window_asks_for_a_deviation_reason_then_records_the_deviation(
    client, site, coordinator, therapist, participant
):
    session = session_of(participant, "PREP1")
    url = reverse("sessions:schedule", args=[session.pk])
    login(client, coordinator)
    late = session.window_closes + timedelta(days=3)
    data = schedule_data(session, day=late, room=site.rooms.first(), therapists=[therapist])
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Outside the protocol window" in response.text and 'name="deviation_reason"' in response.text
    assert StudySession.objects.get(pk=session.pk).status == "unscheduled"
    assert not Deviation.objects.exists()

    response = client.post(url, {**data, "deviation_reason": "Participant was travelling for work."})
    assert response.status_code == 302
    assert StudySession.objects.get(pk=session.pk).status == "scheduled"
    deviation = Deviation.objects.get()
    assert deviation.category == "out_of_window" and "travelling" in deviation.description


def test_rescheduling_needs_a_reason(client, site, coordinator, therapist, participant):
    session = session_of(participant, "PREP1")
    book(session, therapists=[therapist], by=coordinator)
    login(client, coordinator)
    url = reverse("sessions:schedule", args=[session.pk])
    data = schedule_data(
        session, day=session.target_date + timedelta(days=1), room=site.rooms.first(), therapists=[therapist]
    )
    response = client.post(url, data)
    assert response.status_code == 200 and "Reason for rescheduling" in response.text
    assert "This field is required" in response.text
    response = client.post(url, {**data, "reason": "Room flooded."})
    assert response.status_code == 302


def test_a_stale_revision_is_refused_with_the_current_values(client, site, coordinator, therapist, participant):
    session = session_of(participant, "PREP1")
    login(client, coordinator)
    stale = schedule_data(session, day=session.target_date, room=site.rooms.first(), therapists=[therapist])
    book(session, therapists=[therapist], by=coordinator, hour=13)  # someone else, meanwhile
    response = client.post(reverse("sessions:schedule", args=[session.pk]), {**stale, "reason": "Moving it."})
    assert response.status_code == 200
    assert "someone changed this session while you were editing it" in response.text
    assert "13:00" in response.text and "Start again from the current values" in response.text
    session.refresh_from_db()
    assert session.scheduled_start.astimezone(site.zone).hour == 13


def test_schedule_refuses_a_dst_gap_and_another_sites_room(
    client, site, other_site, coordinator, therapist, participant
):
    session = session_of(participant, "PREP1")
    login(client, coordinator)
    url = reverse("sessions:schedule", args=[session.pk])
    data = schedule_data(session, day=session.target_date, room=other_site.rooms.first(), therapists=[therapist])
    response = client.post(url, data)
    assert response.status_code == 200 and "Select a valid choice" in response.text
    data = schedule_data(session, day=session.target_date, at="25:00", room=site.rooms.first(), therapists=[therapist])
    assert "Enter a valid time" in client.post(url, data).text
    gap = datetime(2027, 3, 14).date()  # clocks in Denver jump from 02:00 to 03:00
    data = schedule_data(session, day=gap, at="02:30", room=site.rooms.first(), therapists=[therapist])
    assert "does not exist" in client.post(url, data).text
    assert StudySession.objects.get(pk=session.pk).status == "unscheduled"


def test_dosing_needs_two_therapists(client, site, coordinator, therapist, participant):
    session = session_of(participant, "DOSE1")
    login(client, coordinator)
    response = client.post(
        reverse("sessions:schedule", args=[session.pk]),
        schedule_data(session, day=session.target_date, room=site.rooms.first(), therapists=[therapist]),
    )
    assert "Choose 2 therapists" in response.text
    assert StudySession.objects.get(pk=session.pk).status == "unscheduled"


def test_cancel_needs_a_reason_and_keeps_the_session(client, coordinator, held_session):
    login(client, coordinator)
    url = reverse("sessions:cancel", args=[held_session.pk])
    response = client.post(url, {"revision": held_session.revision, "reason": ""})
    assert response.status_code == 200 and "This field is required" in response.text
    response = client.post(url, {"revision": held_session.revision, "reason": "Participant asked to move it."})
    assert response.status_code == 302
    held_session.refresh_from_db()
    assert held_session.status == "cancelled"
    assert not Assignment.objects.filter(session=held_session, is_active=True).exists()


# ----------------------------------------------------------------------------- log and sign


def log_data(session, **extra):
    session.refresh_from_db()
    start = session.scheduled_start.astimezone(session.participant.site.zone)
    end = session.scheduled_end.astimezone(session.participant.site.zone)
    return {
        "revision": session.revision,
        "outcome": "completed",
        "start_day": start.date().isoformat(),
        "start_time": start.strftime("%H:%M"),
        "end_day": end.date().isoformat(),
        "end_time": end.strftime("%H:%M"),
        "attended_by": [a.therapist_id for a in session.assignments.filter(is_active=True)],
        "notes": "Calm session.",
        **extra,
    }


def test_log_sign_and_correct(client, therapist, held_session):
    login(client, therapist)
    log_url = reverse("sessions:log", args=[held_session.pk])
    form = client.get(log_url)
    assert "No names or other identifying information" in form.text
    response = client.post(log_url, log_data(held_session), follow=True)
    assert "Sign the record to lock it" in response.text
    held_session.refresh_from_db()
    assert held_session.status == "completed" and held_session.outcome == "completed"

    sign_url = reverse("sessions:sign", args=[held_session.pk])
    assert "I confirm this record is accurate" in client.get(sign_url).text
    response = client.post(sign_url, {"password": "wrong"})
    assert response.status_code == 200 and "password is not right" in response.text
    assert not StudySession.objects.get(pk=held_session.pk).is_signed
    response = client.post(sign_url, {"password": PASSWORD}, follow=True)
    assert re.search(r"Signed by Bob Tester(</strong>)? on \w{3} \d+ \w{3} \d{4}, \d\d:\d\d", response.text)
    assert "I confirm this record is accurate" in response.text

    form = client.get(log_url)
    assert "This is a correction" in form.text and "removes the signature" in form.text
    response = client.post(log_url, log_data(held_session, notes="Calm session, ended early."))
    assert response.status_code == 200 and "This field is required" in response.text
    assert StudySession.objects.get(pk=held_session.pk).is_signed
    response = client.post(
        log_url, log_data(held_session, notes="Calm session.", reason="Wrong end time."), follow=True
    )
    assert "signature was removed" in response.text
    held_session.refresh_from_db()
    assert not held_session.is_signed
    history = client.get(reverse("sessions:participant_detail", args=[held_session.participant_id]))
    assert "Wrong end time." in history.text


def test_log_form_makes_the_person_choose_the_outcome(client, therapist, held_session):
    login(client, therapist)
    url = reverse("sessions:log", args=[held_session.pk])
    radios = re.findall(r'<input[^>]*name="outcome"[^>]*>', client.get(url).content.decode())
    assert len(radios) == 3 and not any("checked" in radio for radio in radios)
    data = log_data(held_session)
    del data["outcome"]
    response = client.post(url, data)
    assert response.status_code == 200 and "This field is required" in response.text
    assert StudySession.objects.get(pk=held_session.pk).status == "scheduled"


def test_log_refuses_an_end_before_the_start_and_writes_nothing(client, therapist, held_session):
    login(client, therapist)
    data = log_data(held_session)
    data["end_day"], data["end_time"] = data["start_day"], "08:00"
    response = client.post(reverse("sessions:log", args=[held_session.pk]), data)
    assert response.status_code == 200 and "The end must be after the start" in response.text
    assert StudySession.objects.get(pk=held_session.pk).status == "scheduled"


def test_a_missed_session_offers_reschedule_or_deviation(client, coordinator, held_session):
    login(client, coordinator)
    data = {"revision": held_session.revision, "outcome": "missed", "notes": ""}
    response = client.post(reverse("sessions:log", args=[held_session.pk]), data, follow=True)
    assert "Reschedule inside the window" in response.text
    assert "Record a deviation" in response.text


def test_sign_is_refused_before_logging(client, therapist, held_session):
    login(client, therapist)
    url = reverse("sessions:sign", args=[held_session.pk])
    for response in (client.get(url), client.post(url, {"password": PASSWORD})):
        assert response.status_code == 200 and "not logged yet" in response.text
        assert 'name="password"' not in response.text
    assert not StudySession.objects.get(pk=held_session.pk).is_signed


def test_an_old_link_to_close_a_closed_deviation_explains_and_changes_nothing(client, coordinator, deviation):
    services.close_deviation(deviation=deviation, resolution="Re-trained.", by=coordinator)
    login(client, coordinator)
    response = client.post(reverse("sessions:deviation_close", args=[deviation.pk]), {"resolution": "Again."})
    assert response.status_code == 200 and "already closed" in response.text
    deviation.refresh_from_db()
    assert deviation.resolution == "Re-trained."


# ----------------------------------------------------------------------------- deviations and withdrawal


def test_record_and_close_a_deviation(client, coordinator, participant):
    login(client, coordinator)
    url = reverse("sessions:deviation_create", args=[participant.pk])
    assert "This field is required" in client.post(url, {"category": "other", "description": ""}).text
    assert not Deviation.objects.exists()
    response = client.post(url, {"category": "other", "description": "Consent form re-signed late."})
    assert response.status_code == 302
    deviation = Deviation.objects.get()
    response = client.post(reverse("sessions:deviation_close", args=[deviation.pk]), {"resolution": "Re-trained."})
    assert response.status_code == 302
    deviation.refresh_from_db()
    assert deviation.status == "closed"


def test_void_a_deviation_reported_in_error(client, coordinator, deviation):
    login(client, coordinator)
    url = reverse("sessions:deviation_close", args=[deviation.pk])
    response = client.post(url, {"resolution": "Entered for the wrong participant.", "action": "void"})
    assert response.status_code == 302
    deviation.refresh_from_db()
    assert deviation.status == "voided" and Deviation.objects.filter(pk=deviation.pk).exists()


def test_withdraw_cancels_later_sessions(client, site, coordinator, participant):
    login(client, coordinator)
    url = reverse("sessions:withdraw", args=[participant.pk])
    response = client.post(url, {"withdrawn_on": today_at(site).isoformat(), "reason": ""})
    assert response.status_code == 200 and "This field is required" in response.text
    response = client.post(url, {"withdrawn_on": today_at(site).isoformat(), "reason": "Moved away."}, follow=True)
    participant.refresh_from_db()
    assert participant.status == "withdrawn"
    assert not participant.sessions.exclude(status="cancelled").exists()
    assert "Moved away." in response.text


# ----------------------------------------------------------------------------- what the pages show


def test_participant_page_shows_sessions_and_audit_history(client, coordinator, logged_session, therapist):
    login(client, coordinator)
    response = client.get(reverse("sessions:participant_detail", args=[logged_session.participant_id]))
    text = response.text
    assert "Audit history" in text and "Alice Tester" in text and "Bob Tester" in text
    assert "staff present:</span> <del>—</del> → Bob Tester" in text
    assert 'aria-label="Sign PREP1"' in text
    assert not DOSE_AMOUNT.search(text)


def test_dosing_session_page_shows_the_protocol_citation(client, monitor, participant):
    session = session_of(participant, "DOSE1")
    login(client, monitor)
    response = client.get(reverse("sessions:session_detail", args=[session.pk]))
    assert "Dosing session: follow the trial protocol" in response.text
    assert session.definition.protocol_citation in response.text
    assert not DOSE_AMOUNT.search(response.text)
    assert reverse("sessions:schedule", args=[session.pk]) not in response.text  # read-only for a monitor


def test_unassigned_staff_cannot_log(client, held_session, site):
    stranger = make_user("sam", site=site, role="staff")
    login(client, stranger)
    assert client.get(reverse("sessions:log", args=[held_session.pk])).status_code == 403


def test_participant_page_query_count_does_not_grow_with_bookings(
    client, site, version, coordinator, therapist, co_therapist
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    quiet = enrol(site, version, coordinator, code="S01-0201")
    book(session_of(quiet, "PREP1"), therapists=[co_therapist], by=coordinator, hour=14)
    busy = enrol(site, version, coordinator, code="S01-0202")
    for code in ("PREP1", "PREP2", "PREP3"):
        book(session_of(busy, code), therapists=[therapist], by=coordinator)
    book(session_of(busy, "DOSE1"), therapists=[therapist, co_therapist], by=coordinator)
    login(client, coordinator)
    counts = []
    for participant in (quiet, busy):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("sessions:participant_detail", args=[participant.pk])).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
