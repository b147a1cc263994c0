from django.contrib import admin
from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin

from sessions.models import Assignment, Deviation, Membership, Participant, Room, Site, StudySession


class RoomInline(admin.TabularInline):
    model = Room
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "time_zone"]
    search_fields = ["code", "name"]
    inlines = [RoomInline]


@admin.register(Membership)
class MembershipAdmin(SimpleHistoryAdmin):
    list_display = ["user", "site", "role"]
    list_filter = ["site", "role"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]


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
