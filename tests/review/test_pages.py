"""Review pages: who may open them (outsider 404, wrong role 403, wrong method 405) and what they show."""

import pytest

from sessions.models import StudySession

pytestmark = pytest.mark.django_db

GET_PAGES = [
    "/",
    "/review/calendar/",
    "/review/monitor/",
    "/review/monitor/audit/",
    "/review/monitor/export/sessions.csv",
    "/review/monitor/export/deviations.csv",
    "/review/monitor/export/audit.csv",
    "/review/profile/",
]


def body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.mark.parametrize("url", GET_PAGES)
def test_get_pages_refuse_other_methods(client, coordinator, url):
    client.force_login(coordinator)
    assert client.post(url).status_code == 405
    assert client.put(url).status_code == 405


@pytest.mark.parametrize("url", ["/review/profile/feed/new/", "/review/profile/feed/revoke/"])
def test_feed_actions_are_post_only(client, coordinator, url):
    client.force_login(coordinator)
    assert client.get(url).status_code == 405


@pytest.mark.parametrize(
    "url",
    [
        "/review/calendar/?site=S01",
        "/review/monitor/?site=S01",
        "/review/monitor/export/sessions.csv?site=S01",
        "/review/monitor/export/deviations.csv?site=S01",
    ],
)
def test_outsider_gets_404_for_another_sites_pages(client, known_state, outsider, url):
    client.force_login(outsider)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    "who,url",
    [
        ("monitor", "/review/calendar/"),
        ("monitor", "/review/calendar/?site=S01"),
        ("therapist", "/review/monitor/"),
        ("therapist", "/review/monitor/?site=S01"),
        ("therapist", "/review/monitor/audit/"),
        ("therapist", "/review/monitor/export/sessions.csv"),
        ("therapist", "/review/monitor/export/deviations.csv"),
        ("therapist", "/review/monitor/export/audit.csv"),
    ],
)
def test_wrong_role_gets_403(client, request, known_state, who, url):
    client.force_login(request.getfixturevalue(who))
    assert client.get(url).status_code == 403


def test_coordinator_home_lists_each_kind_of_work(client, known_state, coordinator):
    client.force_login(coordinator)
    response = client.get("/")
    d = response.context["coordinator"]
    assert [(r.when, r.title) for r in d.today] == [("09:00", "S01-0001 · Dose1")]
    assert [r.title for r in d.week] == ["S01-0003 · Prep1"]
    assert "S01-0002 · Prep1" in [r.title for r in d.to_schedule]
    assert "S01-0002 · Prep2" in [r.title for r in d.to_schedule]  # opens within 14 days
    assert "S01-0002 · Prep3" not in [r.title for r in d.to_schedule]  # opens in 17 days
    overdue = [r.title for r in d.overdue]
    assert "S01-0001 · Prep3" in overdue and "S01-0001 · Prep2" not in overdue  # done, even if late
    assert [r.title for r in d.deviations] == ["S01-0001 · Out of window · PREP2"]
    page = body(response)
    assert "S02-0001" not in page
    assert "Bob Tester, Bea Tester" in page or "Bea Tester, Bob Tester" in page


def test_dashboard_rows_link_to_their_action_once_the_daily_pages_exist(client, known_state, coordinator):
    from django.urls import NoReverseMatch, reverse

    client.force_login(coordinator)
    d = client.get("/").context["coordinator"]
    prep1 = StudySession.objects.get(participant__study_code="S01-0002", definition__code="PREP1")
    row = next(r for r in d.to_schedule if r.session.pk == prep1.pk)
    try:
        expected = reverse("sessions:schedule", args=[prep1.pk])
    except NoReverseMatch:
        expected = ""
    assert row.action_url == expected


