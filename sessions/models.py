"""Sites, the people who work there, participants and their study sessions.

Every clinical model keeps a full history (django-simple-history): who, when, old → new
and the reason. Clinical rows are never deleted: sessions are cancelled, participants
withdrawn, deviations voided. Writes go through services.py, reads through selectors.py.
"""

import zoneinfo

from django.conf import settings
from django.contrib.postgres.fields import RangeOperators
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from protocols.models import Protocol, ProtocolVersion, SessionDefinition
from trialtracker.db import PostgresExclusionConstraint, TsTzRange

STUDY_CODE_PATTERN = r"^[A-Z0-9]+(-[A-Z0-9]+)*$"
NO_IDENTIFIERS = "No names, birth dates, addresses, phone numbers or e-mail addresses."


def validate_time_zone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone, e.g. Europe/London.")


class Site(models.Model):
    code = models.CharField(max_length=20, unique=True, help_text="Short site code, e.g. S01.")
    name = models.CharField(max_length=200, help_text="Site name as staff know it.")
    time_zone = models.CharField(
        max_length=64, validators=[validate_time_zone], help_text="IANA time zone of the site, e.g. America/Denver."
    )

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Room(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="rooms", help_text="Site of the room.")
    name = models.CharField(max_length=100, help_text="Room name, e.g. Therapy room 1.")
    is_active = models.BooleanField(default=True, help_text="Inactive rooms cannot be booked.")

    class Meta:
        ordering = ["site", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="room_name_unique_in_site")]

    def __str__(self):
        return self.name


class Membership(models.Model):
    """A user's role at a site. Grants and removals are kept in its history with a reason."""

    class Role(models.TextChoices):
        COORDINATOR = "coordinator", "Research coordinator"
        STAFF = "staff", "Site staff / therapist"
        MONITOR = "monitor", "Monitor"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships", help_text="The user."
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="memberships", help_text="The site.")
    role = models.CharField(max_length=12, choices=Role.choices, help_text="What the user may do at this site.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["site", "user", "role"]
        constraints = [models.UniqueConstraint(fields=["user", "site", "role"], name="membership_unique")]

    def __str__(self):
        return f"{self.user} — {self.get_role_display()} at {self.site.code}"


class Participant(models.Model):
    class Status(models.TextChoices):
        ENROLLED = "enrolled", "Enrolled"
        IN_TREATMENT = "in_treatment", "In treatment"
        COMPLETED = "completed", "Completed"
        WITHDRAWN = "withdrawn", "Withdrawn"
        LOST = "lost", "Lost to follow-up"

    study_code = models.CharField(
        max_length=20,
        validators=[
            RegexValidator(
                STUDY_CODE_PATTERN, "Use uppercase letters and digits in groups joined by hyphens, e.g. S01-0007."
            )
        ],
        help_text="Pseudonymous study code, e.g. S01-0007. " + NO_IDENTIFIERS,
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="participants", help_text="Treating site.")
    protocol = models.ForeignKey(
        Protocol,
        on_delete=models.PROTECT,
        related_name="participants",
        help_text="Protocol; study codes are unique within it.",
    )
    protocol_version = models.ForeignKey(
        ProtocolVersion,
        on_delete=models.PROTECT,
        related_name="participants",
        help_text="Version the participant follows.",
    )
    enrollment_date = models.DateField(help_text="Date of enrollment at the site (site's local date).")
    status = models.CharField(
        max_length=12,
        choices=Status.choices,
        default=Status.ENROLLED,
        help_text="Where the participant is in the trial.",
    )
    withdrawn_on = models.DateField(null=True, blank=True, help_text="Date of withdrawal or loss to follow-up.")
    withdrawal_reason = models.TextField(blank=True, help_text="Why the participant left the trial. " + NO_IDENTIFIERS)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Coordinator who enrolled the participant.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["study_code"]
        constraints = [
            models.UniqueConstraint(fields=["protocol", "study_code"], name="study_code_unique_in_protocol"),
            models.CheckConstraint(condition=Q(study_code__regex=STUDY_CODE_PATTERN), name="study_code_pattern"),
        ]

    def __str__(self):
        return self.study_code

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.ENROLLED, self.Status.IN_TREATMENT)


