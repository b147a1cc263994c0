"""Protocol files: one protocol version as JSON, so a sponsor can ship one plan to every site.

`dump_version` writes a version; `read_protocol_file` checks a file whole and either returns
plain, validated data or raises ProtocolFileError listing every problem with its place in the
file (`sessions[3].anchor: ...`). Writing is the import service's job (services.py). The
format is described in docs/protocol-files.md.
"""

import json
import re
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError

from protocols.models import DEFINITION_FIELDS, Protocol, ProtocolVersion, SessionDefinition

FORMAT = "trialtracker-protocol"
FORMAT_VERSION = 1
REQUIRED = object()
THERAPIST_PAIR = object()  # default: 2 for dosing sessions (a co-therapist pair), else 1

# key → (accepted JSON types, default or REQUIRED), in the order files are written.
TOP_FIELDS = {"format": (str, REQUIRED), "format_version": (int, REQUIRED), "protocol": (dict, REQUIRED)}
TOP_FIELDS |= {"version": (dict, REQUIRED), "sessions": (list, REQUIRED)}
PROTOCOL_FIELDS = {"code": (str, REQUIRED), "title": (str, REQUIRED), "sponsor": (str, ""), "registry_id": (str, "")}
VERSION_FIELDS = {
    "label": (str, REQUIRED),
    "effective_date": ((str, type(None)), None),
    "status": (str, ProtocolVersion.Status.DRAFT.value),
    "amended_from": ((str, type(None)), None),
}
SESSION_FIELDS = {
    "order": (int, REQUIRED),
    "code": (str, REQUIRED),
    "name": (str, REQUIRED),
    "phase": (str, REQUIRED),
    "duration_minutes": (int, REQUIRED),
    "anchor": ((str, type(None)), None),
    "offset_days": (int, REQUIRED),
    "window_early_days": (int, 0),
    "window_late_days": (int, 0),
    "therapists_required": (int, THERAPIST_PAIR),
    "room_hold_hours": (int, 0),
    "protocol_citation": (str, ""),
}
TYPE_NAMES = {str: "text", int: "a whole number", dict: "an object", list: "a list", type(None): "null"}


class ProtocolFileError(Exception):
    """A protocol file that cannot be imported; `problems` lists every reason, with its place."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the protocol file; nothing was imported.")


@dataclass(frozen=True)
class ProtocolFile:
    """A checked protocol file: plain values ready to write, and what it refers to here."""

    protocol: dict
    version: dict
    sessions: list[dict]
    existing_protocol: Protocol | None
    amended_from: ProtocolVersion | None


def export_version(version: ProtocolVersion) -> dict:
    definitions = version.definitions.select_related("anchor").order_by("order")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "protocol": {field: getattr(version.protocol, field) for field in PROTOCOL_FIELDS},
        "version": {
            "label": version.label,
            "effective_date": version.effective_date.isoformat() if version.effective_date else None,
            "status": version.status,
            "amended_from": version.amended_from.label if version.amended_from_id else None,
        },
        "sessions": [
            {
                field: (definition.anchor.code if definition.anchor_id else None)
                if field == "anchor"
                else getattr(definition, field)
                for field in SESSION_FIELDS
            }
            for definition in definitions
        ],
    }


def dump_version(version: ProtocolVersion) -> str:
    """The version as protocol-file text; the same version always gives the same bytes."""
    return json.dumps(export_version(version), indent=2, ensure_ascii=False) + "\n"


def file_name(version: ProtocolVersion) -> str:
    label = "".join(c if c.isalnum() or c in ".-" else "-" for c in version.label)
    return f"{version.protocol.code}_{label}.json".lower()


def _place(problem: str) -> tuple[int, int]:
    """Sort key putting problems in file order: top level, protocol, version, then each session."""
    session = re.match(r"sessions\[(\d+)\]", problem)
    if session:
        return (3, int(session.group(1)))
    return ({"protocol": 1, "version": 2, "sessions": 3}.get(re.split(r"[.:]", problem, maxsplit=1)[0], 0), -1)


def _is(value, types) -> bool:
    types = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool):  # JSON true/false are not numbers
        return bool in types
    return isinstance(value, types)


def _take(data: dict, fields: dict, where: str, problems: list[str]) -> tuple[dict, set[str]]:
    """Known keys with defaults filled in, and the keys that failed (missing or mistyped)."""
    values, failed = {}, set()
    for key in data:
        if key not in fields:
            problems.append(f"{where}{key}: unknown field (expected {', '.join(fields)}).")
    for key, (types, default) in fields.items():
        if key not in data:
            if default is REQUIRED:
                problems.append(f"{where}{key}: required.")
                failed.add(key)
            else:
                values[key] = default
        elif not _is(data[key], types):
            wanted = " or ".join(TYPE_NAMES[t] for t in (types if isinstance(types, tuple) else (types,)))
            problems.append(f"{where}{key}: expected {wanted}, got {json.dumps(data[key])[:40]}.")
            failed.add(key)
        else:
            values[key] = data[key]
    return values, failed


def _field_problems(instance, where: str, exclude: set[str], problems: list[str]) -> set[str]:
    """Run the model's own field validators; report each message at its place in the file."""
    bad = set()
    try:
        instance.clean_fields(exclude=exclude)
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            bad.add(field)
            problems.extend(f"{where}{field}: {message}" for message in messages)
    return bad


