from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import QueryDict
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from sessions import selectors
from sessions.models import Assignment, Deviation, Membership, Participant, Room, Site, StudySession


class RoomInline(admin.TabularInline):
    model = Room
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "time_zone"]
    search_fields = ["code", "name"]
    inlines = [RoomInline]


def _site_local(session) -> str:
    local = session.scheduled_start.astimezone(session.participant.site.zone)
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M} ({session.participant.site.time_zone})"


def stranded_bookings(*, user_id: int, site_id: int) -> list[dict]:
    """Future bookings left with someone who is no longer staff at the site: study code, session
    code, site-local start and a link to the session page where a coordinator reassigns them."""
    return [
        {
            "study_code": session.participant.study_code,
            "session_code": session.definition.code,
            "start": _site_local(session),
            "url": reverse("sessions:session_detail", args=[session.pk]),
        }
        for session in selectors.future_bookings_of(user_id=user_id, site_id=site_id)
    ]


def _warn_stranded(request, who, site, bookings: list[dict]) -> None:
    items = format_html_join(
        "",
        '<br><a href="{}">{} · {} · {}</a>',
        ((b["url"], b["study_code"], b["session_code"], b["start"]) for b in bookings),
    )
    messages.warning(
        request,
        format_html(
            "{} is no longer staff at {} but is still booked on {} future session(s). "
            "Reassign them on each session page:{}",
            who,
            site.code,
            len(bookings),
            items,
        ),
    )


class MembershipForm(forms.ModelForm):
    reason = forms.CharField(
        label="Reason for this change",
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        max_length=1000,
        help_text="Recorded in the account change log with your name and the time (ICH E6(R3)). Required.",
    )

    class Meta:
        model = Membership
        fields = ["user", "site", "role", "reason"]


@admin.register(Membership)
class MembershipAdmin(SimpleHistoryAdmin):
    """Roles at sites. Every grant, change and removal asks for a reason, kept in the history
    and shown on the account change log (trialtracker.account_log)."""

    form = MembershipForm
    list_display = ["user", "site", "role"]
    list_filter = ["site", "role"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    list_select_related = ["user", "site"]
    delete_confirmation_template = "admin/trial_sessions/membership/delete_confirmation.html"
    change_list_template = "admin/trial_sessions/membership/change_list.html"

    def get_actions(self, request):
        # Removing roles in bulk would skip the reason: each removal is confirmed on its own page.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        obj._change_reason = form.cleaned_data["reason"].strip()
        before = Membership.objects.filter(pk=obj.pk).select_related("user", "site").first() if change else None
        super().save_model(request, obj, form, change)
        if before is None or before.role != Membership.Role.STAFF:
            return
        still_staff = Membership.objects.filter(
            user_id=before.user_id, site_id=before.site_id, role=Membership.Role.STAFF
        ).exists()
        if not still_staff:
            bookings = stranded_bookings(user_id=before.user_id, site_id=before.site_id)
            if bookings:
                _warn_stranded(request, before.user, before.site, bookings)

    def delete_view(self, request, object_id, extra_context=None):
        reason = request.POST.get("reason", "").strip() if request.method == "POST" else ""
        if request.method == "POST" and not reason:
            # Re-show the confirmation page with the error instead of deleting.
            request.POST = QueryDict()
            extra_context = {**(extra_context or {}), "reason_error": "Say why this role is being removed."}
        request._membership_removal_reason = reason[:1000]
        membership = self.get_object(request, unquote(object_id))
        if membership is not None and membership.role == Membership.Role.STAFF:
            # Shown on the confirmation page; the removal is not blocked.
            bookings = stranded_bookings(user_id=membership.user_id, site_id=membership.site_id)
            extra_context = {**(extra_context or {}), "stranded_bookings": bookings}
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        obj._change_reason = request._membership_removal_reason
        super().delete_model(request, obj)
        if obj.role == Membership.Role.STAFF:
            bookings = stranded_bookings(user_id=obj.user_id, site_id=obj.site_id)
            if bookings:
                _warn_stranded(request, obj.user, obj.site, bookings)


class ClinicalRecordAdmin(SimpleHistoryAdmin):
    """Read-only admin for clinical records and their audit trail.

    Clinical records change only through sessions.services, which require and record a reason;
    the admin would bypass that, so here they can be looked at, never added, edited, reverted
    or deleted (SPEC §2.4).
    """

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        # Without this the changelist would still offer "delete selected".
        return {}

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # simple-history's revert form saves on POST whatever SIMPLE_HISTORY_REVERT_DISABLED says.
        if request.method != "GET":
            raise PermissionDenied("The audit trail is read-only.")
        return super().history_form_view(request, object_id, version_id, extra_context)


class AssignmentInline(admin.TabularInline):
    model = Assignment
    extra = 0
    fields = ["therapist", "starts_at", "ends_at", "is_active"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Participant)
class ParticipantAdmin(ClinicalRecordAdmin):
    list_display = ["study_code", "site", "protocol_version", "enrollment_date", "status"]
    list_filter = ["site", "status", "protocol"]
    search_fields = ["study_code"]


@admin.register(StudySession)
class StudySessionAdmin(ClinicalRecordAdmin):
    list_display = ["participant", "definition", "status", "scheduled_start", "room", "outcome", "signed_at"]
    list_filter = ["status", "participant__site", "definition__phase"]
    search_fields = ["participant__study_code", "definition__code"]
    list_select_related = ["participant", "definition", "room"]
    inlines = [AssignmentInline]


@admin.register(Assignment)
class AssignmentAdmin(ClinicalRecordAdmin):
    list_display = ["session", "therapist", "starts_at", "ends_at", "is_active"]
    list_filter = ["is_active"]
    list_select_related = ["session__participant", "session__definition", "therapist"]


@admin.register(Deviation)
class DeviationAdmin(ClinicalRecordAdmin):
    list_display = ["participant", "category", "status", "reported_by", "reported_at"]
    list_filter = ["status", "category", "participant__site"]
    search_fields = ["participant__study_code", "description"]
