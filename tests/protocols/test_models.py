"""What the database and the models refuse about a protocol plan."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import RestrictedError

from protocols.models import ProtocolVersion, SessionDefinition
from tests.protocols.factories import make_version

pytestmark = pytest.mark.django_db


def definition(version, code):
    return version.definitions.get(code=code)


def refused_by_database(**changes):
    """Apply `changes` to PREP2 of a fresh draft behind the models' back; True when the database refuses."""
    version = make_version(code="DB-1", label=f"v{ProtocolVersion.objects.count()}")
    try:
        with transaction.atomic():
            SessionDefinition.objects.filter(pk=definition(version, "PREP2").pk).update(**changes)
    except IntegrityError:
        return True
    return False


def test_save_keeps_the_anchor_order_copy_in_step():
    version = make_version()
    prep1, prep2 = definition(version, "PREP1"), definition(version, "PREP2")
    assert prep1.anchor_order is None and prep2.anchor_order == prep1.order
    prep1.order = 0
    prep1.save()
    prep2.refresh_from_db()
    assert prep2.anchor_order == 0


def test_database_refuses_an_anchor_later_in_the_plan():
    version = make_version()
    prep3 = definition(version, "PREP3")
    assert refused_by_database(order=0)  # PREP2 moved before its anchor PREP1
    with transaction.atomic(), pytest.raises(IntegrityError):
        SessionDefinition.objects.filter(pk=definition(version, "PREP1").pk).update(anchor=prep3, anchor_order=3)


def test_database_refuses_an_anchor_without_its_order_copy():
    assert refused_by_database(anchor_order=None)
    assert refused_by_database(anchor=None)  # anchor_order left behind


def test_database_refuses_an_anchor_cycle():
    version = make_version()
    prep1, prep2 = definition(version, "PREP1"), definition(version, "PREP2")
    prep1.anchor = prep2  # PREP2 is already timed from PREP1
    with transaction.atomic(), pytest.raises(IntegrityError):
        prep1.save()


def test_database_refuses_moving_an_anchor_after_the_session_timed_from_it():
    version = make_version()
    prep1 = definition(version, "PREP1")
    prep1.order = 50  # PREP2 (order 2) is timed from PREP1
    with transaction.atomic(), pytest.raises(IntegrityError):
        prep1.save()


@pytest.mark.parametrize(
    "changes",
    [
        {"window_early_days": -1},
        {"window_late_days": -1},
        {"offset_days": -1},
        {"duration_minutes": 0},
        {"duration_minutes": -90},
        {"room_hold_hours": -1},
    ],
    ids=lambda c: next(iter(c)),
)
def test_database_refuses_negative_windows_and_durations(changes):
    assert refused_by_database(**changes)


def test_database_refuses_a_dosing_session_without_therapists():
    version = make_version()
    with transaction.atomic(), pytest.raises(IntegrityError):
        SessionDefinition.objects.filter(pk=definition(version, "DOSE1").pk).update(therapists_required=0)


def test_database_refuses_a_code_twice_in_one_version():
    assert refused_by_database(code="PREP1")


def test_the_same_code_may_appear_in_two_versions():
    make_version(label="v1.0")
    make_version(label="v2.0")
    assert SessionDefinition.objects.filter(code="PREP1").count() == 2


def test_clean_refuses_an_anchor_of_another_version():
    version, other = make_version(label="v1.0"), make_version(label="v2.0")
    prep2 = definition(version, "PREP2")
    prep2.anchor = definition(other, "PREP1")
    with pytest.raises(ValidationError) as refused:
        prep2.full_clean()
    assert "same protocol version" in str(refused.value.message_dict["anchor"])


def test_clean_refuses_a_later_anchor_and_names_it():
    version = make_version()
    prep2 = definition(version, "PREP2")
    prep2.anchor = definition(version, "PREP3")
    with pytest.raises(ValidationError) as refused:
        prep2.full_clean()
    assert refused.value.message_dict["anchor"] == [
        "The anchor must be an earlier session in the plan (PREP3 has order 3)."
    ]


def test_clean_refuses_moving_a_session_after_one_timed_from_it():
    version = make_version()
    prep1 = definition(version, "PREP1")
    prep1.order = 20
    with pytest.raises(ValidationError) as refused:
        prep1.full_clean()
    assert "PREP2 (order 2) is timed from this session" in refused.value.message_dict["order"][0]


def test_clean_refuses_a_dosing_session_without_therapists_and_zero_duration():
    version = make_version()
    dose1 = definition(version, "DOSE1")
    dose1.therapists_required, dose1.duration_minutes = 0, 0
    with pytest.raises(ValidationError) as refused:
        dose1.full_clean()
    assert set(refused.value.message_dict) >= {"therapists_required", "duration_minutes"}


@pytest.mark.parametrize("text", ["Give 120 mg", "125mg", "0.5 g", "40 mcg", "10 ML"])
def test_a_dose_amount_never_enters_a_citation_or_name(text):
    version = make_version()
    prep1 = definition(version, "PREP1")
    prep1.protocol_citation = text
    prep1.name = text
    with pytest.raises(ValidationError) as refused:
        prep1.full_clean()
    assert set(refused.value.message_dict) == {"protocol_citation", "name"}


def test_a_section_citation_is_fine():
    version = make_version()
    prep1 = definition(version, "PREP1")
    prep1.protocol_citation = "Protocol MAPP-X v3.0 §6.3 Investigational product administration"
    prep1.full_clean()


@pytest.mark.parametrize("status", ["active", "retired"])
def test_definitions_of_an_active_or_retired_version_refuse_edits(status):
    version = make_version(status=status)
    prep1 = definition(version, "PREP1")
    prep1.window_late_days = 9
    with pytest.raises(ValidationError) as refused:
        prep1.full_clean()
    assert "create an amendment" in refused.value.messages[0].lower()
    assert f"is {status}" in refused.value.messages[0]


def test_an_active_version_refuses_edits_but_may_be_retired():
    version = make_version(status="active")
    version.label = "v1.1"
    with pytest.raises(ValidationError, match="Create an amendment"):
        version.full_clean()
    version.refresh_from_db()
    version.status = ProtocolVersion.Status.RETIRED
    version.full_clean()


@pytest.mark.parametrize(("before", "after"), [("active", "draft"), ("retired", "active"), ("draft", "retired")])
def test_a_version_moves_only_forward_through_its_lifecycle(before, after):
    version = make_version(status=before)
    version.status = after
    with pytest.raises(ValidationError) as refused:
        version.full_clean()
    assert "status" in refused.value.message_dict


def test_protocol_code_is_frozen_once_a_version_is_active():
    version = make_version(status="active")
    protocol = version.protocol
    protocol.code = "RENAMED"
    with pytest.raises(ValidationError):
        protocol.full_clean()
    protocol.code = "TEST-1"
    protocol.title = "A clearer title"
    protocol.full_clean()


def test_deleting_a_draft_takes_its_sessions_but_a_used_anchor_alone_stays():
    version = make_version()
    prep1 = definition(version, "PREP1")
    with pytest.raises(RestrictedError):
        prep1.delete()
    version.delete()
    assert not SessionDefinition.objects.filter(version_id=version.pk).exists()
