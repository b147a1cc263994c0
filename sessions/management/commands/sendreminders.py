"""E-mail tomorrow's sessions to assigned staff and the to-schedule list to each site's coordinators.

Run it from cron (README "Reminders (cron)"). Idempotent per day: a ReminderLog row records each
e-mail sent, so a second run the same day sends nothing again. "Tomorrow" and "today" are each
site's own local dates. E-mails carry study codes, session names, times and rooms — never notes.
"""

from collections import defaultdict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mail
from django.core.management.base import BaseCommand
from django.db import IntegrityError, transaction

from sessions.models import Membership, ReminderLog, Site
from sessions.review.selectors import TO_SCHEDULE_LOOKAHEAD_DAYS, sessions_to_schedule, sessions_tomorrow, site_today


def _count(sessions) -> str:
    return f"{len(sessions)} session{'s' if len(sessions) != 1 else ''}"


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


class Command(BaseCommand):
    help = "E-mail tomorrow's sessions to assigned staff and the to-schedule list to coordinators (once a day)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Print what would be sent; send and record nothing.")

    def handle(self, *args, dry_run=False, **options):
        sent = skipped = 0
        for site in Site.objects.order_by("code"):
            for outcome in (*self._tomorrow(site, dry_run), *self._to_schedule(site, dry_run)):
                sent += outcome
                skipped += not outcome
        verb = "would send" if dry_run else "sent"
        self.stdout.write(f"Reminders: {verb} {sent}, already sent or nothing to send {skipped}.")

    def _send_once(self, *, site, kind, day, recipient, subject, body, dry_run) -> bool:
        if not recipient.email:
            self.stderr.write(f"{recipient.get_username()} has no e-mail address: no reminder sent.")
            return False
        if ReminderLog.objects.filter(day=day, kind=kind, recipient=recipient, site=site).exists():
            return False
        if dry_run:
            self.stdout.write(f"To {recipient.email}: {subject}")
            return True
        try:
            # The log row first, inside the transaction: two cron runs at once cannot both send.
            with transaction.atomic():
                ReminderLog.objects.create(day=day, kind=kind, recipient=recipient, site=site)
                send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient.email])
        except IntegrityError:
            return False
        return True

    def _tomorrow(self, site, dry_run):
        zone = ZoneInfo(site.time_zone)
        by_therapist = defaultdict(list)
        for assignment in sessions_tomorrow(site):
            by_therapist[assignment.therapist].append(assignment.session)
        for therapist, sessions in by_therapist.items():
            tomorrow = sessions[0].scheduled_start.astimezone(zone).date()
            lines = [
                f"- {s.scheduled_start.astimezone(zone):%H:%M}–{s.scheduled_end.astimezone(zone):%H:%M} "
                f"{s.participant.study_code} · {s.definition.name} · {s.room.name if s.room else 'no room'}"
                + (f"\n  Dosing session: follow {s.definition.protocol_citation}" if s.definition.is_dosing else "")
                for s in sessions
            ]
            body = (
                f"Hello {_person(therapist)},\n\nYour sessions at {site.code} {site.name} tomorrow, "
                f"{tomorrow:%A %-d %B %Y} ({site.time_zone}):\n\n" + "\n".join(lines) + "\n\n— TrialTracker"
            )
            yield self._send_once(
                site=site,
                kind=ReminderLog.Kind.TOMORROW,
                day=tomorrow,
                recipient=therapist,
                subject=f"TrialTracker: your {_count(sessions)} tomorrow",
                body=body,
                dry_run=dry_run,
            )

    def _to_schedule(self, site, dry_run):
        today = site_today(site)
        sessions = list(sessions_to_schedule(site))
        if not sessions:
            return
        lines = [
            f"- {s.participant.study_code} · {s.definition.name}: window "
            f"{s.window_opens:%-d %b}–{s.window_closes:%-d %b %Y}"
            for s in sessions
        ]
        coordinators = Membership.objects.filter(site=site, role=Membership.Role.COORDINATOR, user__is_active=True)
        for membership in coordinators.select_related("user"):
            body = (
                f"Hello {_person(membership.user)},\n\n{_count(sessions)} "
                f"at {site.code} {site.name} have a window open or opening within {TO_SCHEDULE_LOOKAHEAD_DAYS} days "
                "and nothing booked:\n\n" + "\n".join(lines) + "\n\n— TrialTracker"
            )
            yield self._send_once(
                site=site,
                kind=ReminderLog.Kind.TO_SCHEDULE,
                day=today,
                recipient=membership.user,
                subject=f"TrialTracker: {_count(sessions)} to schedule at {site.code}",
                body=body,
                dry_run=dry_run,
            )