BOOKED_STATUSES = ("scheduled", "completed")


class StudySession(models.Model):
    """One participant's instance of a session definition: booked, logged and signed here."""

    class Status(models.TextChoices):
        UNSCHEDULED = "unscheduled", "Unscheduled"
        SCHEDULED = "scheduled", "Scheduled"
        COMPLETED = "completed", "Completed"
        MISSED = "missed", "Missed"
        CANCELLED = "cancelled", "Cancelled"

    class Outcome(models.TextChoices):
        COMPLETED = "completed", "Completed as planned"
        STOPPED_EARLY = "stopped_early", "Stopped early"
        MISSED = "missed", "Missed (did not take place)"

    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="sessions", help_text="Participant."
    )
    definition = models.ForeignKey(
        SessionDefinition,
        on_delete=models.PROTECT,
        related_name="sessions",
        help_text="Planned session it carries out.",
    )
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.UNSCHEDULED, help_text="Booking and logging state."
    )
    scheduled_start = models.DateTimeField(null=True, blank=True, help_text="Booked start (stored in UTC).")
    scheduled_end = models.DateTimeField(null=True, blank=True, help_text="Booked end (stored in UTC).")
    room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.PROTECT, related_name="sessions", help_text="Booked room."
    )
    target_date = models.DateField(
        null=True, blank=True, help_text="Protocol target date (site-local), kept up to date by the schedule engine."
    )
    window_opens = models.DateField(null=True, blank=True, help_text="First day of the protocol window (site-local).")
    window_closes = models.DateField(null=True, blank=True, help_text="Last day of the protocol window (site-local).")
    room_busy_until = models.DateTimeField(
        null=True, blank=True, help_text="End of the room booking: session end plus the definition's room hold."
    )
    actual_start = models.DateTimeField(null=True, blank=True, help_text="When the session actually started.")
    actual_end = models.DateTimeField(null=True, blank=True, help_text="When the session actually ended.")
    outcome = models.CharField(max_length=14, choices=Outcome.choices, blank=True, help_text="Logged outcome.")
    attended_by = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="attended_sessions",
        help_text="Staff present at the session.",
    )
    notes = models.TextField(blank=True, help_text="Outcome notes. " + NO_IDENTIFIERS)
    cancel_reason = models.TextField(blank=True, help_text="Why the session was cancelled.")
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who logged the outcome.",
    )
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who signed the record (21 CFR 11.50).",
    )
    signed_at = models.DateTimeField(null=True, blank=True, help_text="When the record was signed (UTC).")
    signature_meaning = models.CharField(max_length=200, blank=True, help_text="What the signature means.")
    revision = models.PositiveIntegerField(
        default=0, help_text="Bumped by every change, so a stale edit can be refused instead of overwriting."
    )
    history = HistoricalRecords(m2m_fields=[attended_by])

    class Meta:
        ordering = ["participant", "definition__order"]
        indexes = [
            models.Index(fields=["status", "window_opens"], name="session_status_window_idx"),
            models.Index(fields=["scheduled_start"], name="session_scheduled_start_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["participant", "definition"], name="one_session_per_definition"),
            models.CheckConstraint(
                condition=Q(scheduled_end__isnull=True) | Q(scheduled_end__gt=F("scheduled_start")),
                name="session_scheduled_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(actual_end__isnull=True) | Q(actual_end__gt=F("actual_start")),
                name="session_actual_end_after_start",
            ),
            models.CheckConstraint(
                condition=~Q(status="scheduled") | (Q(scheduled_start__isnull=False) & Q(scheduled_end__isnull=False)),
                name="session_scheduled_has_times",
            ),
            models.CheckConstraint(
                condition=Q(room_busy_until__isnull=True) | Q(room_busy_until__gte=F("scheduled_end")),
                name="session_room_busy_until_after_end",
            ),
            models.CheckConstraint(
                condition=Q(signed_at__isnull=True, signed_by__isnull=True, signature_meaning="")
                | (Q(signed_at__isnull=False, signed_by__isnull=False) & ~Q(signature_meaning="")),
                name="session_signature_complete",
            ),
            PostgresExclusionConstraint(
                name="room_never_double_booked",
                expressions=[
                    (TsTzRange("scheduled_start", "room_busy_until"), RangeOperators.OVERLAPS),
                    ("room", RangeOperators.EQUAL),
                ],
                condition=Q(status__in=BOOKED_STATUSES, room__isnull=False),
            ),
            PostgresExclusionConstraint(
                name="participant_sessions_never_overlap",
                expressions=[
                    (TsTzRange("scheduled_start", "scheduled_end"), RangeOperators.OVERLAPS),
                    ("participant", RangeOperators.EQUAL),
                ],
                condition=Q(status__in=BOOKED_STATUSES),
            ),
        ]

    def __str__(self):
        return f"{self.participant.study_code} {self.definition.code}"

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None


class Assignment(models.Model):
    """A therapist booked for a study session; carries the session's times for the clash rule."""

    session = models.ForeignKey(
        StudySession, on_delete=models.PROTECT, related_name="assignments", help_text="The booked session."
    )
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments", help_text="Therapist booked."
    )
    starts_at = models.DateTimeField(help_text="Copy of the session's scheduled start.")
    ends_at = models.DateTimeField(help_text="Copy of the session's scheduled end.")
    is_active = models.BooleanField(
        default=True, help_text="False once the session is cancelled or the therapist is replaced."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="assignment_end_after_start"),
            models.UniqueConstraint(
                fields=["session", "therapist"], condition=Q(is_active=True), name="assignment_unique_active"
            ),
            PostgresExclusionConstraint(
                name="therapist_never_double_booked",
                expressions=[
                    (TsTzRange("starts_at", "ends_at"), RangeOperators.OVERLAPS),
                    ("therapist", RangeOperators.EQUAL),
                ],
                condition=Q(is_active=True),
            ),
        ]

    def __str__(self):
        return f"{self.therapist} → {self.session}"


