"""The protocol pages: every signed-in role reads the plan as a table and a picture."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from protocols.library import load_demo_protocols
from protocols.plan import LAPTOP, PHONE, plan_chart, plan_rows
from tests.protocols.factories import make_version
from tests.protocols.plans import DEFAULT_PLAN, NINE_INTEGRATIONS_PLAN

pytestmark = pytest.mark.django_db

ROLES = ["coordinator", "therapist", "co_therapist", "monitor", "outsider", "admin_user"]
DOSE_AMOUNT = re.compile(r"\d+(\.\d+)?\s*mg\b", re.IGNORECASE)


@pytest.fixture
def demo():
    return load_demo_protocols()


def detail_url(version):
    return reverse("protocols:detail", args=[version.pk])


@pytest.mark.parametrize("who", ROLES)
def test_every_role_sees_the_default_protocol_as_table_and_picture(client, request, demo, who):
    client.force_login(request.getfixturevalue(who))
    version = demo["TT-333"]
    listing = client.get(reverse("protocols:list"))
    assert listing.status_code == 200
    assert detail_url(version) in listing.content.decode()
    page = client.get(detail_url(version))
    assert page.status_code == 200
    body = page.content.decode()
    assert "over about 18 weeks" in body and "127 days after enrollment" in body
    assert body.count("<svg") == 2  # laptop and phone drawings; CSS shows one
    assert '<title id="plan-wide-title">TT-333 v1.0: planned sessions by week from enrollment</title>' in body
    assert "PREP1 (preparation): target day 14 (week 2), window days 7 to 21." in body  # text alternative
    for code in ("PREP1", "PREP2", "PREP3", "DOSE1", "INT1", "DOSE2", "INT2", "DOSE3", "INT3"):
        assert f'<th scope="row">{code}<span' in body
    assert not DOSE_AMOUNT.search(body)


def test_the_table_states_each_session_as_the_design_card_does(client, coordinator, demo):
    client.force_login(coordinator)
    rows = {row.code: row for row in client.get(detail_url(demo["TT-333"])).context["rows"]}
    dose2 = rows["DOSE2"]
    assert (dose2.duration, dose2.anchor, dose2.offset, dose2.window, dose2.room_hold) == (
        "8 h",
        "DOSE1",
        "+35 d",
        "−14 / 0 d",
        "14 h",
    )
    assert (rows["PREP1"].duration, rows["PREP1"].anchor, rows["PREP1"].window) == ("90 min", "Enrollment", "−7 / +7 d")
    assert rows["INT3"].target_day == 127


def test_dosing_sessions_show_their_citation_prominently(client, therapist, demo):
    client.force_login(therapist)
    body = client.get(detail_url(demo["TT-333"])).content.decode()
    assert "Dosing sessions: follow the trial protocol" in body
    assert (
        '<li class="tt-citation"><strong>DOSE2 · Dosing session 2:</strong> See trial protocol §… (dosing sessions)'
        in body
    )


def test_the_variant_shows_fifteen_sessions_over_about_21_weeks(client, monitor, demo):
    client.force_login(monitor)
    response = client.get(detail_url(demo["TT-339"]))
    assert len(response.context["rows"]) == 15
    assert "over about 21 weeks" in response.content.decode()


def test_drafts_are_for_administrators_only(client, coordinator, admin_user, demo):
    draft = make_version(label="Amendment 1 (draft)")
    client.force_login(coordinator)
    assert client.get(detail_url(draft)).status_code == 404
    assert "Amendment 1 (draft)" not in client.get(reverse("protocols:list")).content.decode()
    client.force_login(admin_user)
    assert client.get(detail_url(draft)).status_code == 200
    assert "Amendment 1 (draft)" in client.get(reverse("protocols:list")).content.decode()


def test_unknown_version_is_not_found(client, coordinator):
    client.force_login(coordinator)
    assert client.get(reverse("protocols:detail", args=[999999])).status_code == 404


def test_anonymous_visitor_is_sent_to_sign_in(client, demo):
    for url in (reverse("protocols:list"), detail_url(demo["TT-333"])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_pages_only_answer_get(client, coordinator, demo):
    client.force_login(coordinator)
    for url in (reverse("protocols:list"), detail_url(demo["TT-333"])):
        assert client.post(url).status_code == 405
        assert client.delete(url).status_code == 405


def test_the_navigation_links_the_protocol_list(client, coordinator):
    client.force_login(coordinator)
    assert 'href="/protocols/"' in client.get("/").content.decode()


def test_no_protocol_yet_is_explained(client, coordinator):
    client.force_login(coordinator)
    assert "No protocol is active yet." in client.get(reverse("protocols:list")).content.decode()


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_detail_query_count_does_not_grow_with_the_plan(client, coordinator):
    small = make_version(code="SMALL", status="active", plan=DEFAULT_PLAN[:2])
    large = make_version(code="LARGE", status="active", plan=NINE_INTEGRATIONS_PLAN)
    client.force_login(coordinator)
    count_queries(client, detail_url(small))  # warm the session
    assert count_queries(client, detail_url(small)) == count_queries(client, detail_url(large))


def test_list_query_count_does_not_grow_with_versions(client, coordinator):
    make_version(code="ONE", status="active")
    client.force_login(coordinator)
    count_queries(client, reverse("protocols:list"))
    few = count_queries(client, reverse("protocols:list"))
    for n in range(4):
        make_version(code=f"MORE-{n}", status="active", plan=NINE_INTEGRATIONS_PLAN)
    assert count_queries(client, reverse("protocols:list")) == few


@pytest.mark.parametrize("layout", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_picture_marks_each_target_inside_its_window_band_and_on_its_week(demo, layout):
    version = demo["TT-339"]
    rows = plan_rows(list(version.definitions.select_related("anchor")))
    chart = plan_chart(rows, layout, "t")
    assert [bar.code for bar in chart.bars] == [row.code for row in rows]
    px_per_day = (chart.ticks[-1].x - chart.ticks[0].x) / ((len(chart.ticks) - 1) * 7)
    for bar, row in zip(chart.bars, rows, strict=True):
        assert bar.band_x <= bar.target_x <= bar.band_x + bar.band_width
        assert bar.target_x == pytest.approx(chart.enrollment_x + (row.target_day + 0.5) * px_per_day, abs=0.3)
        assert chart.plot_left <= bar.band_x and bar.band_x + bar.band_width <= chart.plot_right + 0.1
    assert chart.ticks[0].label == "0" and int(chart.ticks[-1].label) * 7 >= 147 + 4
    labelled = [tick.x for tick in chart.labelled_ticks]
    assert min(b - a for a, b in zip(labelled, labelled[1:], strict=False)) >= layout.min_label_gap


def test_a_draft_without_sessions_says_so(client, admin_user):
    draft = make_version(plan=[])
    client.force_login(admin_user)
    body = client.get(detail_url(draft)).content.decode()
    assert "This draft has no sessions yet." in body
    assert "<svg" not in body
