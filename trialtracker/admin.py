"""Admin for accounts: every change to who may do what is saved with a reason and put on record."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from trialtracker.account_log import TRACKED_ACCOUNT_FIELDS, account_snapshot, describe_changes, record_account_change
from trialtracker.models import AccountChange
from trialtracker.security import BoundedModelMultipleChoiceField

User = get_user_model()

REASON_HELP = "Recorded in the account change log with your name and the time (ICH E6(R3)). Required."


def reason_field():
    return forms.CharField(
        label="Reason for this change",
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        max_length=1000,
        help_text=REASON_HELP,
    )


class AccountCreationForm(AdminUserCreationForm):
    reason = reason_field()


class AccountForm(UserChangeForm):
    reason = reason_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A reason is asked for only when something on record changes (not for a typo in a name).
        self.fields["reason"].required = False

    def clean(self):
        cleaned = super().clean()
        watched = [*TRACKED_ACCOUNT_FIELDS, "groups", "user_permissions"]
        if any(name in self.changed_data for name in watched) and not (cleaned.get("reason") or "").strip():
            self.add_error("reason", "Say why: changes to access are kept on record with a reason.")
        return cleaned


@admin.register(AccountChange)
class AccountChangeAdmin(admin.ModelAdmin):
    """The log is written by the user admin only: here it can be read, never edited or deleted."""

    list_display = ["at", "account", "change", "by", "reason"]
    list_filter = ["at"]
    search_fields = ["account__username", "by__username", "change", "reason"]
    list_select_related = ["account", "by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin, with a reason on record for each change to access; accounts are
    deactivated, never deleted (the audit trail points at them)."""

    form = AccountForm
    add_form = AccountCreationForm
    fieldsets = (*DjangoUserAdmin.fieldsets, ("On record", {"fields": ("reason",)}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("On record", {"fields": ("reason",)}))
    list_display = ("username", "first_name", "last_name", "is_active", "is_staff", "is_superuser")

    def has_delete_permission(self, request, obj=None):
        return False

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("form_class", BoundedModelMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            account = User.objects.get(pk=id)
            change = (
                "password set by an administrator" if account.has_usable_password() else "password sign-in disabled"
            )
            record_account_change(account=account, by=request.user, changes=[change], reason="Set in the admin")
        return response

    def save_model(self, request, obj, form, change):
        request._account_before = account_snapshot(User.objects.get(pk=obj.pk)) if change else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        account = form.instance
        record_account_change(
            account=account,
            by=request.user,
            changes=describe_changes(getattr(request, "_account_before", {}), account_snapshot(account)),
            reason=form.cleaned_data.get("reason", ""),
        )
