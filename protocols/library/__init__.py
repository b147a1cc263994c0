"""Protocol files shipped with TrialTracker: the two demo protocols of SPEC §4.

They are loaded through the same import path a sponsor's file takes, so the library doubles
as a worked example of the format (docs/protocol-files.md).
"""

import json
from pathlib import Path

from protocols.models import ProtocolVersion
from protocols.services import import_protocol

LIBRARY = Path(__file__).resolve().parent
DEMO_FILES = ("tt-333.json", "tt-339.json")


def load_demo_protocols() -> dict[str, ProtocolVersion]:
    """Protocol code → the demo version; importing only what is not there yet (idempotent)."""
    loaded = {}
    for name in DEMO_FILES:
        text = (LIBRARY / name).read_text(encoding="utf-8")
        header = json.loads(text)
        code, label = header["protocol"]["code"], header["version"]["label"]
        existing = ProtocolVersion.objects.filter(protocol__code=code, label=label).select_related("protocol").first()
        loaded[code] = existing or import_protocol(
            text=text, by=None, reason="Demo protocol from the TrialTracker library", source=name
        )
    return loaded
