"""Create a protocol version from a protocol file: all of it, or nothing when anything is wrong."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from protocols.files import ProtocolFileError
from protocols.services import import_protocol


class Command(BaseCommand):
    help = "Import a JSON protocol file as a new protocol version (a draft unless the file or --activate says active)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="Protocol file to read; - for standard input.")
        parser.add_argument("--activate", action="store_true", help="Activate the version even if the file says draft.")
        parser.add_argument("--reason", default="", help="Why, for the audit trail (default: imported from <file>).")

    def handle(self, *args, path, activate, reason, **options):
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {path}: {error}") from error
        source = "standard input" if path == "-" else Path(path).name
        try:
            version = import_protocol(text=text, by=None, reason=reason, activate=activate, source=source)
        except ProtocolFileError as error:
            for problem in error.problems:
                self.stderr.write(f"{source}: {problem}")
            raise CommandError(str(error)) from error
        sessions = version.definitions.count()
        self.stdout.write(f"Imported {version} ({version.get_status_display().lower()}) with {sessions} sessions.")
