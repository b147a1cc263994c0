"""Account and role changes on record (ICH E6(R3)): who granted or removed which role, when and why.

Two sources, one log: the history of Membership (a role at a site; simple-history records every
grant, change and removal with its reason) and AccountChange (the account itself: active, staff,
superuser, groups, permissions). Both are written only by the admin, which requires a reason.
"""

import csv
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction

from sessions.models import Membership
from trialtracker.models import AccountChange

# Account fields whose change is put on record, with the words the log uses for them.
TRACKED_ACCOUNT_FIELDS = {
    "username": "username",
    "is_active": "active",
    "is_staff": "staff (may open the admin)",
    "is_superuser": "administrator (every role at every site)",
}


@dataclass(frozen=True)
class LogRow:
    at: datetime
    account: str
    action: str
    detail: str
    by: str
    reason: str


def account_snapshot(user) -> dict[str, str]:
    """The tracked state of an account, as text, for comparing before and after a save."""
    if user is None or user.pk is None:
        return {}
    snapshot = {label: str(getattr(user, field)) for field, label in TRACKED_ACCOUNT_FIELDS.items()}
    snapshot["groups"] = ", ".join(sorted(user.groups.values_list("name", flat=True))) or "none"
    snapshot["permissions"] = ", ".join(sorted(user.user_permissions.values_list("codename", flat=True))) or "none"
    return snapshot


def describe_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    if not before:
        return ["account created"] + [f"{label}: {value}" for label, value in after.items() if label != "username"]
    return [f"{label}: {before[label]} → {after[label]}" for label in after if before.get(label) != after[label]]


@transaction.atomic
def record_account_change(*, account, by, changes: list[str], reason: str) -> AccountChange | None:
    """Put one administrator's change to an account on record; nothing is written when nothing changed."""
    if not changes:
        return None
    return AccountChange.objects.create(account=account, by=by, change="\n".join(changes), reason=reason.strip())


def _name(user) -> str:
    if user is None:
        return "(command line)"
    full = user.get_full_name()
    return f"{full} ({user.username})" if full else user.username


def _membership_rows() -> list[LogRow]:
    history = Membership.history.select_related("history_user", "user", "site").order_by("id", "history_date")
    users = {u.pk: u for u in get_user_model().objects.all()}
    rows = []
    previous: dict[int, object] = {}
    for record in history:
        account = users.get(record.user_id)
        where = f"{Membership.Role(record.role).label} at {record.site.code}"
        before = previous.get(record.id)
        if record.history_type == "+":
            action, detail = "role granted", where
        elif record.history_type == "-":
            action, detail = "role removed", where
        else:
            action = "role changed"
            if before is not None:
                old = f"{Membership.Role(before.role).label} at {before.site.code}"
                detail = f"{old} → {where}" if old != where else where
                if before.user_id != record.user_id:
                    detail += f" (moved from {_name(users.get(before.user_id))})"
            else:
                detail = where
        previous[record.id] = record
        rows.append(
            LogRow(
                at=record.history_date,
                account=_name(account),
                action=action,
                detail=detail,
                by=_name(record.history_user),
                reason=record.history_change_reason or "",
            )
        )
    return rows


def _account_rows() -> list[LogRow]:
    return [
        LogRow(
            at=change.at,
            account=_name(change.account),
            action="account changed",
            detail="; ".join(change.change.splitlines()),
            by=_name(change.by),
            reason=change.reason,
        )
        for change in AccountChange.objects.select_related("account", "by")
    ]


def account_change_log() -> list[LogRow]:
    """Every account and role change, newest first."""
    return sorted(_membership_rows() + _account_rows(), key=lambda row: row.at, reverse=True)


CSV_HEADER = ["when (UTC)", "account", "action", "detail", "by", "reason"]


def _safe_cell(value: str) -> str:
    # A cell starting with = + - @ would run as a formula in a spreadsheet (CSV injection).
    return "'" + value if value[:1] in {"=", "+", "-", "@", "\t", "\r"} else value


def write_csv(rows: list[LogRow], out) -> None:
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow(
            [row.at.strftime("%Y-%m-%d %H:%M:%S")]
            + [_safe_cell(v) for v in (row.account, row.action, row.detail, row.by, row.reason)]
        )
