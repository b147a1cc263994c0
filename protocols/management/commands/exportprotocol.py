"""Write one protocol version as a protocol file (docs/protocol-files.md)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from protocols.files import dump_version
from protocols.models import ProtocolVersion


class Command(BaseCommand):
    help = "Export a protocol version to a JSON protocol file, e.g. exportprotocol TT-333 v1.0 -o tt-333.json"

    def add_arguments(self, parser):
        parser.add_argument("protocol", help="Protocol code, e.g. TT-333.")
        parser.add_argument("label", help="Version label, e.g. v1.0.")
        parser.add_argument("-o", "--output", help="File to write; standard output when left out.")

    def handle(self, *args, protocol, label, output, **options):
        version = (
            ProtocolVersion.objects.filter(protocol__code=protocol, label=label).select_related("protocol").first()
        )
        if version is None:
            labels = ProtocolVersion.objects.filter(protocol__code=protocol).values_list("label", flat=True)
            known = ", ".join(labels) or "none"
            raise CommandError(f"No version {label!r} of protocol {protocol!r} (versions here: {known}).")
        text = dump_version(version)
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {version} ({version.definitions.count()} sessions) to {output}.")
        else:
            self.stdout.write(text, ending="")
