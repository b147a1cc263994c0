"""Trial protocols and their versioned session plans.

A protocol has versions; each version holds an ordered list of session definitions
(PREP1, DOSE1, ...). An active version is immutable: change comes as an amendment, a new
draft version cloned from it. Nothing here stores a dose: a dosing definition carries only
a citation of the protocol section an admin entered.
"""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

CODE_VALIDATOR = RegexValidator(
    r"^[A-Z][A-Z0-9_-]*$", "Use uppercase letters, digits, hyphens or underscores, starting with a letter."
)
# Rule 1 of the brief: a dose amount never enters the app, not even inside a citation.
NO_DOSE_VALIDATOR = RegexValidator(
    r"(?i)\d\s*(mg|mcg|µg|ug|ml|g)\b",
    "No dose amounts: TrialTracker never holds a dose. Cite the protocol section instead.",
    inverse_match=True,
)

# The fields of a session definition that make up the plan: what an amendment copies and a
# protocol file carries (the anchor travels separately, by code).
DEFINITION_FIELDS = (
    "order",
    "code",
    "name",
    "phase",
    "duration_minutes",
    "offset_days",
    "window_early_days",
    "window_late_days",
    "therapists_required",
    "room_hold_hours",
    "protocol_citation",
)


MAX_ORDER = 9999  # orders above it are free for services.save_draft to park rows while they move


