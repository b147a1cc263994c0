"""Trial protocols and their versioned session plans.

A protocol has versions; each version holds an ordered list of session definitions
(PREP1, DOSE1, ...). An active version is immutable: change comes as an amendment, a new
draft version cloned from it. Nothing here stores a dose: a dosing definition carries only
a citation of the protocol section an admin entered.
"""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

CODE_VALIDATOR = RegexValidator(
    r"^[A-Z][A-Z0-9_-]*$", "Use uppercase letters, digits, hyphens or underscores, starting with a letter."
)


class Protocol(models.Model):
    code = models.CharField(
        max_length=40, unique=True, validators=[CODE_VALIDATOR], help_text="Short protocol code, e.g. MAPP-X."
    )
    title = models.CharField(max_length=300, help_text="Full protocol title.")
    sponsor = models.CharField(max_length=200, blank=True, help_text="Sponsoring organisation.")
    registry_id = models.CharField(max_length=40, blank=True, help_text="Trial registry identifier, e.g. NCT01234567.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class ProtocolVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    protocol = models.ForeignKey(
        Protocol, on_delete=models.PROTECT, related_name="versions", help_text="The protocol this version belongs to."
    )
    label = models.CharField(max_length=60, help_text="Version label, e.g. v1.0 or Amendment 2.")
    effective_date = models.DateField(null=True, blank=True, help_text="Date the version takes effect.")
    status = models.CharField(
        max_length=10,
        choices=Status.choices,
        default=Status.DRAFT,
        help_text="Draft versions can be edited; active ones are immutable; retired ones take no new participants.",
    )
    amended_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="amendments",
        help_text="The version this amendment was cloned from.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["protocol__code", "effective_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["protocol", "label"], name="protocol_version_label_unique"),
        ]

    def __str__(self):
        return f"{self.protocol.code} {self.label}"

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT


class SessionDefinition(models.Model):
    """One planned session of a protocol version: when it falls and what it needs."""

    class Phase(models.TextChoices):
        PREPARATION = "preparation", "Preparation"
        DOSING = "dosing", "Dosing"
        INTEGRATION = "integration", "Integration"

    version = models.ForeignKey(
        ProtocolVersion,
        on_delete=models.CASCADE,
        related_name="definitions",
        help_text="The protocol version this session belongs to.",
    )
    order = models.PositiveSmallIntegerField(help_text="Position in the plan; anchors must come earlier.")
    code = models.CharField(max_length=12, validators=[CODE_VALIDATOR], help_text="Session code, e.g. PREP1 or DOSE2.")
    name = models.CharField(max_length=100, help_text="Session name shown to staff, e.g. Preparation 1.")
    phase = models.CharField(max_length=12, choices=Phase.choices, help_text="Treatment phase.")
    duration_minutes = models.PositiveIntegerField(help_text="Planned duration in minutes.")
    anchor = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dependents",
        help_text="Earlier session this one is timed from; empty means the enrollment date.",
    )
    offset_days = models.PositiveSmallIntegerField(help_text="Days after the anchor date of the target date.")
    window_early_days = models.PositiveSmallIntegerField(default=0, help_text="Days before the target still in window.")
    window_late_days = models.PositiveSmallIntegerField(default=0, help_text="Days after the target still in window.")
    therapists_required = models.PositiveSmallIntegerField(
        default=1, help_text="Therapists who must be booked (dosing: usually a co-therapist pair)."
    )
    room_hold_hours = models.PositiveSmallIntegerField(
        default=0, help_text="Hours the room stays booked after the session ends (e.g. overnight stay)."
    )
    protocol_citation = models.CharField(
        max_length=300,
        blank=True,
        help_text="Protocol section staff must follow for this session, e.g. 'Protocol v3.0 §6.3'. "
        "Never a dose or schedule.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["version", "order"]
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="definition_code_unique_in_version"),
            models.UniqueConstraint(fields=["version", "order"], name="definition_order_unique_in_version"),
            models.CheckConstraint(condition=Q(duration_minutes__gt=0), name="definition_duration_positive"),
            models.CheckConstraint(
                condition=~Q(phase="dosing") | Q(therapists_required__gte=1),
                name="definition_dosing_needs_therapist",
            ),
            models.CheckConstraint(condition=~Q(anchor=F("id")), name="definition_anchor_not_self"),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"

    @property
    def is_dosing(self) -> bool:
        return self.phase == self.Phase.DOSING

    def as_planned(self):
        """This definition as plain data for the schedule engine."""
        from protocols.schedule import PlannedSession

        return PlannedSession(
            code=self.code,
            order=self.order,
            anchor_code=self.anchor.code if self.anchor_id else None,
            offset_days=self.offset_days,
            early_days=self.window_early_days,
            late_days=self.window_late_days,
            duration_minutes=self.duration_minutes,
        )

    def clean(self):
        # The database cannot compare two rows; the order/version rule is checked here
        # and again by the import and amendment code that writes definitions.
        if self.anchor_id is not None:
            anchor = self.anchor
            if anchor.version_id != self.version_id:
                raise ValidationError({"anchor": "The anchor must be a session of the same protocol version."})
            if anchor.order >= self.order:
                raise ValidationError({"anchor": "The anchor must be an earlier session in the plan."})
