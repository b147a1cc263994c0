"""Records the whole project shares: the log of account changes made by administrators."""

from django.conf import settings
from django.db import models


class AccountChange(models.Model):
    """One change to a user account (created, activated, deactivated, staff or superuser status,
    groups, permissions), with who made it, when and why. Written by the admin, never edited.

    Role grants at a site are Memberships, whose own history records them; the account change log
    page shows both side by side.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True, help_text="When the change was saved (UTC).")
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="account_changes",
        help_text="The account that was changed.",
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="account_changes_made",
        help_text="The administrator who made the change (empty for a command-line change).",
    )
    change = models.TextField(help_text="What changed, old → new, one item per line.")
    reason = models.TextField(help_text="Why the change was made, as the administrator entered it.")

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "account change"

    def __str__(self):
        return f"{self.account} changed {self.at:%Y-%m-%d %H:%M} UTC"
