"""Writes to protocols: the version lifecycle (draft → active → retired), amendments and imports.

Every service is keyword-only, runs in one transaction and records who did it and why in the
audit trail. An active or retired version never changes: change comes as an amendment, a new
draft version cloned from it.
"""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, RestrictedError

from protocols.files import ProtocolFileError, read_protocol_file
from protocols.models import DEFINITION_FIELDS, MAX_ORDER, Protocol, ProtocolVersion, SessionDefinition
from protocols.schedule import validate_plan

Status = ProtocolVersion.Status
PARKING = MAX_ORDER + 1  # added to every order while a draft's sessions change places


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give a reason: it is kept in the audit trail."})
    return reason


def _audit(instance, *, by: AbstractBaseUser | None, reason: str) -> None:
    instance._change_reason = reason
    if by is not None:
        instance._history_user = by


def plan_problems(version: ProtocolVersion, *, allow_empty: bool = False) -> list[str]:
    """Everything that stops a version's plan from being activated, as sentences."""
    definitions = list(version.definitions.select_related("anchor").order_by("order"))
    if not definitions and not allow_empty:
        return [f"{version} has no sessions yet."]
    problems = validate_plan([definition.as_planned() for definition in definitions])
    for definition in definitions:
        if definition.anchor_id is not None and definition.anchor.version_id != version.pk:
            problems.append(f"{definition.code}: its anchor belongs to another version.")
        problems.extend(f"{definition.code}: {message}" for message in definition.rule_errors().values())
    return problems


def _lock_draft(version: ProtocolVersion) -> ProtocolVersion:
    """The version row, locked; refused with the amendment hint unless it is a draft."""
    stored = ProtocolVersion.objects.select_for_update().select_related("protocol").get(pk=version.pk)
    if not stored.is_editable:
        raise ValidationError(stored.locked_message, code="locked")
    return stored


@transaction.atomic
def save_draft(
    *,
    version: ProtocolVersion,
    by: AbstractBaseUser | None,
    reason: str,
    definitions: Iterable[SessionDefinition] = (),
    deleted: Iterable[SessionDefinition] = (),
) -> ProtocolVersion:
    """Write edits to a draft version and its sessions; an active or retired version refuses.

    `definitions` are new or changed rows, `deleted` rows to remove. Any plan that is valid
    once written can be written in one go, reordering included: the rows are written in
    their new order, so neither the unique order nor the earlier-anchor constraint is ever
    broken on the way. Each row is checked by the model and the plan as a whole afterwards;
    anything wrong rolls the whole save back.
    """
    reason = _reason(reason)
    if version.pk is None:
        if version.status != Status.DRAFT:
            raise ValidationError("New versions start as drafts; activate them once the plan is complete.")
    else:
        _lock_draft(version)
    version.full_clean()
    _audit(version, by=by, reason=reason)
    version.save()

    changed = list(definitions)
    deleted = [definition for definition in deleted if definition.pk is not None]
    saved_orders = dict(SessionDefinition.objects.filter(version=version).values_list("pk", "order"))
    moving = any(d.pk in saved_orders and saved_orders[d.pk] != d.order for d in changed)
    steps: list[tuple[int, SessionDefinition | int]] = [(definition.order, definition) for definition in changed]
    if moving:
        # Park every row above MAX_ORDER, keeping their relative order, so that each can take its
        # new place in turn; rows nobody changed go back to their old place at their turn.
        SessionDefinition.objects.filter(version=version).update(
            order=F("order") + PARKING, anchor_order=F("anchor_order") + PARKING
        )
        untouched = set(saved_orders) - {d.pk for d in changed} - {d.pk for d in deleted}
        steps += [(saved_orders[pk], pk) for pk in untouched]
    for order, step in sorted(steps, key=lambda item: item[0]):
        if isinstance(step, SessionDefinition):
            step.version = version
            step.checked_with_its_plan = False  # written in plan order, so each row checks against the saved ones
            step.full_clean()
            _audit(step, by=by, reason=reason)
            step.save()
        else:
            SessionDefinition.objects.filter(pk=step).update(order=order)
            SessionDefinition.objects.filter(anchor_id=step).update(anchor_order=order)
    for definition in sorted(deleted, key=lambda d: saved_orders.get(d.pk, 0), reverse=True):
        _audit(definition, by=by, reason=reason)
        try:
            definition.delete()
        except RestrictedError as error:
            codes = ", ".join(sorted(d.code for d in error.restricted_objects))
            raise ValidationError(f"{definition.code} cannot be deleted: {codes} still timed from it.") from error
    problems = plan_problems(version, allow_empty=True)
    if problems:
        raise ValidationError(problems)
    return version


