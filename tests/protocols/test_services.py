"""The version lifecycle: draft → active → retired, amendments, and edits to drafts only."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.files import export_version
from protocols.models import ProtocolVersion, SessionDefinition
from protocols.schedule import PlannedSession
from protocols.services import activate_version, create_amendment, retire_version, save_draft
from tests.protocols.factories import make_version
from tests.protocols.plans import NINE_INTEGRATIONS_PLAN

pytestmark = pytest.mark.django_db


def latest_history(instance):
    return instance.history.order_by("-history_id").first()


def test_activating_a_draft_freezes_it_and_records_who_and_why(admin_user):
    version = make_version()
    activate_version(version=version, by=admin_user, reason="IRB approval 2025-01-02")
    version.refresh_from_db()
    assert version.status == "active"
    record = latest_history(version)
    assert record.history_change_reason == "IRB approval 2025-01-02"
    assert record.history_user == admin_user
    assert record.prev_record.status == "draft"


def test_activation_needs_a_reason(admin_user):
    version = make_version()
    with pytest.raises(ValidationError) as refused:
        activate_version(version=version, by=admin_user, reason="  ")
    assert "reason" in refused.value.message_dict
    version.refresh_from_db()
    assert version.status == "draft"


def test_a_version_without_sessions_cannot_be_activated(admin_user):
    version = make_version(plan=[])
    with pytest.raises(ValidationError, match="has no sessions"):
        activate_version(version=version, by=admin_user, reason="Approved")


def test_an_active_version_cannot_be_activated_again(admin_user):
    version = make_version(status="active")
    with pytest.raises(ValidationError, match="Only a draft can be activated"):
        activate_version(version=version, by=admin_user, reason="Again")


def test_activation_checks_the_whole_plan(admin_user):
    version = make_version()
    # A plan broken behind the models' back (the import and admin never write this).
    other = make_version(label="v9")
    SessionDefinition.objects.filter(version=version, code="INT1").update(
        anchor=other.definitions.get(code="PREP1"), anchor_order=1
    )
    with pytest.raises(ValidationError) as refused:
        activate_version(version=version, by=admin_user, reason="Approved")
    assert "INT1: its anchor belongs to another version." in refused.value.messages


def test_retiring_an_active_version(admin_user):
    version = make_version(status="active")
    retire_version(version=version, by=admin_user, reason="Superseded by Amendment 1")
    version.refresh_from_db()
    assert version.status == "retired"
    assert latest_history(version).history_change_reason == "Superseded by Amendment 1"


def test_a_draft_cannot_be_retired(admin_user):
    with pytest.raises(ValidationError, match="Only an active version can be retired"):
        retire_version(version=make_version(), by=admin_user, reason="Never used")


def test_an_amendment_clones_the_version_exactly_as_a_new_draft(admin_user):
    version = make_version(status="active", plan=NINE_INTEGRATIONS_PLAN)
    amendment = create_amendment(version=version, label="Amendment 1", by=admin_user, reason="Longer integration")
    assert amendment.status == "draft"
    assert amendment.amended_from == version
    assert amendment.protocol == version.protocol
    original, clone = export_version(version), export_version(amendment)
    assert clone["sessions"] == original["sessions"]
    assert clone["version"] == {
        **original["version"],
        "label": "Amendment 1",
        "status": "draft",
        "amended_from": "v1.0",
    }
    # Anchors point inside the amendment, never back into the original.
    anchors = SessionDefinition.objects.filter(version=amendment, anchor__isnull=False).select_related("anchor")
    assert {d.anchor.version_id for d in anchors} == {amendment.pk}
    assert all(d.anchor_order == d.anchor.order for d in anchors)
    assert latest_history(amendment.definitions.get(code="DOSE3")).history_change_reason == "Longer integration"


def test_amendment_labels_are_unique_within_the_protocol(admin_user):
    version = make_version(status="active")
    with pytest.raises(ValidationError):
        create_amendment(version=version, label="v1.0", by=admin_user, reason="Clash")


def test_a_draft_is_edited_directly_not_amended(admin_user):
    with pytest.raises(ValidationError, match="still a draft"):
        create_amendment(version=make_version(), label="A1", by=admin_user, reason="Why")


def test_editing_an_active_version_is_refused_with_the_amendment_hint(admin_user):
    version = make_version(status="active")
    prep1 = version.definitions.get(code="PREP1")
    prep1.offset_days = 10
    with pytest.raises(ValidationError) as refused:
        save_draft(version=version, by=admin_user, reason="Shorter", definitions=[prep1])
    assert "Create an amendment" in refused.value.messages[0]
    prep1.refresh_from_db()
    assert prep1.offset_days == 14


def test_editing_a_draft_is_saved_with_the_reason(admin_user):
    version = make_version()
    prep1 = version.definitions.get(code="PREP1")
    prep1.offset_days = 10
    save_draft(version=version, by=admin_user, reason="Sponsor feedback", definitions=[prep1])
    prep1.refresh_from_db()
    assert prep1.offset_days == 10
    record = latest_history(prep1)
    assert (record.history_change_reason, record.history_user) == ("Sponsor feedback", admin_user)


def test_a_draft_edit_that_breaks_the_plan_rolls_back_whole(admin_user):
    version = make_version()
    prep1, prep3 = version.definitions.get(code="PREP1"), version.definitions.get(code="PREP3")
    prep1.offset_days = 3
    prep3.anchor = version.definitions.get(code="DOSE1")  # forward anchor
    with pytest.raises(ValidationError):
        save_draft(version=version, by=admin_user, reason="Oops", definitions=[prep1, prep3])
    prep1.refresh_from_db()
    assert prep1.offset_days == 14


def test_deleting_a_session_of_a_draft_records_the_reason(admin_user):
    version = make_version()
    int3 = version.definitions.get(code="INT3")
    save_draft(version=version, by=admin_user, reason="Dropped INT3", deleted=[int3])
    assert not version.definitions.filter(code="INT3").exists()
    deleted = SessionDefinition.history.filter(code="INT3", history_type="-").get()
    assert deleted.history_change_reason == "Dropped INT3"


def test_lifecycle_statuses_are_the_three_of_the_spec():
    assert [s.value for s in ProtocolVersion.Status] == ["draft", "active", "retired"]


def test_a_draft_can_be_reordered_reanchored_and_pruned_in_one_save(admin_user):
    version = make_version()
    rows = {d.code: d for d in version.definitions.all()}
    # Reverse the dosing block's places, time INT3 from DOSE1 instead, and drop INT2.
    rows["DOSE2"].order, rows["DOSE3"].order = 40, 50
    rows["INT1"].order, rows["INT3"].order = 60, 70
    rows["INT3"].anchor = rows["DOSE1"]
    rows["PREP1"].order = 0
    save_draft(
        version=version,
        by=admin_user,
        reason="Restructure",
        definitions=[rows[c] for c in ("DOSE2", "DOSE3", "INT1", "INT3", "PREP1")],
        deleted=[rows["INT2"]],
    )
    saved = {d.code: d for d in version.definitions.select_related("anchor")}
    assert {c: d.order for c, d in saved.items()} == {
        "PREP1": 0, "PREP2": 2, "PREP3": 3, "DOSE1": 4, "DOSE2": 40, "DOSE3": 50, "INT1": 60, "INT3": 70
    }  # fmt: skip
    assert all(d.anchor_order == (d.anchor.order if d.anchor else None) for d in saved.values())
    assert saved["INT3"].anchor.code == "DOSE1"


def test_deleting_an_anchor_still_in_use_is_refused_whole(admin_user):
    version = make_version()
    dose3 = version.definitions.get(code="DOSE3")
    with pytest.raises(ValidationError, match="DOSE3 cannot be deleted: INT3 still timed from it."):
        save_draft(version=version, by=admin_user, reason="Drop", deleted=[dose3])
    assert version.definitions.filter(code="DOSE3").exists()


@st.composite
def rearrangements(draw):
    """A draft's plan and a new valid arrangement of it: new orders, new anchors, some rows dropped."""
    size = draw(st.integers(2, 7))
    codes = [f"PREP{n}" for n in range(size)]
    orders = draw(st.lists(st.integers(0, 40), min_size=size, max_size=size, unique=True))
    by_order = sorted(codes, key=lambda code: orders[codes.index(code)])
    initial = [
        PlannedSession(code, order, draw(st.none() | st.sampled_from(by_order[:rank])) if rank else None, 7, 0, 0, 60)
        for rank, (code, order) in enumerate(sorted(zip(codes, orders, strict=True), key=lambda pair: pair[1]))
    ]
    new_orders = draw(st.lists(st.integers(0, 60), min_size=size, max_size=size, unique=True))
    kept = [code for code in codes if draw(st.booleans()) or code == codes[0]]
    ranked = sorted(kept, key=lambda code: new_orders[codes.index(code)])
    final = {
        code: (new_orders[codes.index(code)], draw(st.none() | st.sampled_from(ranked[:rank])) if rank else None)
        for rank, code in enumerate(ranked)
    }
    return initial, final


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(rearrangements())
def test_any_valid_rearrangement_of_a_draft_saves_in_one_go(admin_user, arrangement):
    initial, final = arrangement
    version = make_version(label=f"v{ProtocolVersion.objects.count()}", plan=initial)
    rows = {d.code: d for d in version.definitions.all()}
    changed = []
    for code, (order, anchor) in final.items():
        row = rows[code]
        if (row.order, row.anchor_id) != (order, rows[anchor].pk if anchor else None):
            row.order, row.anchor = order, rows[anchor] if anchor else None
            changed.append(row)
    deleted = [row for code, row in rows.items() if code not in final]
    save_draft(version=version, by=admin_user, reason="Rearranged", definitions=changed, deleted=deleted)
    saved = {d.code: d for d in version.definitions.select_related("anchor")}
    assert {code: (d.order, d.anchor.code if d.anchor else None) for code, d in saved.items()} == final
    assert all(d.anchor_order == (d.anchor.order if d.anchor else None) for d in saved.values())
    untouched = set(final) - {row.code for row in changed}
    assert not SessionDefinition.history.filter(version=version, code__in=untouched, history_type="~").exists()
