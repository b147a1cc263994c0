"""The audit trail is append-only: no admin page, URL or command edits or deletes a history row.

Generic over every history model, so a model that gains HistoricalRecords later is covered too.
"""

import inspect
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError
from django.test import RequestFactory
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import HistoricalChanges

from sessions.models import Membership
from trialtracker.management.audit_guard import RefuseHistoryDeletion

ROOT = Path(__file__).resolve().parents[2]
PROJECT_APPS = ["trialtracker", "protocols", "trial_sessions"]

HISTORY_MODELS = [m for m in apps.get_models() if issubclass(m, HistoricalChanges)]
HISTORY_ADMINS = [ma for ma in admin.site._registry.values() if isinstance(ma, SimpleHistoryAdmin)]


def test_history_models_are_found():
    names = {m.__name__ for m in HISTORY_MODELS}
    assert {"HistoricalMembership", "HistoricalParticipant", "HistoricalStudySession", "HistoricalDeviation"} <= names
    assert {"HistoricalProtocolVersion", "HistoricalSessionDefinition"} <= names


@pytest.mark.django_db
@pytest.mark.parametrize("model", HISTORY_MODELS, ids=lambda m: m._meta.label)
def test_admin_offers_no_add_change_or_delete_of_history_rows(model, admin_user):
    model_admin = admin.site._registry.get(model)
    if model_admin is None:
        return  # not in the admin at all: nothing to edit there
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


@pytest.mark.django_db
@pytest.mark.parametrize("model", HISTORY_MODELS, ids=lambda m: m._meta.label)
def test_no_admin_url_adds_changes_or_deletes_history_rows(client, admin_user, model):
    client.force_login(admin_user)
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    assert client.get(base + "add/").status_code in (403, 404)
    assert client.post(base + "1/delete/", {"post": "yes"}).status_code in (403, 404)
    assert client.post(base + "1/change/", {}).status_code in (403, 404)


@pytest.mark.parametrize("model_admin", HISTORY_ADMINS, ids=lambda ma: ma.model._meta.label)
def test_history_pages_of_every_admin_refuse_to_save_a_past_version(model_admin):
    request = RequestFactory().post("/", {"role": "coordinator"})
    try:
        response = model_admin.history_form_view(request, "1", "1")
    except PermissionDenied:
        return
    assert response.status_code == 405


@pytest.mark.django_db
def test_crafted_revert_of_a_membership_changes_nothing(client, admin_user, therapist):
    membership = Membership.objects.get(user=therapist)
    record = membership.history.get()
    client.force_login(admin_user)
    url = f"/admin/trial_sessions/membership/{membership.pk}/history/{record.history_id}/"
    page = client.get(url)
    assert page.status_code == 200
    crafted = {"user": therapist.pk, "site": membership.site_id, "role": "coordinator", "reason": "x"}
    response = client.post(url, crafted)
    assert response.status_code == 405
    membership.refresh_from_db()
    assert membership.role == "staff"
    assert membership.history.count() == 1


@pytest.mark.django_db
def test_history_page_is_titled_view_not_change(client, admin_user, therapist):
    membership = Membership.objects.get(user=therapist)
    client.force_login(admin_user)
    body = client.get(f"/admin/trial_sessions/membership/{membership.pk}/history/").content.decode()
    assert "View history" in body
    assert "Revert" not in body


@pytest.mark.parametrize("name", sorted(get_commands()))
def test_no_management_command_deletes_history(name):
    app = get_commands()[name]
    command = load_command_class(app, name)
    if isinstance(command, RefuseHistoryDeletion):
        return
    source = inspect.getsource(inspect.getmodule(command))
    deletes = re.search(r"\.delete\(|DELETE FROM|\.update\(|_raw_delete", source)
    touches_history = re.search(r"histor", source, re.I)
    assert not (deletes and touches_history), f"{name} ({app}) looks like it deletes or rewrites history"


@pytest.mark.parametrize("name", ["clean_duplicate_history", "clean_old_history"])
def test_history_cleaning_commands_refuse(name):
    assert get_commands()[name] == "trialtracker"
    with pytest.raises(CommandError, match="append-only"):
        call_command(name)


HISTORY_WRITE = re.compile(
    r"(\.history\b[^\n]*\.(delete|update|bulk_update|bulk_create)\(|Historical\w+\.objects[^\n]*\.(delete|update)\()"
    r"|\w\.history_(change_reason|date|user|type)\s*=(?!=)"
)


def _project_sources():
    for app in PROJECT_APPS:
        folder = Path(apps.get_app_config(app).path)
        for path in folder.rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


@pytest.mark.parametrize("path", sorted(_project_sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_project_code_never_rewrites_or_deletes_history_rows(path):
    text = path.read_text()
    hits = [f"line {text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}" for m in HISTORY_WRITE.finditer(text)]
    assert not hits, f"{path.name} writes to the audit trail directly:\n" + "\n".join(hits)
