"""Protocol files: export → import round-trips exactly; a bad file is refused whole, every problem named."""

import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from protocols.files import ProtocolFileError, dump_version, export_version, read_protocol_file
from protocols.library import LIBRARY
from protocols.models import Protocol, ProtocolVersion, SessionDefinition
from protocols.schedule import PlannedSession
from protocols.services import create_amendment, import_protocol
from tests.protocols.factories import make_version

pytestmark = pytest.mark.django_db


def library_text(name="tt-333.json"):
    return (LIBRARY / name).read_text(encoding="utf-8")


def library_file(**version_changes):
    data = json.loads(library_text())
    data["version"].update(version_changes)
    return data


def counts():
    return Protocol.objects.count(), ProtocolVersion.objects.count(), SessionDefinition.objects.count()


def refused(text) -> list[str]:
    before = counts()
    with pytest.raises(ProtocolFileError) as error:
        import_protocol(text=text, by=None)
    assert counts() == before, "nothing may be half-imported"
    return error.value.problems


@pytest.mark.parametrize("name", ["tt-333.json", "tt-339.json"])
def test_library_files_round_trip_byte_for_byte(name):
    version = import_protocol(text=library_text(name), by=None)
    assert dump_version(version) == library_text(name)


def test_export_then_import_gives_back_the_same_version_exactly(admin_user):
    plan = [
        PlannedSession("PREP1", 10, None, 0, 0, 3, 60),
        PlannedSession("DOSE1", 20, "PREP1", 7, 2, 5, 420),
        PlannedSession("INT1", 35, "DOSE1", 1, 0, 0, 45),
        PlannedSession("INT2", 36, "PREP1", 30, 9, 9, 45),
    ]
    version = make_version(code="RT-1", plan=plan)
    version.effective_date = date(2026, 2, 28)
    version.save()
    SessionDefinition.objects.filter(version=version, code="DOSE1").update(
        protocol_citation="Protocole v2 §6.3 « Séance » — see Appendix Ω", room_hold_hours=12, therapists_required=3
    )
    text = dump_version(version)
    version.delete()
    Protocol.objects.filter(code="RT-1").delete()
    again = import_protocol(text=text, by=admin_user)
    assert dump_version(again) == text
    assert again.status == "draft"
    assert [d.order for d in again.definitions.all()] == [10, 20, 35, 36]


def test_an_amendment_round_trips_with_its_predecessor_named(admin_user):
    original = import_protocol(text=library_text(), by=None)
    amendment = create_amendment(version=original, label="Amendment 1", by=admin_user, reason="Test")
    text = dump_version(amendment)
    assert json.loads(text)["version"]["amended_from"] == "v1.0"
    amendment.delete()
    again = import_protocol(text=text, by=admin_user)
    assert again.amended_from == original
    assert dump_version(again) == text


def test_export_of_a_version_is_the_documented_shape():
    version = import_protocol(text=library_text(), by=None)
    data = export_version(version)
    assert list(data) == ["format", "format_version", "protocol", "version", "sessions"]
    assert data["sessions"][3] == {
        "order": 4,
        "code": "DOSE1",
        "name": "Dosing session 1",
        "phase": "dosing",
        "duration_minutes": 480,
        "anchor": "PREP3",
        "offset_days": 14,
        "window_early_days": 7,
        "window_late_days": 14,
        "therapists_required": 2,
        "room_hold_hours": 14,
        "protocol_citation": "See trial protocol §… (dosing sessions)",
    }


def test_a_malformed_file_is_refused_whole_with_every_problem_located():
    data = library_file(status="live", effective_date="2025-02-30")
    data["protocol"]["code"] = "tt 333"
    del data["format_version"]
    data["sessions"][0]["dose_mg"] = 125
    data["sessions"][1]["duration_minutes"] = "90"
    data["sessions"][2]["window_early_days"] = -7
    data["sessions"][3]["anchor"] = "INT2"
    data["sessions"][4]["code"] = "PREP1"
    data["sessions"][5]["anchor"] = "NOPE"
    data["sessions"][6]["protocol_citation"] = "Give 125 mg"
    data["sessions"][7]["therapists_required"] = 0
    del data["sessions"][8]["phase"]
    problems = refused(json.dumps(data))
    expected = [
        "format_version: required.",
        "protocol.code: Use uppercase letters",
        "version.effective_date: use a date like 2025-01-31",
        "version.status: Value 'live' is not a valid choice.",
        "sessions[0].dose_mg: unknown field",
        "sessions[1].duration_minutes: expected a whole number",
        "sessions[2].window_early_days: Ensure this value is greater than or equal to 0.",
        "sessions[3].anchor: INT2 (order 7) must come before DOSE1 (order 4).",
        "sessions[4].code: PREP1 is also the code of sessions[0].",
        "sessions[5].anchor: 'NOPE' is not a session of this file.",
        "sessions[6].protocol_citation: No dose amounts",
        "sessions[7].therapists_required: A dosing session needs at least one therapist.",
        "sessions[8].phase: required.",
    ]
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):  # one each, in file order
        assert problem.startswith(start), problems


