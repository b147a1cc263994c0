"""The demo protocols of SPEC §4, loaded from the library through the import path."""

from io import StringIO

import pytest
from django.core.management import call_command

from protocols.library import load_demo_protocols
from protocols.models import Protocol, ProtocolVersion, SessionDefinition
from protocols.schedule import nominal_span_days, validate_plan

pytestmark = pytest.mark.django_db


def plan_of(version):
    return [d.as_planned() for d in version.definitions.select_related("anchor")]


def test_default_protocol_is_the_3_3_3_design_card_over_about_18_weeks():
    version = load_demo_protocols()["TT-333"]
    assert (version.protocol.code, version.label, version.status) == ("TT-333", "v1.0", "active")
    assert list(version.definitions.values_list("code", flat=True)) == [
        "PREP1", "PREP2", "PREP3", "DOSE1", "INT1", "DOSE2", "INT2", "DOSE3", "INT3"
    ]  # fmt: skip
    assert validate_plan(plan_of(version)) == []
    assert nominal_span_days(plan_of(version)) == 127
    dose2 = version.definitions.get(code="DOSE2")
    assert (dose2.anchor.code, dose2.offset_days, dose2.window_early_days, dose2.window_late_days) == (
        "DOSE1",
        35,
        14,
        0,
    )
    assert (dose2.duration_minutes, dose2.therapists_required, dose2.room_hold_hours) == (480, 2, 14)


def test_variant_has_three_integration_sessions_after_each_dosing_session():
    version = load_demo_protocols()["TT-339"]
    assert version.definitions.count() == 15
    for n in (1, 2, 3):
        timing = {
            d.code: (d.anchor.code, d.offset_days, d.window_early_days, d.window_late_days)
            for d in version.definitions.filter(code__startswith=f"INT{n}")
        }
        dose = f"DOSE{n}"
        assert timing == {f"INT{n}A": (dose, 1, 0, 2), f"INT{n}B": (dose, 7, 2, 3), f"INT{n}C": (dose, 21, 4, 4)}
    assert nominal_span_days(plan_of(version)) == 147


def test_demo_citations_are_placeholders_pointing_at_the_protocol():
    load_demo_protocols()
    citations = set(SessionDefinition.objects.values_list("protocol_citation", flat=True))
    assert citations and all(c.startswith("See trial protocol §…") for c in citations)


def test_loading_twice_creates_nothing_new():
    first = load_demo_protocols()
    counts = (Protocol.objects.count(), ProtocolVersion.objects.count(), SessionDefinition.objects.count())
    history = SessionDefinition.history.count()
    second = load_demo_protocols()
    assert {code: v.pk for code, v in second.items()} == {code: v.pk for code, v in first.items()}
    assert (Protocol.objects.count(), ProtocolVersion.objects.count(), SessionDefinition.objects.count()) == counts
    assert SessionDefinition.history.count() == history


def test_seed_demo_loads_both_demo_protocols():
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    assert set(ProtocolVersion.objects.values_list("protocol__code", "label", "status")) == {
        ("TT-333", "v1.0", "active"),
        ("TT-339", "v1.0", "active"),
    }