class Deviation(models.Model):
    class Category(models.TextChoices):
        OUT_OF_WINDOW = "out_of_window", "Out of window"
        MISSED = "missed", "Missed session"
        OUT_OF_SEQUENCE = "out_of_sequence", "Out of sequence"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"
        VOIDED = "voided", "Voided"

    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="deviations", help_text="Participant concerned."
    )
    session = models.ForeignKey(
        StudySession,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deviations",
        help_text="Session concerned, if any.",
    )
    category = models.CharField(max_length=16, choices=Category.choices, help_text="Kind of deviation.")
    description = models.TextField(help_text="What happened and why. " + NO_IDENTIFIERS)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", help_text="Who reported it."
    )
    reported_at = models.DateTimeField(help_text="When it was reported (UTC).")
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.OPEN, help_text="Open, closed or voided."
    )
    resolution = models.TextField(blank=True, help_text="How it was resolved (closing) or why it was voided.")
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who closed or voided it.",
    )
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When it was closed or voided (UTC).")
    history = HistoricalRecords()

    class Meta:
        ordering = ["-reported_at"]

    def __str__(self):
        return f"{self.participant.study_code}: {self.get_category_display()}"


class CalendarFeed(models.Model):
    """A user's private iCalendar feed URL. The token is the only credential: revoke by regenerating."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed", help_text="Feed owner."
    )
    token = models.CharField(max_length=64, unique=True, help_text="Secret part of the feed URL.")
    created_at = models.DateTimeField(auto_now_add=True, help_text="When this token was issued.")

    def __str__(self):
        return f"Calendar feed of {self.user}"


class ReminderLog(models.Model):
    """One reminder e-mail sent, so that sendreminders sends each at most once a day."""

    class Kind(models.TextChoices):
        TOMORROW = "tomorrow", "Tomorrow's sessions"
        TO_SCHEDULE = "to_schedule", "Sessions to schedule"

    day = models.DateField(help_text="Day the reminder was for.")
    kind = models.CharField(max_length=12, choices=Kind.choices, help_text="Which reminder.")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", help_text="Who was e-mailed."
    )
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", help_text="Site the reminder covered.")
    sent_at = models.DateTimeField(auto_now_add=True, help_text="When it was sent (UTC).")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "kind", "recipient", "site"], name="reminder_once_per_day")
        ]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.recipient} on {self.day}"
