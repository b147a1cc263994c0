"""Protocol versions built straight through the ORM, independent of the import code under test."""

from protocols.models import Protocol, ProtocolVersion, SessionDefinition
from protocols.schedule import PlannedSession
from tests.protocols.plans import DEFAULT_PLAN

PHASES = {"PREP": "preparation", "DOSE": "dosing", "INT": "integration"}


def phase_of(code: str) -> str:
    return next(phase for prefix, phase in PHASES.items() if code.startswith(prefix))


def make_version(
    *, code: str = "TEST-1", label: str = "v1.0", status: str = "draft", plan: list[PlannedSession] = DEFAULT_PLAN
) -> ProtocolVersion:
    protocol, _ = Protocol.objects.get_or_create(code=code, defaults={"title": f"Test protocol {code}"})
    version = ProtocolVersion.objects.create(protocol=protocol, label=label, status="draft")
    by_code: dict[str, SessionDefinition] = {}
    for planned in sorted(plan, key=lambda p: p.order):
        phase = phase_of(planned.code)
        by_code[planned.code] = SessionDefinition.objects.create(
            version=version,
            order=planned.order,
            code=planned.code,
            name=planned.code.title(),
            phase=phase,
            duration_minutes=planned.duration_minutes,
            anchor=by_code.get(planned.anchor_code),
            offset_days=planned.offset_days,
            window_early_days=planned.early_days,
            window_late_days=planned.late_days,
            therapists_required=2 if phase == "dosing" else 1,
            room_hold_hours=14 if phase == "dosing" else 0,
            protocol_citation=f"See trial protocol §… ({phase} sessions)",
        )
    if status != "draft":
        ProtocolVersion.objects.filter(pk=version.pk).update(status=status)
        version.refresh_from_db()
    return version
