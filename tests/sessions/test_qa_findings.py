"""Problems found by using the daily pages the way a site would, pinned down so they stay fixed."""

from datetime import timedelta

import pytest
from django.urls import reverse

from tests.protocols.factories import make_version
from tests.sessions.test_views import book, enrol, login, schedule_data, session_of, today_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(db):
    return make_version(code="TT-333", status="active")


def test_rescheduling_warns_when_a_later_booking_falls_outside_its_moved_window(
    client, site, version, coordinator, therapist, co_therapist
):
    participant = enrol(site, version, coordinator)
    prep1 = session_of(participant, "PREP1")
    book(prep1, therapists=[therapist], by=coordinator)
    prep2 = session_of(participant, "PREP2")
    book(prep2, therapists=[therapist], by=coordinator, day=prep2.window_opens)  # first day of its window
    prep1 = session_of(participant, "PREP1")
    login(client, coordinator)
    response = client.post(
        reverse("sessions:schedule", args=[prep1.pk]),
        schedule_data(
            prep1,
            day=prep1.target_date + timedelta(days=3),
            room=site.rooms.get(name="Therapy room 1"),
            therapists=[co_therapist],
            reason="Participant asked to move",
        ),
        follow=True,
    )
    prep2 = session_of(participant, "PREP2")
    assert prep2.window_opens > prep2.scheduled_start.astimezone(site.zone).date()
    assert "PREP2 is booked" in response.text and "now outside its window" in response.text


def test_moved_windows_read_the_same_way_at_both_ends(client, site, version, coordinator, therapist):
    participant = enrol(site, version, coordinator)
    prep1 = session_of(participant, "PREP1")
    login(client, coordinator)
    response = client.post(
        reverse("sessions:schedule", args=[prep1.pk]),
        schedule_data(
            prep1,
            day=prep1.target_date + timedelta(days=1),
            room=site.rooms.get(name="Therapy room 1"),
            therapists=[therapist],
        ),
        follow=True,
    )
    prep2 = session_of(participant, "PREP2")
    opens, closes = prep2.window_opens, prep2.window_closes
    assert f"PREP2 now {opens:%a} {opens.day} {opens:%b}" in response.text
    assert f"{closes:%a} {closes.day} {closes:%b %Y}" in response.text


def test_a_session_whose_window_has_closed_asks_for_the_deviation_reason_up_front(client, site, version, coordinator):
    participant = enrol(site, version, coordinator, days_ago=60)
    prep1 = session_of(participant, "PREP1")
    assert prep1.window_closes < today_at(site)
    login(client, coordinator)
    response = client.get(reverse("sessions:schedule", args=[prep1.pk]))
    assert 'name="deviation_reason"' in response.text
    assert "The window closed on" in response.text


def test_participant_page_flags_a_booking_left_outside_its_window(
    client, site, version, coordinator, therapist, co_therapist
):
    participant = enrol(site, version, coordinator)
    book(session_of(participant, "PREP1"), therapists=[therapist], by=coordinator)
    prep2 = session_of(participant, "PREP2")
    book(prep2, therapists=[therapist], by=coordinator, day=prep2.window_opens)
    login(client, coordinator)
    assert "outside window" not in client.get(reverse("sessions:participant_detail", args=[participant.pk])).text
    prep1 = session_of(participant, "PREP1")
    book(prep1, therapists=[co_therapist], by=coordinator, day=prep1.target_date + timedelta(days=3), reason="Moved")
    page = client.get(reverse("sessions:participant_detail", args=[participant.pk])).text
    assert page.count("outside window") == 1


def test_enrol_form_says_what_to_choose_instead_of_dashes(client, site, other_site, version, coordinator):
    from sessions.models import Membership

    Membership.objects.create(user=coordinator, site=other_site, role="coordinator")
    login(client, coordinator)
    page = client.get(reverse("sessions:enroll")).text
    assert "Choose a site" in page and "Choose a protocol version" in page and "---------" not in page


def test_a_missed_session_whose_window_closed_does_not_offer_to_reschedule_inside_it(
    client, site, version, coordinator, therapist
):
    participant = enrol(site, version, coordinator, days_ago=60)
    prep1 = session_of(participant, "PREP1")
    book(prep1, therapists=[therapist], by=coordinator, deviation_reason="Booked late for the test")
    prep1 = session_of(participant, "PREP1")
    login(client, coordinator)
    data = {"revision": prep1.revision, "outcome": "missed", "notes": ""}
    response = client.post(reverse("sessions:log", args=[prep1.pk]), data, follow=True)
    assert "Reschedule inside the window" not in response.text
    assert "Reschedule with a deviation reason" in response.text and "Its window closed on" in response.text