def read_protocol_file(text: str) -> ProtocolFile:
    """Check a protocol file whole: structure, every field, the plan, and what exists here."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProtocolFileError([f"line {error.lineno}, column {error.colno}: not valid JSON ({error.msg})."]) from None
    if not isinstance(data, dict):
        raise ProtocolFileError(["file: expected a JSON object with format, protocol, version and sessions."])
    problems: list[str] = []
    top, failed = _take(data, TOP_FIELDS, "", problems)
    if "format" not in failed and top["format"] != FORMAT:
        problems.append(f'format: expected "{FORMAT}".')
    if "format_version" not in failed and top["format_version"] != FORMAT_VERSION:
        problems.append(f"format_version: this TrialTracker reads version {FORMAT_VERSION} files.")

    protocol, existing = _read_protocol(top.get("protocol"), problems)
    version, amended_from = _read_version(top.get("version"), existing, problems)
    sessions = _read_sessions(top.get("sessions"), problems)
    if problems:
        raise ProtocolFileError(sorted(problems, key=_place))
    return ProtocolFile(
        protocol=protocol, version=version, sessions=sessions, existing_protocol=existing, amended_from=amended_from
    )


def _read_protocol(data, problems) -> tuple[dict, Protocol | None]:
    if data is None:
        return {}, None
    values, failed = _take(data, PROTOCOL_FIELDS, "protocol.", problems)
    failed |= _field_problems(Protocol(**values), "protocol.", failed, problems)
    if "code" in failed:
        return values, None
    existing = Protocol.objects.filter(code=values["code"]).first()
    if existing is not None:
        for field in ("title", "sponsor", "registry_id"):
            if field not in failed and getattr(existing, field) != values[field]:
                problems.append(
                    f"protocol.{field}: this server has {json.dumps(getattr(existing, field), ensure_ascii=False)} "
                    f"for {existing.code}; the file says {json.dumps(values[field], ensure_ascii=False)}."
                )
    return values, existing


def _read_version(data, protocol: Protocol | None, problems) -> tuple[dict, ProtocolVersion | None]:
    if data is None:
        return {}, None
    values, failed = _take(data, VERSION_FIELDS, "version.", problems)
    if "effective_date" not in failed and values["effective_date"] is not None:
        try:
            values["effective_date"] = date.fromisoformat(values["effective_date"])
        except ValueError:
            problems.append(f"version.effective_date: use a date like 2025-01-31, not {values['effective_date']!r}.")
            failed.add("effective_date")
    instance = ProtocolVersion(**{k: v for k, v in values.items() if k not in failed and k != "amended_from"})
    failed |= _field_problems(instance, "version.", failed | {"protocol", "amended_from"}, problems)
    amended_from = None
    if protocol is not None and "label" not in failed:
        if protocol.versions.filter(label=values["label"]).exists():
            problems.append(f"version.label: {protocol.code} already has a version {values['label']!r} here.")
        if "amended_from" not in failed and values["amended_from"] is not None:
            amended_from = protocol.versions.filter(label=values["amended_from"]).first()
    if amended_from is None and "amended_from" not in failed and values["amended_from"] is not None:
        problems.append(
            f"version.amended_from: no version {values['amended_from']!r} of this protocol here; import it first."
        )
    return values, amended_from


def _read_sessions(data, problems) -> list[dict]:
    if data is None:
        return []
    if not data:
        problems.append("sessions: a version needs at least one session.")
    rows: list[tuple[dict, set[str]]] = []
    for index, item in enumerate(data):
        where = f"sessions[{index}]."
        if not isinstance(item, dict):
            problems.append(f"sessions[{index}]: expected an object.")
            rows.append(({}, set(SESSION_FIELDS)))
            continue
        values, failed = _take(item, SESSION_FIELDS, where, problems)
        if values.get("therapists_required") is THERAPIST_PAIR:
            values["therapists_required"] = 2 if values.get("phase") == SessionDefinition.Phase.DOSING else 1
        row = SessionDefinition(**{k: v for k, v in values.items() if k in DEFINITION_FIELDS and k not in failed})
        failed |= _field_problems(row, where, failed | {"version", "anchor", "anchor_order"}, problems)
        for field, message in row.rule_errors().items():
            if field not in failed:
                problems.append(f"{where}{field}: {message}")
        rows.append((values, failed))
    _check_plan(rows, problems)
    return [values for values, _ in rows]


def _check_plan(rows: list[tuple[dict, set[str]]], problems: list[str]) -> None:
    """Codes and orders unique; each anchor an earlier session of the same file."""
    first_code: dict[str, int] = {}
    first_order: dict[int, str] = {}
    for index, (values, failed) in enumerate(rows):
        where = f"sessions[{index}]."
        if "code" not in failed:
            if values["code"] in first_code:
                problems.append(
                    f"{where}code: {values['code']} is also the code of sessions[{first_code[values['code']]}]."
                )
            first_code.setdefault(values["code"], index)
        if "order" not in failed:
            if values["order"] in first_order:
                problems.append(f"{where}order: {values['order']} is also the order of {first_order[values['order']]}.")
            first_order.setdefault(values["order"], values.get("code", f"sessions[{index}]"))
    for index, (values, failed) in enumerate(rows):
        anchor = values.get("anchor")
        if anchor is None or failed & {"anchor", "code", "order"}:
            continue
        where = f"sessions[{index}].anchor"
        anchor_row = rows[first_code[anchor]] if anchor in first_code else None
        if anchor == values["code"]:
            problems.append(f"{where}: a session cannot be timed from itself.")
        elif anchor_row is None:
            problems.append(f"{where}: {anchor!r} is not a session of this file.")
        elif "order" not in anchor_row[1] and anchor_row[0]["order"] >= values["order"]:
            problems.append(
                f"{where}: {anchor} (order {anchor_row[0]['order']}) must come before {values['code']} "
                f"(order {values['order']})."
            )
