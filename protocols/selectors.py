"""Reads for the protocol pages. Protocols belong to no site: every signed-in user may read the
active and retired versions; drafts are work in progress, visible to administrators only."""

from django.db.models import Count, Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from protocols.models import ProtocolVersion, SessionDefinition


def _definitions():
    return Prefetch("definitions", queryset=SessionDefinition.objects.select_related("anchor").order_by("order"))


def versions_for_user(user) -> QuerySet[ProtocolVersion]:
    versions = ProtocolVersion.objects.select_related("protocol", "amended_from")
    if not user.is_superuser:
        versions = versions.exclude(status=ProtocolVersion.Status.DRAFT)
    return versions.annotate(session_count=Count("definitions")).order_by("protocol__code", "effective_date", "id")


def protocol_versions_for_user(user) -> QuerySet[ProtocolVersion]:
    """Every visible version with its plan, for the protocol list."""
    return versions_for_user(user).prefetch_related(_definitions())


def get_version_for_user(user, pk: int) -> ProtocolVersion:
    """One visible version with its plan and its amendments; 404 when it is not visible."""
    visible = versions_for_user(user)
    return get_object_or_404(
        visible.prefetch_related(_definitions(), Prefetch("amendments", queryset=visible.order_by("id"))), pk=pk
    )
