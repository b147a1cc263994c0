from django.core.management.base import BaseCommand
from django.db import transaction

from trialtracker import demo


class Command(BaseCommand):
    help = "Load demo users, sites, protocols and participants. Safe to run again: nothing is duplicated."

    def handle(self, *args, **options):
        with transaction.atomic():
            demo.seed_demo(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(
            f"Demo logins (demo only): coordinator, therapist, monitor, admin — password '{demo.DEMO_PASSWORD}'"
        )
