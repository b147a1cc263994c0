"""CSV exports and the calendar feed carry nothing outside the user's scope and no notes."""

import csv
import io

import pytest
from icalendar import Calendar

from sessions import ical
from sessions.models import CalendarFeed
from sessions.review.exports import AUDIT_COLUMNS, DEVIATION_COLUMNS, SESSION_COLUMNS

pytestmark = pytest.mark.django_db


def read_csv(response):
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_sessions_csv_is_scoped_and_has_no_notes(client, known_state, monitor):
    client.force_login(monitor)
    rows = read_csv(client.get("/review/monitor/export/sessions.csv"))
    assert rows[0] == SESSION_COLUMNS
    assert not any("note" in column for column in rows[0])
    text = "\n".join(",".join(r) for r in rows)
    assert "SECRET-NOTE" not in text and "S02-" not in text
    assert len(rows) == 1 + 3 * 9
    by_key = {(r[1], r[4]): dict(zip(SESSION_COLUMNS, r, strict=True)) for r in rows[1:]}
    prep2 = by_key[("S01-0001", "PREP2")]
    assert (prep2["timing"], prep2["status"], prep2["therapists"]) == ("late", "completed", "bob")
    dose1 = by_key[("S01-0001", "DOSE1")]
    assert sorted(dose1["therapists"].split(";")) == ["bea", "bob"]
    assert dose1["scheduled_start_local"] == "2026-03-10 09:00"


def test_sessions_csv_filters_by_protocol_and_site(client, known_state, coordinator, version):
    client.force_login(coordinator)
    rows = read_csv(client.get(f"/review/monitor/export/sessions.csv?protocol={version.protocol.pk}&site=S01"))
    assert {r[0] for r in rows[1:]} == {"S01"}


def test_outsider_exports_only_their_own_site(client, known_state, outsider):
    client.force_login(outsider)
    rows = read_csv(client.get("/review/monitor/export/sessions.csv"))
    assert {r[1] for r in rows[1:]} == {"S02-0001"}
    rows = read_csv(client.get("/review/monitor/export/deviations.csv"))
    assert [r[1] for r in rows[1:]] == ["S02-0001"]


def test_deviations_csv(client, known_state, monitor):
    client.force_login(monitor)
    rows = read_csv(client.get("/review/monitor/export/deviations.csv"))
    assert rows[0] == DEVIATION_COLUMNS
    assert [(r[1], r[3], r[4], r[5]) for r in rows[1:]] == [("S01-0001", "PREP2", "out_of_window", "open")]


def test_audit_csv_is_scoped_and_never_shows_notes(client, known_state, monitor):
    client.force_login(monitor)
    rows = read_csv(client.get("/review/monitor/export/audit.csv"))
    assert rows[0] == AUDIT_COLUMNS
    text = "\n".join(",".join(r) for r in rows)
    assert "SECRET-NOTE" not in text and "S02-0001" not in text
    assert any(r[3] == "S01-0001" and r[7] == "test booking" for r in rows[1:])
    notes_changes = [r[6] for r in rows[1:] if "notes:" in r[6]]
    assert notes_changes and all("(text changed)" in c for c in notes_changes)
    filtered = read_csv(client.get("/review/monitor/export/audit.csv?participant=S01-0003&user=nobody"))
    assert filtered[1:] == []


def test_csv_cells_cannot_run_as_spreadsheet_formulas():
    from sessions.review.exports import csv_lines

    lines = list(csv_lines(["a"], [["=HYPERLINK(1)"], ["-2"], ["ok"]]))
    assert lines[1:] == ["'=HYPERLINK(1)\r\n", "'-2\r\n", "ok\r\n"]


def test_feed_parses_back_and_carries_only_code_name_site_and_room(client, known_state, therapist):
    feed = ical.regenerate_feed(user=therapist)
    response = client.get(f"/review/feed/{feed.token}.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"]
    events = calendar.walk("VEVENT")
    assert sorted(str(e["SUMMARY"]) for e in events) == ["S01-0001 · Dose1", "S01-0001 · Prep1", "S01-0001 · Prep2"]
    for event in events:
        assert set(event.keys()) <= {"UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "LOCATION", "STATUS"}
        assert str(event["LOCATION"]).startswith("S01 Front Range Research Clinic · ")
        assert event.decoded("DTEND") > event.decoded("DTSTART")
    raw = response.content.decode()
    assert "SECRET-NOTE" not in raw and "S02-" not in raw and "S01-0003" not in raw


def test_regenerating_revokes_the_old_url_and_revoke_removes_it(client, known_state, therapist):
    client.force_login(therapist)
    client.post("/review/profile/feed/new/")
    old = CalendarFeed.objects.get(user=therapist).token
    assert len(old) >= 40
    profile = client.get("/review/profile/").content.decode()
    assert f"/review/feed/{old}.ics" in profile
    client.post("/review/profile/feed/new/")
    new = CalendarFeed.objects.get(user=therapist).token
    assert new != old
    client.logout()
    assert client.get(f"/review/feed/{old}.ics").status_code == 404
    assert client.get(f"/review/feed/{new}.ics").status_code == 200
    client.force_login(therapist)
    client.post("/review/profile/feed/revoke/")
    client.logout()
    assert client.get(f"/review/feed/{new}.ics").status_code == 404


def test_unknown_feed_token_is_404_and_post_is_405(client, known_state, therapist):
    feed = ical.regenerate_feed(user=therapist)
    assert client.get("/review/feed/not-a-token.ics").status_code == 404
    assert client.post(f"/review/feed/{feed.token}.ics").status_code == 405
