"""The audit trail is append-only: commands that would delete history rows refuse to run."""

from django.core.management.base import BaseCommand, CommandError


class RefuseHistoryDeletion(BaseCommand):
    help = "Disabled: the audit trail is append-only (docs/security.md)."

    def add_arguments(self, parser):
        # Accept whatever the original command took, so the refusal is what the user sees.
        parser.add_argument("args", nargs="*")
        parser.add_argument("--days", "-m", "--minutes", "--auto", "--excluded_fields", "--base-manager", nargs="?")

    def handle(self, *args, **options):
        raise CommandError(
            "The audit trail is append-only: history rows are never deleted (ICH E6(R3), docs/security.md)."
        )