@transaction.atomic
def activate_version(*, version: ProtocolVersion, by: AbstractBaseUser | None, reason: str) -> ProtocolVersion:
    """Draft → active: the plan is checked whole, then frozen."""
    reason = _reason(reason)
    version = ProtocolVersion.objects.select_for_update().select_related("protocol").get(pk=version.pk)
    if version.status != Status.DRAFT:
        raise ValidationError(f"Only a draft can be activated: {version} is {version.get_status_display().lower()}.")
    problems = plan_problems(version)
    if problems:
        raise ValidationError(problems)
    version.status = Status.ACTIVE
    _audit(version, by=by, reason=reason)
    version.save()
    return version


@transaction.atomic
def retire_version(*, version: ProtocolVersion, by: AbstractBaseUser | None, reason: str) -> ProtocolVersion:
    """Active → retired: the version takes no new participants; those on it stay on it."""
    reason = _reason(reason)
    version = ProtocolVersion.objects.select_for_update().select_related("protocol").get(pk=version.pk)
    if version.status != Status.ACTIVE:
        status = version.get_status_display().lower()
        raise ValidationError(f"Only an active version can be retired: {version} is {status}.")
    version.status = Status.RETIRED
    _audit(version, by=by, reason=reason)
    version.save()
    return version


@transaction.atomic
def create_amendment(
    *,
    version: ProtocolVersion,
    label: str,
    by: AbstractBaseUser | None,
    reason: str,
    effective_date=None,
) -> ProtocolVersion:
    """A new draft cloned from an active or retired version: every session, anchors remapped."""
    reason = _reason(reason)
    source = ProtocolVersion.objects.select_related("protocol").get(pk=version.pk)
    if source.status == Status.DRAFT:
        raise ValidationError(f"{source} is still a draft: change it directly instead of amending it.")
    amendment = ProtocolVersion(
        protocol=source.protocol,
        label=(label or "").strip(),
        effective_date=effective_date,
        status=Status.DRAFT,
        amended_from=source,
    )
    amendment.full_clean()
    _audit(amendment, by=by, reason=reason)
    amendment.save()
    clones: dict[int, SessionDefinition] = {}
    for definition in source.definitions.order_by("order"):
        clone = SessionDefinition(
            version=amendment,
            anchor=clones[definition.anchor_id] if definition.anchor_id is not None else None,
            **{field: getattr(definition, field) for field in DEFINITION_FIELDS},
        )
        _audit(clone, by=by, reason=reason)
        clone.save()
        clones[definition.pk] = clone
    return amendment


def import_protocol(
    *,
    text: str,
    by: AbstractBaseUser | None,
    reason: str = "",
    activate: bool = False,
    source: str = "a protocol file",
) -> ProtocolVersion:
    """Create the version a protocol file describes, or nothing at all.

    The whole file is checked first and every problem reported (ProtocolFileError); only a
    clean file is written, in one transaction. The version arrives as a draft unless the file
    says otherwise or `activate` is set.
    """
    reason = (reason or "").strip() or f"Imported from {source}"
    parsed = read_protocol_file(text)
    try:
        with transaction.atomic():
            protocol = parsed.existing_protocol
            if protocol is None:
                protocol = Protocol(**parsed.protocol)
                _audit(protocol, by=by, reason=reason)
                protocol.save()
            version = ProtocolVersion(
                protocol=protocol,
                label=parsed.version["label"],
                effective_date=parsed.version["effective_date"],
                amended_from=parsed.amended_from,
                status=Status.DRAFT,
            )
            _audit(version, by=by, reason=reason)
            version.save()
            by_code: dict[str, SessionDefinition] = {}
            for session in sorted(parsed.sessions, key=lambda s: s["order"]):
                definition = SessionDefinition(
                    version=version,
                    anchor=by_code[session["anchor"]] if session["anchor"] is not None else None,
                    **{field: session[field] for field in DEFINITION_FIELDS},
                )
                _audit(definition, by=by, reason=reason)
                definition.save()
                by_code[definition.code] = definition
            status = parsed.version["status"]
            if activate or status in (Status.ACTIVE, Status.RETIRED):
                version = activate_version(version=version, by=by, reason=reason)
            if status == Status.RETIRED:
                version = retire_version(version=version, by=by, reason=reason)
    except IntegrityError as error:
        # Someone imported the same version between our check and our write.
        raise ProtocolFileError([f"file: could not be saved ({error}); nothing was imported."]) from error
    return version