def test_staff_home_shows_my_sessions_with_the_dosing_citation(client, known_state, therapist):
    client.force_login(therapist)
    response = client.get("/")
    mine = response.context["my_sessions"]
    assert [(s.title, s.is_today) for s in mine] == [("S01-0001 · Dose1", True)]
    assert mine[0].citation == "See trial protocol §… (dosing sessions)"
    page = body(response)
    assert "See trial protocol §… (dosing sessions)" in page
    assert "S01-0003" not in page  # booked for another therapist


def test_monitor_home_is_a_short_overview(client, known_state, monitor):
    client.force_login(monitor)
    response = client.get("/")
    assert response.context["monitor"] == {"participants": 3, "active": 3, "open_deviations": 1}
    assert "/review/monitor/" in body(response)


def test_site_calendar_shows_rooms_by_day_with_the_overnight_hold(client, known_state, coordinator):
    client.force_login(coordinator)
    response = client.get("/review/calendar/")
    week = response.context["week"]
    assert str(week.monday) == "2026-03-09"
    rows = {row.room.name: row for row in week.rows}
    tuesday, wednesday, thursday = 1, 2, 3
    dose = rows["Overnight suite A"].cells[tuesday]
    assert [(i.kind, i.time_text, i.title) for i in dose] == [("session", "09:00–17:00", "S01-0001 · DOSE1")]
    assert dose[0].detail == "room held until Wed 07:00"
    hold = rows["Overnight suite A"].cells[wednesday]
    assert [(i.kind, i.time_text) for i in hold] == [("hold", "until 07:00")]
    assert [i.title for i in rows["Therapy room 1"].cells[thursday]] == ["S01-0003 · PREP1"]
    assert "S02-0001" not in body(response)
    previous = client.get("/review/calendar/?site=S01&week=2026-02-09").context["week"]
    assert [i.title for i in rows_of(previous)["Therapy room 1"].cells[1]] == ["S01-0001 · PREP2"]


def rows_of(week):
    return {row.room.name: row for row in week.rows}


def test_site_calendar_ignores_a_malformed_week(client, known_state, therapist):
    client.force_login(therapist)
    assert client.get("/review/calendar/?week=2026-13-45").context["week"].monday.isoformat() == "2026-03-09"


def test_monitor_review_finds_the_out_of_window_session(client, known_state, monitor, version):
    client.force_login(monitor)
    response = client.get(f"/review/monitor/?protocol={version.protocol.pk}")
    review = response.context["review"]
    out = review.adherence.out_of_window
    assert [(o.study_code, o.code, o.outside_text, o.has_deviation) for o in out] == [
        ("S01-0001", "PREP2", "5 days late", True)
    ]
    assert review.adherence.took_place == 2 and review.adherence.in_window_percent == 50
    assert review.adherence.open_deviations == 1
    assert [lane.participant.study_code for lane in review.wide.lanes] == ["S01-0001", "S01-0002", "S01-0003"]
    page = body(response)
    assert "S02-0001" not in page and "5 days late" in page
    assert 'style="' not in page


def test_monitor_review_filters_by_status_and_site(client, known_state, monitor, version):
    client.force_login(monitor)
    review = client.get(f"/review/monitor/?protocol={version.protocol.pk}&status=enrolled&site=S01").context["review"]
    assert [lane.participant.study_code for lane in review.wide.lanes] == ["S01-0002", "S01-0003"]
    assert review.adherence.out_of_window == []


def test_audit_search_by_participant_user_and_dates(client, known_state, monitor, coordinator):
    client.force_login(monitor)
    events = client.get("/review/monitor/audit/?participant=S01-0001").context["events"]
    assert events and {e.study_code for e in events} == {"S01-0001"}
    assert {"Participant", "Session", "Assignment", "Deviation"} <= {e.record for e in events}
    assert any(e.reason == "test booking" for e in events)
    assert client.get("/review/monitor/audit/?participant=S02-0001").context["events"] == []
    assert client.get("/review/monitor/audit/?date_from=2027-01-01").context["events"] == []
    page = body(client.get("/review/monitor/audit/"))
    assert "SECRET-NOTE" not in page and "S02-0001" not in page


