"""Selectors: scoped to the user's sites (another site's record is a 404) and free-slot suggestions."""

from datetime import timedelta

import pytest
from django.http import Http404

from sessions import selectors
from tests.conftest import make_user
from tests.sessions.factories import book, enrolled_participant, session_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def participant(site, coordinator):
    return enrolled_participant(site, code="S01-0001", by=coordinator)


def test_participants_and_sessions_are_scoped_to_the_users_sites(participant, coordinator, monitor, outsider):
    prep1 = session_of(participant, "PREP1")
    for user in (coordinator, monitor):
        assert list(selectors.participants_for_user(user)) == [participant]
        assert selectors.get_participant_for_user(user, participant.pk) == participant
        assert selectors.get_session_for_user(user, prep1.pk) == prep1
        assert selectors.sessions_for_user(user).count() == 9
    assert not selectors.participants_for_user(outsider).exists()
    assert not selectors.sessions_for_user(outsider).exists()
    with pytest.raises(Http404):
        selectors.get_participant_for_user(outsider, participant.pk)
    with pytest.raises(Http404):
        selectors.get_session_for_user(outsider, prep1.pk)


def test_a_user_without_a_membership_sees_nothing(participant):
    nobody = make_user("nobody")
    assert not selectors.participants_for_user(nobody).exists()
    with pytest.raises(Http404):
        selectors.get_participant_for_user(nobody, participant.pk)


def test_therapists_and_rooms_are_those_of_the_site(site, other_site, therapist, co_therapist, coordinator):
    make_user("eve", site=other_site, role="staff")
    assert list(selectors.therapists_for_site(site)) == [co_therapist, therapist]  # by name: Bea, Bob
    assert coordinator not in selectors.therapists_for_site(site)
    assert {room.name for room in selectors.rooms_for_site(site)} == {"Therapy room 1", "Overnight suite A"}


def test_free_slots_lie_in_the_window_and_skip_busy_times(participant, coordinator, therapist):
    prep1 = session_of(participant, "PREP1")
    slots = selectors.free_slots(session=prep1, days=30)
    assert slots
    tz = participant.site.zone
    for slot in slots:
        assert prep1.window_opens <= slot.start.astimezone(tz).date() <= prep1.window_closes
        assert therapist in slot.therapists and slot.rooms
    # Book the first suggestion with the only therapist: that start is no longer offered.
    first = slots[0]
    book(prep1, therapists=[therapist], by=coordinator, start=first.start, room=first.rooms[0])
    other = enrolled_participant(participant.site, code="S01-0002", by=coordinator)
    later = selectors.free_slots(session=session_of(other, "PREP1"), days=30)
    assert first.start not in [slot.start for slot in later]


def test_free_slots_for_dosing_need_a_pair_and_respect_the_room_hold(participant, coordinator, therapist, co_therapist):
    dose1 = session_of(participant, "DOSE1")
    slots = selectors.free_slots(session=dose1, days=30)
    assert slots and all(len(slot.therapists) >= 2 for slot in slots)
    assert all(slot.end - slot.start == timedelta(hours=8) for slot in slots)
    make_user("solo", site=participant.site, role="staff")
    co_therapist.memberships.all().delete()
    therapist.memberships.all().delete()
    assert selectors.free_slots(session=dose1, days=30) == []


def test_free_slots_of_an_overdue_session_start_from_today_and_say_they_are_outside_the_window(
    site, coordinator, therapist
):
    from django.utils import timezone

    today = timezone.localdate(timezone=site.zone)
    overdue = enrolled_participant(site, code="S01-0003", enrollment_date=today - timedelta(days=60), by=coordinator)
    prep1 = session_of(overdue, "PREP1")
    assert prep1.window_closes < today
    slots = selectors.free_slots(session=prep1, days=7)
    assert slots and all(slot.outside_window for slot in slots)
    assert all(today <= slot.start.astimezone(site.zone).date() < today + timedelta(days=7) for slot in slots)
    assert all(slot.start > timezone.now() and therapist in slot.therapists for slot in slots)
    # Inside an open window nothing is marked outside it.
    current = enrolled_participant(site, code="S01-0004", by=coordinator)
    assert not any(slot.outside_window for slot in selectors.free_slots(session=session_of(current, "PREP1")))