def test_a_file_that_is_not_json_is_refused_with_line_and_column():
    (problem,) = refused('{"format": "trialtracker-protocol",\n  "sessions": [1, 2,]\n}')
    assert problem.startswith("line 2, column 21: not valid JSON")


@pytest.mark.parametrize("text", ["[]", '"protocol"', "null"])
def test_a_file_that_is_not_an_object_is_refused(text):
    assert refused(text) == ["file: expected a JSON object with format, protocol, version and sessions."]


def test_a_version_needs_sessions():
    data = library_file()
    data["sessions"] = []
    assert refused(json.dumps(data)) == ["sessions: a version needs at least one session."]


def test_an_existing_version_label_is_refused_not_overwritten():
    import_protocol(text=library_text(), by=None)
    assert refused(library_text()) == ["version.label: TT-333 already has a version 'v1.0' here."]


def test_protocol_details_must_match_the_protocol_already_here():
    import_protocol(text=library_text(), by=None)
    data = library_file(label="v2.0")
    data["protocol"]["title"] = "Another title"
    (problem,) = refused(json.dumps(data))
    assert problem.startswith("protocol.title: this server has ")
    assert 'the file says "Another title"' in problem


def test_an_unknown_predecessor_is_refused():
    assert refused(json.dumps(library_file(amended_from="v0.9"))) == [
        "version.amended_from: no version 'v0.9' of this protocol here; import it first."
    ]


def test_imported_versions_arrive_as_draft_unless_the_file_or_option_says_active(admin_user):
    draft = import_protocol(text=json.dumps(library_file(status="draft")), by=admin_user)
    assert draft.status == "draft"
    forced = import_protocol(text=json.dumps(library_file(label="v2", status="draft")), by=admin_user, activate=True)
    assert forced.status == "active"
    active = import_protocol(text=json.dumps(library_file(label="v3")), by=admin_user, reason="Site go-live")
    assert active.status == "active"
    record = active.history.order_by("-history_id").first()
    assert (record.history_change_reason, record.history_user) == ("Site go-live", admin_user)
    retired = import_protocol(text=json.dumps(library_file(label="v0", status="retired")), by=admin_user)
    assert retired.status == "retired"


def test_optional_session_fields_take_their_defaults():
    data = library_file(status="draft")
    del data["version"]["status"]
    for session in data["sessions"]:
        for key in ("anchor", "window_early_days", "window_late_days", "therapists_required", "room_hold_hours"):
            session.pop(key)
        session.pop("protocol_citation")
    version = import_protocol(text=json.dumps(data), by=None)
    assert version.status == "draft"
    dose1 = version.definitions.get(code="DOSE1")
    assert (dose1.therapists_required, dose1.window_late_days, dose1.anchor, dose1.protocol_citation) == (
        2,
        0,
        None,
        "",
    )
    assert version.definitions.get(code="PREP1").therapists_required == 1


def test_reading_a_file_writes_nothing():
    before = counts()
    parsed = read_protocol_file(library_text("tt-339.json"))
    assert counts() == before
    assert len(parsed.sessions) == 15


def test_export_and_import_commands(tmp_path):
    call_command("importprotocol", str(LIBRARY / "tt-333.json"), stdout=(out := StringIO()))
    assert out.getvalue().strip() == "Imported TT-333 v1.0 (active) with 9 sessions."
    target = tmp_path / "plan.json"
    call_command("exportprotocol", "TT-333", "v1.0", "-o", str(target), stderr=StringIO())
    assert target.read_text(encoding="utf-8") == library_text()
    call_command("exportprotocol", "TT-333", "v1.0", stdout=(printed := StringIO()))
    assert printed.getvalue() == library_text()


def test_import_command_lists_every_problem_and_imports_nothing(tmp_path):
    data = library_file(label="v2.0")
    data["sessions"][0]["offset_days"] = -1
    data["sessions"][1]["anchor"] = "PREP9"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    errors = StringIO()
    with pytest.raises(CommandError, match="2 problem"):
        call_command("importprotocol", str(bad), stderr=errors)
    assert errors.getvalue().splitlines() == [
        "bad.json: sessions[0].offset_days: Ensure this value is greater than or equal to 0.",
        "bad.json: sessions[1].anchor: 'PREP9' is not a session of this file.",
    ]
    assert not Protocol.objects.exists()


def test_export_command_names_the_versions_it_knows():
    import_protocol(text=library_text(), by=None)
    with pytest.raises(CommandError, match=r"versions here: v1\.0"):
        call_command("exportprotocol", "TT-333", "v9")
