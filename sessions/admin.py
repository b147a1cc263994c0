from django import forms
from django.contrib import admin
from django.http import QueryDict
from simple_history.admin import SimpleHistoryAdmin

from sessions.models import Membership, Room, Site


class RoomInline(admin.TabularInline):
    model = Room
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "time_zone"]
    search_fields = ["code", "name"]
    inlines = [RoomInline]


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
        super().save_model(request, obj, form, change)

    def delete_view(self, request, object_id, extra_context=None):
        reason = request.POST.get("reason", "").strip() if request.method == "POST" else ""
        if request.method == "POST" and not reason:
            # Re-show the confirmation page with the error instead of deleting.
            request.POST = QueryDict()
            extra_context = {**(extra_context or {}), "reason_error": "Say why this role is being removed."}
        request._membership_removal_reason = reason[:1000]
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        obj._change_reason = request._membership_removal_reason
        super().delete_model(request, obj)
