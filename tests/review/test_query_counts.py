"""Every review page asks the database the same number of times for 5 participants as for 200."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions import ical
from tests.review.conftest import TODAY
from tests.review.factories import populate

pytestmark = pytest.mark.django_db

PAGES = [
    ("coordinator", "/"),
    ("therapist", "/"),
    ("monitor", "/"),
    ("coordinator", "/review/calendar/"),
    ("therapist", "/review/calendar/?site=S01"),
    ("monitor", "/review/monitor/"),
    ("monitor", "/review/monitor/?status=in_treatment&page=1"),
    ("monitor", "/review/monitor/audit/"),
    ("monitor", "/review/monitor/audit/?participant=S01-P0001"),
    ("monitor", "/review/monitor/export/sessions.csv"),
    ("monitor", "/review/monitor/export/deviations.csv"),
    ("monitor", "/review/monitor/export/audit.csv"),
    ("therapist", "feed"),
    ("therapist", "/review/profile/"),
]


def count_queries(client, user, url) -> int:
    client.force_login(user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        assert response.status_code == 200, url
        if response.streaming:
            b"".join(response.streaming_content)
    return len(captured.captured_queries)


def test_pages_query_count_does_not_grow_with_participants(
    client, frozen, site, version, coordinator, therapist, monitor
):
    room = site.rooms.get(name="Therapy room 1")
    populate(site, version, 5, today=TODAY, room=room, therapist=therapist, by=coordinator)
    feed = ical.regenerate_feed(user=therapist)
    users = {"coordinator": coordinator, "therapist": therapist, "monitor": monitor}

    def measure():
        counts = {}
        for who, url in PAGES:
            target = f"/review/feed/{feed.token}.ics" if url == "feed" else url
            counts[(who, url)] = count_queries(client, users[who], target)
        return counts

    small = measure()
    populate(site, version, 195, today=TODAY, by=coordinator, prefix="Q")
    large = measure()
    assert large == small