def test_audit_search_rejects_reversed_dates(client, known_state, monitor):
    client.force_login(monitor)
    response = client.get("/review/monitor/audit/?date_from=2026-03-10&date_to=2026-03-01")
    assert response.status_code == 200
    assert "The end date is before the start date." in body(response)


def test_staff_home_lists_my_sessions_that_still_need_logging_or_signing(client, known_state, therapist, co_therapist):
    client.force_login(therapist)
    response = client.get("/")
    to_record = response.context["to_record"]
    # PREP1 and PREP2 were logged but nobody signed them; this morning's DOSE1 has started and is not logged.
    assert [(t.title, t.action) for t in to_record] == [
        ("S01-0001 · Prep1", "Sign"),
        ("S01-0001 · Prep2", "Sign"),
        ("S01-0001 · Dose1", "Log"),
    ]
    page = body(response)
    assert "To log and sign" in page
    assert f"/sessions/{to_record[0].session.pk}/sign/" in page and f"/sessions/{to_record[2].session.pk}/log/" in page
    # Only my own sessions: the co-therapist shares DOSE1 only.
    client.force_login(co_therapist)
    assert [t.title for t in client.get("/").context["to_record"]] == ["S01-0001 · Dose1"]


def test_monitor_deviation_list_links_to_the_participant_and_session(client, known_state, monitor, version):
    client.force_login(monitor)
    page = body(client.get(f"/review/monitor/?protocol={version.protocol.pk}"))
    prep2 = StudySession.objects.get(participant=known_state["a"], definition__code="PREP2")
    deviations = page[page.index('id="deviations-heading"') :]
    assert f'href="/participants/{known_state["a"].pk}/#deviations">S01-0001</a>' in deviations
    assert f'href="/sessions/{prep2.pk}/">PREP2</a>' in deviations


def test_audit_search_reads_as_stacked_entries_on_a_phone(client, known_state, monitor):
    client.force_login(monitor)
    page = body(client.get("/review/monitor/audit/?participant=S01-0001"))
    # The same stacked layout as the participant page's audit history (app.css .tt-history).
    assert "tt-history" in page and 'data-label="Reason"' in page and 'data-label="Old → new"' in page


def test_monitor_tables_stack_on_a_phone(client, known_state, monitor, version):
    client.force_login(monitor)
    page = body(client.get(f"/review/monitor/?protocol={version.protocol.pk}"))
    assert page.count("tt-stack") == 2
    assert 'data-label="Deviation"' in page and 'data-label="Category"' in page


def test_audit_search_finds_a_person_by_the_name_the_pages_show(client, known_state, monitor, coordinator):
    from sessions import services

    services.record_deviation(
        participant=known_state["b"], category="other", description="Started late.", by=coordinator
    )
    client.force_login(monitor)
    by_login = client.get(f"/review/monitor/audit/?user={coordinator.username}").context["events"]
    assert by_login and {e.user for e in by_login} == {coordinator.username}
    # The participant page shows "Alice Tester": typing that (any case, extra spaces) finds the same events.
    by_name = client.get("/review/monitor/audit/?user=alice++TESTER").context["events"]
    assert [(e.when, e.record) for e in by_name] == [(e.when, e.record) for e in by_login]
    csv = body(client.get("/review/monitor/export/audit.csv?user=Alice+Tester"))
    assert len(csv.strip().splitlines()) == len(by_login) + 1
    assert client.get("/review/monitor/audit/?user=Nobody+Here").context["events"] == []


def test_audit_rows_link_to_the_participant_history(client, known_state, monitor):
    client.force_login(monitor)
    page = body(client.get("/review/monitor/audit/?participant=S01-0001"))
    assert f'href="/participants/{known_state["a"].pk}/#history-heading">S01-0001</a>' in page
