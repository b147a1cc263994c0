"""Account and role changes are on record (ICH E6(R3)): who, when, what and why; admins read and export them."""

import csv
import io

import pytest
from django.contrib.auth import get_user_model

from sessions.models import Membership
from tests.conftest import make_user
from trialtracker.models import AccountChange

User = get_user_model()


def _grant(client, user, site, role, reason="Delegation log entry 12: joins the study team"):
    return client.post(
        "/admin/trial_sessions/membership/add/",
        {"user": user.pk, "site": site.pk, "role": role, "reason": reason},
    )


@pytest.fixture
def newcomer(site):
    return make_user("nina")


@pytest.mark.django_db
def test_granting_a_role_records_who_when_and_why(client, admin_user, newcomer, site):
    client.force_login(admin_user)
    assert _grant(client, newcomer, site, "staff").status_code == 302
    membership = Membership.objects.get(user=newcomer)
    record = membership.history.get()
    assert record.history_type == "+"
    assert record.history_user == admin_user
    assert record.history_change_reason == "Delegation log entry 12: joins the study team"


@pytest.mark.django_db
def test_granting_a_role_without_a_reason_is_refused_and_writes_nothing(client, admin_user, newcomer, site):
    client.force_login(admin_user)
    response = _grant(client, newcomer, site, "staff", reason="  ")
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not Membership.objects.filter(user=newcomer).exists()
    assert not Membership.history.filter(user_id=newcomer.pk).exists()


@pytest.mark.django_db
def test_changing_a_role_records_old_and_new(client, admin_user, therapist, site):
    membership = Membership.objects.get(user=therapist)
    client.force_login(admin_user)
    response = client.post(
        f"/admin/trial_sessions/membership/{membership.pk}/change/",
        {"user": therapist.pk, "site": site.pk, "role": "coordinator", "reason": "Promoted per delegation log"},
    )
    assert response.status_code == 302
    latest = membership.history.first()
    assert (latest.history_type, latest.role, latest.history_change_reason) == (
        "~",
        "coordinator",
        "Promoted per delegation log",
    )
    page = client.get("/audit/accounts/").content.decode()
    assert "Site staff / therapist at S01 → Research coordinator at S01" in page or "→" in page
    assert "Promoted per delegation log" in page


@pytest.mark.django_db
def test_removing_a_role_asks_for_a_reason(client, admin_user, therapist):
    membership = Membership.objects.get(user=therapist)
    client.force_login(admin_user)
    url = f"/admin/trial_sessions/membership/{membership.pk}/delete/"
    assert 'name="reason"' in client.get(url).content.decode()
    refused = client.post(url, {"post": "yes", "reason": ""})
    assert refused.status_code == 200
    assert "Say why this role is being removed" in refused.content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists()

    assert client.post(url, {"post": "yes", "reason": "Left the site on 2026-11-20"}).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    removal = Membership.history.filter(id=membership.pk).first()
    assert (removal.history_type, removal.history_user, removal.history_change_reason) == (
        "-",
        admin_user,
        "Left the site on 2026-11-20",
    )


@pytest.mark.django_db
def test_roles_cannot_be_removed_in_bulk_without_reasons(client, admin_user, therapist):
    client.force_login(admin_user)
    response = client.get("/admin/trial_sessions/membership/")
    assert "delete_selected" not in response.content.decode()


@pytest.mark.django_db
def test_deactivating_an_account_needs_a_reason_and_is_logged(client, admin_user, therapist):
    client.force_login(admin_user)
    url = f"/admin/auth/user/{therapist.pk}/change/"
    data = {
        "username": "bob",
        "first_name": "Bob",
        "last_name": "Tester",
        "email": "",
        "is_active": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert "changes to access are kept on record" in refused.content.decode()
    therapist.refresh_from_db()
    assert therapist.is_active

    assert client.post(url, {**data, "reason": "Left the site"}).status_code == 302
    therapist.refresh_from_db()
    assert not therapist.is_active
    change = AccountChange.objects.get(account=therapist)
    assert change.by == admin_user
    assert "active: True → False" in change.change
    assert change.reason == "Left the site"


@pytest.mark.django_db
def test_making_someone_an_administrator_is_logged(client, admin_user, therapist):
    client.force_login(admin_user)
    data = {
        "username": "bob",
        "first_name": "Bob",
        "last_name": "Tester",
        "email": "",
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "reason": "Sponsor request 2026-11",
    }
    assert client.post(f"/admin/auth/user/{therapist.pk}/change/", data).status_code == 302
    change = AccountChange.objects.get(account=therapist).change
    assert "staff (may open the admin): False → True" in change
    assert "administrator (every role at every site): False → True" in change


@pytest.mark.django_db
def test_creating_an_account_is_logged(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/auth/user/add/",
        {
            "username": "newstaff",
            "usable_password": "true",
            "password1": "a-long-enough-passphrase-77",
            "password2": "a-long-enough-passphrase-77",
            "reason": "New therapist, delegation log entry 31",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    change = AccountChange.objects.get(account__username="newstaff")
    assert change.change.startswith("account created")


@pytest.mark.django_db
def test_accounts_and_change_log_cannot_be_deleted_or_edited_in_the_admin(client, admin_user, therapist):
    client.force_login(admin_user)
    assert client.get(f"/admin/auth/user/{therapist.pk}/delete/").status_code == 403
    change = AccountChange.objects.create(account=therapist, by=admin_user, change="active: True → False", reason="x")
    assert client.get("/admin/trialtracker/accountchange/").status_code == 200
    assert client.get("/admin/trialtracker/accountchange/add/").status_code == 403
    assert client.post(f"/admin/trialtracker/accountchange/{change.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post(f"/admin/trialtracker/accountchange/{change.pk}/change/", {"reason": "edited"})
    change.refresh_from_db()
    assert change.reason == "x"


@pytest.mark.django_db
def test_change_log_page_and_csv_show_every_change(client, admin_user, newcomer, site):
    client.force_login(admin_user)
    _grant(client, newcomer, site, "monitor", reason="=HYPERLINK(evil) monitor for sponsor")
    page = client.get("/audit/accounts/")
    assert page.status_code == 200
    assert "Role granted" in page.content.decode()
    response = client.get("/audit/accounts.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["when (UTC)", "account", "action", "detail", "by", "reason"]
    granted = [r for r in rows if r[2] == "role granted" and "Nina" in r[1]]
    assert granted and granted[0][3] == "Monitor at S01"
    # A reason that looks like a spreadsheet formula is neutralised.
    assert granted[0][5].startswith("'=")


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["coordinator", "therapist", "monitor"])
@pytest.mark.parametrize("url", ["/audit/accounts/", "/audit/accounts.csv"])
def test_change_log_is_for_administrators_only(client, request, who, url):
    client.force_login(request.getfixturevalue(who))
    assert client.get(url).status_code == 403


@pytest.mark.django_db
def test_an_administrator_setting_a_password_is_logged(client, admin_user, therapist):
    client.force_login(admin_user)
    response = client.post(
        f"/admin/auth/user/{therapist.pk}/password/",
        {"usable_password": "true", "password1": "a-new-long-passphrase-41", "password2": "a-new-long-passphrase-41"},
    )
    assert response.status_code == 302
    change = AccountChange.objects.get(account=therapist)
    assert (change.change, change.by) == ("password set by an administrator", admin_user)
