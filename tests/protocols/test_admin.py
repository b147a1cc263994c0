"""Protocol administration: drafts are edited with a reason, active versions are read-only."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from protocols.files import dump_version
from protocols.library import LIBRARY
from protocols.models import ProtocolVersion, SessionDefinition
from tests.conftest import PASSWORD
from tests.protocols.factories import make_version

pytestmark = pytest.mark.django_db

FIELDS = [
    "order",
    "code",
    "name",
    "phase",
    "duration_minutes",
    "offset_days",
    "window_early_days",
    "window_late_days",
    "therapists_required",
    "room_hold_hours",
    "protocol_citation",
]


def admin_url(name, *args):
    return reverse(f"admin:protocols_protocolversion_{name}", args=args)


def change_form_data(version, *, reason="Sponsor feedback", **changes_by_code):
    """What the admin's change form posts for `version`, with some sessions' fields changed."""
    definitions = list(version.definitions.order_by("order"))
    data = {
        "protocol": version.protocol_id,
        "label": version.label,
        "effective_date": "",
        "change_reason": reason,
        "definitions-TOTAL_FORMS": len(definitions),
        "definitions-INITIAL_FORMS": len(definitions),
        "definitions-MIN_NUM_FORMS": 0,
        "definitions-MAX_NUM_FORMS": 1000,
    }
    for index, definition in enumerate(definitions):
        row = {field: getattr(definition, field) for field in FIELDS}
        row |= {"id": definition.pk, "version": version.pk, "anchor": definition.anchor_id or ""}
        row |= changes_by_code.get(definition.code, {})
        data |= {f"definitions-{index}-{key}": value for key, value in row.items() if value is not None}
    return data


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_a_draft_is_edited_in_the_admin_with_a_reason(admin_client, admin_user):
    version = make_version()
    response = admin_client.post(admin_url("change", version.pk), change_form_data(version, PREP1={"offset_days": 10}))
    assert response.status_code == 302
    prep1 = version.definitions.get(code="PREP1")
    assert prep1.offset_days == 10
    record = prep1.history.order_by("-history_id").first()
    assert (record.history_change_reason, record.history_user) == ("Sponsor feedback", admin_user)


def test_the_admin_asks_for_a_reason(admin_client):
    version = make_version()
    response = admin_client.post(
        admin_url("change", version.pk), change_form_data(version, reason="", PREP1={"offset_days": 10})
    )
    assert response.status_code == 200
    assert "change_reason" in response.context["adminform"].form.errors
    assert version.definitions.get(code="PREP1").offset_days == 14


def test_the_admin_refuses_a_forward_anchor_and_saves_nothing(admin_client):
    version = make_version()
    dose1 = version.definitions.get(code="DOSE1")
    data = change_form_data(version, PREP1={"offset_days": 3}, PREP2={"anchor": dose1.pk})
    response = admin_client.post(admin_url("change", version.pk), data)
    assert response.status_code == 200
    assert "PREP2: anchor DOSE1 must be an earlier session of the same plan." in response.content.decode()
    assert version.definitions.get(code="PREP1").offset_days == 14


def test_the_admin_checks_the_plan_as_a_whole(admin_client):
    version = make_version()
    # Each move alone would be fine; together they put INT1 before its anchor DOSE1.
    data = change_form_data(version, DOSE1={"order": 60}, INT1={"order": 55})
    response = admin_client.post(admin_url("change", version.pk), data)
    assert response.status_code == 200
    assert "INT1: anchor DOSE1 must be an earlier session of the same plan." in response.content.decode()
    assert version.definitions.get(code="DOSE1").order == 4


def test_the_admin_refuses_an_order_used_twice(admin_client):
    version = make_version()
    response = admin_client.post(admin_url("change", version.pk), change_form_data(version, INT3={"order": 2}))
    assert response.status_code == 200
    assert "INT3: order 2 is used twice." in response.content.decode()


def test_sessions_can_change_places_in_one_save(admin_client):
    version = make_version()
    # Move the last three later (anchors and all) and swap INT1 and DOSE2, which share an anchor.
    data = change_form_data(
        version, INT3={"order": 90}, DOSE3={"order": 80}, INT2={"order": 70}, INT1={"order": 6}, DOSE2={"order": 5}
    )
    assert admin_client.post(admin_url("change", version.pk), data).status_code == 302
    orders = dict(version.definitions.values_list("code", "order"))
    expected = {"PREP1": 1, "PREP2": 2, "PREP3": 3, "DOSE1": 4, "DOSE2": 5, "INT1": 6, "INT2": 70, "DOSE3": 80}
    assert orders == expected | {"INT3": 90}
    assert version.definitions.get(code="INT3").anchor_order == 80
    assert not version.definitions.get(code="PREP1").history.filter(history_type="~").exists()  # untouched


def test_an_active_version_is_shown_read_only_with_the_amendment_hint(admin_client):
    version = make_version(status="active")
    response = admin_client.get(admin_url("change", version.pk))
    body = response.content.decode()
    assert response.status_code == 200
    assert "is active and cannot be changed. Create an amendment" in body
    assert 'name="_save"' not in body
    assert admin_url("amend", version.pk) in body and admin_url("retire", version.pk) in body
    refused = admin_client.post(admin_url("change", version.pk), change_form_data(version, PREP1={"offset_days": 1}))
    assert refused.status_code == 403
    assert version.definitions.get(code="PREP1").offset_days == 14


def test_active_versions_cannot_be_deleted_drafts_can(admin_client):
    active, draft = make_version(status="active"), make_version(label="draft")
    assert admin_client.get(admin_url("delete", active.pk)).status_code == 403
    assert admin_client.post(admin_url("delete", draft.pk), {"post": "yes"}).status_code == 302
    assert not ProtocolVersion.objects.filter(pk=draft.pk).exists()
    assert draft.history.filter(history_type="-").get().history_change_reason == "Draft deleted in the admin"
    changelist = admin_client.get(admin_url("changelist"))
    assert "delete_selected" not in changelist.context["action_form"].fields["action"].choices.__str__()


def test_activate_retire_and_amend_from_the_admin(admin_client, admin_user):
    version = make_version()
    page = admin_client.get(admin_url("activate", version.pk))
    assert page.status_code == 200 and "cannot change" in page.content.decode()
    response = admin_client.post(admin_url("activate", version.pk), {"reason": "IRB approval"})
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.status == "active"
    assert version.history.order_by("-history_id").first().history_change_reason == "IRB approval"

    response = admin_client.post(
        admin_url("amend", version.pk), {"label": "Amendment 1", "effective_date": "2026-03-01", "reason": "Longer"}
    )
    amendment = ProtocolVersion.objects.get(label="Amendment 1")
    assert response["Location"] == admin_url("change", amendment.pk)
    assert (amendment.status, amendment.amended_from, amendment.definitions.count()) == ("draft", version, 9)

    assert admin_client.post(admin_url("retire", version.pk), {"reason": "Superseded"}).status_code == 302
    version.refresh_from_db()
    assert version.status == "retired"


def test_lifecycle_pages_show_why_an_action_cannot_be_done(admin_client):
    empty = make_version(plan=[])
    response = admin_client.post(admin_url("activate", empty.pk), {"reason": "Try"})
    assert response.status_code == 200
    assert "has no sessions yet." in response.content.decode()
    response = admin_client.post(admin_url("retire", empty.pk), {"reason": "Try"})
    assert "Only an active version can be retired" in response.content.decode()
    empty.refresh_from_db()
    assert empty.status == "draft"


def test_import_a_protocol_file_in_the_admin(admin_client, admin_user):
    upload = SimpleUploadedFile("tt-333.json", (LIBRARY / "tt-333.json").read_bytes(), "application/json")
    response = admin_client.post(admin_url("import"), {"file": upload, "reason": "Sponsor release"})
    version = ProtocolVersion.objects.get(protocol__code="TT-333")
    assert response["Location"] == admin_url("change", version.pk)
    assert version.status == "active"
    assert version.history.order_by("-history_id").first().history_user == admin_user


def test_a_malformed_file_is_refused_in_the_admin_with_every_problem(admin_client):
    data = json.loads((LIBRARY / "tt-333.json").read_text(encoding="utf-8"))
    data["sessions"][2]["anchor"] = "DOSE3"
    data["sessions"][5]["duration_minutes"] = 0
    upload = SimpleUploadedFile("bad.json", json.dumps(data).encode(), "application/json")
    response = admin_client.post(admin_url("import"), {"file": upload})
    assert response.status_code == 200
    assert response.context["problems"] == [
        "bad.json: sessions[2].anchor: DOSE3 (order 8) must come before PREP3 (order 3).",
        "bad.json: sessions[5].duration_minutes: The planned duration must be more than zero minutes.",
    ]
    assert not ProtocolVersion.objects.exists()


def test_export_from_the_admin_page_and_action(admin_client):
    version = make_version(status="active")
    response = admin_client.get(admin_url("export", version.pk))
    assert response["Content-Disposition"] == 'attachment; filename="test-1_v1.0.json"'
    assert response.content.decode() == dump_version(version)
    action = admin_client.post(admin_url("changelist"), {"action": "export_file", "_selected_action": [version.pk]})
    assert action.content.decode() == dump_version(version)


def test_history_of_a_version_is_visible(admin_client, admin_user):
    version = make_version()
    admin_client.post(admin_url("activate", version.pk), {"reason": "IRB approval"})
    history = admin_client.get(admin_url("history", version.pk))
    assert history.status_code == 200
    assert "IRB approval" in history.content.decode()
    definition = version.definitions.first()
    page = admin_client.get(reverse("admin:protocols_sessiondefinition_history", args=[definition.pk]))
    assert page.status_code == 200


def test_session_definitions_are_not_edited_outside_their_version(admin_client):
    definition = make_version().definitions.last()
    assert admin_client.get(reverse("admin:protocols_sessiondefinition_add")).status_code == 403
    response = admin_client.post(reverse("admin:protocols_sessiondefinition_change", args=[definition.pk]), {})
    assert response.status_code == 403
    response = admin_client.post(
        reverse("admin:protocols_sessiondefinition_delete", args=[definition.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert SessionDefinition.objects.filter(pk=definition.pk).exists()


def test_a_session_is_deleted_from_its_draft_with_the_reason(admin_client):
    version = make_version()
    data = change_form_data(version, reason="INT3 dropped") | {"definitions-8-DELETE": "on"}
    assert admin_client.post(admin_url("change", version.pk), data).status_code == 302
    assert not version.definitions.filter(code="INT3").exists()
    assert SessionDefinition.history.get(code="INT3", history_type="-").history_change_reason == "INT3 dropped"


def test_an_anchor_cannot_be_deleted_while_sessions_are_timed_from_it(admin_client):
    version = make_version()
    data = change_form_data(version) | {"definitions-7-DELETE": "on"}  # DOSE3, anchor of INT3
    response = admin_client.post(admin_url("change", version.pk), data)
    assert response.status_code == 200
    assert version.definitions.filter(code="DOSE3").exists()


def test_staff_without_protocol_rights_cannot_use_the_lifecycle_pages(client):
    staff = get_user_model().objects.create_user("clerk", password=PASSWORD, is_staff=True)
    version = make_version()
    client.force_login(staff)
    for name in ("activate", "retire", "amend"):
        assert client.post(admin_url(name, version.pk), {"reason": "x", "label": "y"}).status_code == 403
    assert client.post(admin_url("import")).status_code == 403
    assert client.get(admin_url("export", version.pk)).status_code == 403


def test_site_roles_are_sent_to_the_admin_sign_in(client, coordinator):
    client.force_login(coordinator)
    response = client.get(admin_url("import"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