def locked_message(name: str, status: str) -> str:
    """Why an active or retired version refuses a change, and what to do instead."""
    return (
        f"{name} is {status} and cannot be changed. "
        "Create an amendment (a new draft version cloned from it) to change the plan."
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

    def clean(self):
        if self.pk is None:
            return
        stored_code = Protocol.objects.filter(pk=self.pk).values_list("code", flat=True).first()
        in_use = self.versions.exclude(status=ProtocolVersion.Status.DRAFT).exists()
        if stored_code is not None and stored_code != self.code and in_use:
            raise ValidationError(
                {"code": "The code of a protocol with an active or retired version cannot change: files cite it."}
            )


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

    # The only status changes there are; services make them, after their own checks.
    TRANSITIONS = {(Status.DRAFT, Status.ACTIVE), (Status.ACTIVE, Status.RETIRED)}

    def __str__(self):
        return f"{self.protocol.code} {self.label}"

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def locked_message(self) -> str:
        return locked_message(str(self), self.get_status_display().lower())

    def clean(self):
        """An active or retired version is immutable; only its lifecycle moves on."""
        if self.pk is None:
            return
        stored = (
            ProtocolVersion.objects.filter(pk=self.pk)
            .values("status", "protocol_id", "label", "effective_date", "amended_from_id")
            .first()
        )
        if stored is None:
            return
        if stored["status"] != self.status and (stored["status"], self.status) not in self.TRANSITIONS:
            raise ValidationError(
                {"status": f"A version cannot go from {stored['status']} to {self.status}."}, code="transition"
            )
        if stored["status"] != self.Status.DRAFT:
            fields = ("protocol_id", "label", "effective_date", "amended_from_id")
            if any(getattr(self, field) != stored[field] for field in fields):
                raise ValidationError(locked_message(f"Version {stored['label']}", stored["status"]), code="locked")


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
    order = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(MAX_ORDER)],
        help_text=f"Position in the plan (0 to {MAX_ORDER}); anchors must come earlier.",
    )
    code = models.CharField(max_length=12, validators=[CODE_VALIDATOR], help_text="Session code, e.g. PREP1 or DOSE2.")
    name = models.CharField(
        max_length=100,
        validators=[NO_DOSE_VALIDATOR],
        help_text="Session name shown to staff, e.g. Preparation 1.",
    )
    phase = models.CharField(max_length=12, choices=Phase.choices, help_text="Treatment phase.")
    duration_minutes = models.PositiveIntegerField(help_text="Planned duration in minutes.")
    anchor = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        # RESTRICT, not PROTECT: a draft version can still be deleted whole (its sessions cascade).
        on_delete=models.RESTRICT,
        related_name="dependents",
        help_text="Earlier session this one is timed from; empty means the enrollment date.",
    )
    anchor_order = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="Copy of the anchor's order, kept in step on save, so that the database itself "
        "refuses an anchor that is not earlier in the plan.",
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
        validators=[NO_DOSE_VALIDATOR],
        help_text="Protocol section staff must follow for this session, e.g. 'Protocol v3.0 §6.3'. "
        "Never a dose or schedule.",
    )
    history = HistoricalRecords(excluded_fields=["anchor_order"])

    class Meta:
        ordering = ["version", "order"]
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="definition_code_unique_in_version"),
            models.UniqueConstraint(fields=["version", "order"], name="definition_order_unique_in_version"),
            models.CheckConstraint(
                condition=Q(duration_minutes__gt=0),
                name="definition_duration_positive",
                violation_error_message="The planned duration must be more than zero minutes.",
            ),
            models.CheckConstraint(
                condition=~Q(phase="dosing") | Q(therapists_required__gte=1),
                name="definition_dosing_needs_therapist",
                violation_error_message="A dosing session needs at least one therapist.",
            ),
            models.CheckConstraint(condition=~Q(anchor=F("id")), name="definition_anchor_not_self"),
            # With anchor_order a faithful copy of the anchor's order (save() keeps it so), this
            # makes forward anchors and anchor cycles impossible in the database itself.
            models.CheckConstraint(
                condition=Q(anchor__isnull=True, anchor_order__isnull=True)
                | Q(anchor__isnull=False, anchor_order__isnull=False, anchor_order__lt=F("order")),
                name="definition_anchor_is_earlier",
                violation_error_message="The anchor must be an earlier session in the plan.",
            ),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"

    def save(self, *args, **kwargs):
        # anchor_order is a denormalised copy for the definition_anchor_is_earlier constraint;
        # keeping it here means no write path can forget it.
        self.anchor_order = (
            SessionDefinition.objects.filter(pk=self.anchor_id).values_list("order", flat=True).first()
            if self.anchor_id is not None
            else None
        )
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "anchor_order" not in update_fields:
            kwargs["update_fields"] = [*update_fields, "anchor_order"]
        super().save(*args, **kwargs)
        SessionDefinition.objects.filter(anchor_id=self.pk).exclude(anchor_order=self.order).update(
            anchor_order=self.order
        )

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

    # Set by a form that edits the whole plan at once and checks it as a whole (the admin's
    # inline): then this row is not compared with the others' saved orders, which may be moving.
    checked_with_its_plan = False

    def rule_errors(self) -> dict[str, str]:
        """Problems of this row alone, without the database (the import reuses them)."""
        errors = {}
        if self.duration_minutes is not None and self.duration_minutes <= 0:
            errors["duration_minutes"] = "The planned duration must be more than zero minutes."
        if self.phase == self.Phase.DOSING and self.therapists_required is not None and self.therapists_required < 1:
            errors["therapists_required"] = "A dosing session needs at least one therapist."
        return errors

    def clean(self):
        # The database cannot compare two rows beyond anchor_order; the version and order rules
        # are checked here, and again by the import and amendment services that write definitions.
        if self.version_id is not None:
            version = ProtocolVersion.objects.filter(pk=self.version_id).first()
            if version is not None and not version.is_editable:
                raise ValidationError(version.locked_message, code="locked")
        errors = self.rule_errors()
        self.anchor_order = None
        if self.anchor_id is not None:
            # The anchor as saved, not as cached on this instance: it may have moved since.
            anchor = SessionDefinition.objects.filter(pk=self.anchor_id).values("version_id", "order", "code").get()
            self.anchor_order = anchor["order"]
            if self.anchor_id == self.pk:
                errors["anchor"] = "A session cannot be timed from itself."
            elif anchor["version_id"] != self.version_id:
                errors["anchor"] = "The anchor must be a session of the same protocol version."
            elif self.order is not None and anchor["order"] >= self.order and not self.checked_with_its_plan:
                errors["anchor"] = (
                    f"The anchor must be an earlier session in the plan ({anchor['code']} has order {anchor['order']})."
                )
        if self.pk is not None and self.order is not None and not self.checked_with_its_plan:
            later = self.dependents.filter(order__lte=self.order).order_by("order").first()
            if later is not None:
                errors["order"] = (
                    f"{later.code} (order {later.order}) is timed from this session, so this one must come first."
                )
        if errors:
            raise ValidationError(errors)