def test_out_of_window_deviation_reads_dates_without_leading_zeros(site, version, coordinator, therapist):
    from sessions.models import Deviation

    participant = enrol(site, version, coordinator)
    prep1 = session_of(participant, "PREP1")
    # A first-of-the-month start, well after the window closes.
    day = (prep1.window_closes + timedelta(days=40)).replace(day=1)
    result = book(prep1, therapists=[therapist], by=coordinator, day=day, deviation_reason="Participant travelling")
    description = Deviation.objects.get(pk=result.deviation.pk).description
    assert f"booked {day:%a} 1 {day:%b %Y}" in description and " 01 " not in description


def test_enrol_accepts_a_study_code_typed_in_lower_case(client, site, version, coordinator):
    from sessions.models import Participant

    login(client, coordinator)
    data = {"study_code": " s01-0905 ", "site": site.pk, "protocol_version": version.pk}
    data["enrollment_date"] = today_at(site).isoformat()
    response = client.post(reverse("sessions:enroll"), data)
    assert response.status_code == 302
    assert Participant.objects.filter(study_code="S01-0905").exists()


def test_cancel_page_says_cancelling_is_final_and_offers_to_reschedule(client, site, version, coordinator, therapist):
    participant = enrol(site, version, coordinator)
    prep1 = session_of(participant, "PREP1")
    book(prep1, therapists=[therapist], by=coordinator)
    login(client, coordinator)
    page = client.get(reverse("sessions:cancel", args=[prep1.pk])).text
    assert "Cancelling is final" in page
    assert f'href="{reverse("sessions:schedule", args=[prep1.pk])}">reschedule it</a>' in page


def test_rescheduling_to_the_same_booking_is_refused_and_writes_nothing(client, site, version, coordinator, therapist):
    from sessions.models import StudySession

    participant = enrol(site, version, coordinator)
    prep1 = session_of(participant, "PREP1")
    book(prep1, therapists=[therapist], by=coordinator)
    prep1 = session_of(participant, "PREP1")
    before = StudySession.history.count()
    login(client, coordinator)
    same = schedule_data(
        prep1,
        day=prep1.target_date,
        room=site.rooms.get(name="Therapy room 1"),
        therapists=[therapist],
        reason="Just checking",
    )
    response = client.post(reverse("sessions:schedule", args=[prep1.pk]), same)
    assert response.status_code == 200 and "Nothing changed" in response.text
    assert StudySession.history.count() == before


def test_free_times_offer_a_therapy_room_not_the_overnight_suite_for_a_short_session(
    client, site, version, coordinator, therapist, co_therapist
):
    other = enrol(site, version, coordinator, code="S01-0002", days_ago=40)
    dose1 = session_of(other, "DOSE1")
    suite = site.rooms.get(name="Overnight suite A")
    book(dose1, therapists=[therapist, co_therapist], by=coordinator, room=suite, deviation_reason="Test setup")
    participant = enrol(site, version, coordinator)
    prep1 = session_of(participant, "PREP1")
    login(client, coordinator)
    slots = client.get(reverse("sessions:schedule", args=[prep1.pk])).context["slots"]
    assert slots and all(slot.room.name == "Therapy room 1" for slot in slots)


def test_an_overdue_session_suggests_next_free_times_marked_outside_the_window(
    client, site, version, coordinator, therapist, django_assert_max_num_queries
):
    participant = enrol(site, version, coordinator, days_ago=60)
    prep1 = session_of(participant, "PREP1")
    assert prep1.window_closes < today_at(site)
    login(client, coordinator)
    with django_assert_max_num_queries(20):
        response = client.get(reverse("sessions:schedule", args=[prep1.pk]))
    page = response.text
    assert "Next free times (outside the window)" in page and "Outside window" in page
    assert "No free time found" not in page
    days = {(today_at(site) + timedelta(days=n)).isoformat() for n in range(2)}
    assert any(f"day={day}" in page for day in days)  # the first suggestion is today or tomorrow
    assert 'name="deviation_reason"' in page  # booking one needs a deviation reason
