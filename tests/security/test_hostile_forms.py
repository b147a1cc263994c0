"""Hostile input to every form page, generated from the URL configuration and the forms themselves.

For each URL of the access table that takes GET and POST, the suite reads the form the page
renders (every input, select and textarea, hidden fields included) and posts random values:
nasty text, impossible dates and DST-gap times, unknown or foreign ids, tampered hidden fields
(such as the revision). The answer is never a 500, and a refused post (the form shown again
with its errors, a 403 or a 404) writes nothing.
"""

from html.parser import HTMLParser

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.security.access_table import ACCESS, COORDINATOR, STAFF
from tests.security.hostile import (
    HOSTILE,
    changed_tables,
    hostile_date_text,
    hostile_id_text,
    hostile_text,
    hostile_time_text,
    snapshot,
)
from tests.urlwalk import all_urls

EXISTING = {u.name for u in all_urls()}
FORM_URLS = sorted(n for n, r in ACCESS.items() if n in EXISTING and {"GET", "POST"} <= r.methods)


class FormFields(HTMLParser):
    """The fields of the first POST form inside <main>: name → (kind, initial value, option values)."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, dict] = {}
        self._in_form = False
        self._done = False
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and not self._done and (a.get("method") or "").lower() == "post":
            action = a.get("action") or ""
            if "logout" not in action:
                self._in_form = True
            return
        if not self._in_form:
            return
        name = a.get("name")
        if tag == "input" and name and name != "csrfmiddlewaretoken":
            kind = (a.get("type") or "text").lower()
            field = self.fields.setdefault(name, {"kind": kind, "value": a.get("value", ""), "options": []})
            if kind in ("radio", "checkbox"):
                field["options"].append(a.get("value", "on"))
        elif tag == "textarea" and name:
            self.fields[name] = {"kind": "textarea", "value": "", "options": []}
        elif tag == "select" and name:
            self._select = name
            self.fields[name] = {"kind": "select", "value": "", "options": [], "multiple": "multiple" in a}
        elif tag == "option" and self._select:
            self.fields[self._select]["options"].append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


def _strategy(name: str, field: dict):
    kind, options = field["kind"], [o for o in field["options"] if o is not None]
    lowered = name.lower()
    if kind == "hidden":
        # A tampered hidden field: the original, or anything else.
        return st.one_of(st.just(field["value"]), hostile_id_text, hostile_text)
    if kind == "date" or "date" in lowered or lowered.endswith("_on") or lowered in ("day", "enrolled"):
        return hostile_date_text
    if kind == "time" or "time" in lowered or lowered.endswith("_at") or lowered in ("start", "end", "at"):
        return hostile_time_text
    if kind in ("select", "radio"):
        pick = st.sampled_from(options) if options else st.just("")
        choice = st.one_of(pick, hostile_id_text)
        return st.lists(choice, max_size=4) if field.get("multiple") else choice
    if kind == "checkbox":
        return st.lists(st.one_of(st.sampled_from(options or ["on"]), hostile_id_text), max_size=3)
    if kind == "number":
        return hostile_id_text
    return hostile_text


def _form_fields(client, url):
    response = client.get(url)
    if response.status_code == 302:
        return None  # an earlier example finished the job (a deviation closed, a session signed)
    assert response.status_code == 200, f"GET {url}: {response.status_code}"
    parser = FormFields()
    parser.feed(response.content.decode())
    return parser.fields


def _user_for(rule, world):
    for role in (COORDINATOR, STAFF):
        if role in rule.roles:
            return world.users[role]
    return world.users["admin"]


def _url(name, rule, world):
    return reverse(name, kwargs={rule.kwarg: getattr(world, rule.target).pk}) if rule.target else reverse(name)


def test_form_urls_are_found():
    assert "password_change" in FORM_URLS
    assert len(FORM_URLS) >= 2


@pytest.mark.django_db
@pytest.mark.parametrize("name", FORM_URLS)
@given(data=st.data())
@settings(HOSTILE, max_examples=20)
def test_form_refuses_hostile_input_without_writing(client, world, name, data):
    # Each example starts from the same world: what an accepted post wrote is rolled back after it.
    with transaction.atomic():
        _post_hostile_form(client, world, name, data)
        transaction.set_rollback(True)


def _post_hostile_form(client, world, name, data):
    rule = ACCESS[name]
    client.force_login(_user_for(rule, world))
    url = _url(name, rule, world)
    fields = _form_fields(client, url)
    if fields is None:
        return
    assert fields, f"{url} renders no form"
    payload = {}
    for field_name, field in sorted(fields.items()):
        if data.draw(st.integers(min_value=0, max_value=9), label=f"omit {field_name}") == 0:
            continue  # a field left out entirely
        payload[field_name] = data.draw(_strategy(field_name, field), label=field_name)
    before = snapshot()
    response = client.post(url, payload)
    assert response.status_code in (200, 302, 400, 403, 404, 409), f"{url}: {response.status_code}"
    if response.status_code != 302:
        assert not changed_tables(before), f"{url} refused {payload!r} but wrote {changed_tables(before)}"


@pytest.mark.django_db
@given(username=hostile_text, password=hostile_text, address=st.sampled_from(["10.7.0.1", "10.7.0.2"]))
@HOSTILE
def test_login_form_survives_anything_and_creates_nothing(client, coordinator, username, password, address):
    before = snapshot()
    response = client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address)
    assert response.status_code in (200, 302, 429)
    assert not changed_tables(before)


ADMIN_FORMS = {
    "membership add": lambda world: "/admin/trial_sessions/membership/add/",
    "membership change": lambda world: (
        f"/admin/trial_sessions/membership/{world.users['staff'].memberships.first().pk}/change/"
    ),
    "user change": lambda world: f"/admin/auth/user/{world.users['staff'].pk}/change/",
    "user add": lambda world: "/admin/auth/user/add/",
}


@pytest.mark.django_db
@pytest.mark.parametrize("which", sorted(ADMIN_FORMS))
@given(data=st.data())
@settings(HOSTILE, max_examples=15)
def test_account_admin_forms_refuse_hostile_input_without_writing(client, world, which, data):
    with transaction.atomic():
        client.force_login(world.users["admin"])
        url = ADMIN_FORMS[which](world)
        fields = _form_fields(client, url)
        payload = {}
        for field_name, field in sorted(fields.items()):
            if data.draw(st.integers(min_value=0, max_value=9), label=f"omit {field_name}") == 0:
                continue
            payload[field_name] = data.draw(_strategy(field_name, field), label=field_name)
        before = snapshot()
        response = client.post(url, payload)
        assert response.status_code in (200, 302, 400, 403, 404), f"{url}: {response.status_code}"
        if response.status_code != 302:
            assert not changed_tables(before), f"{url} refused {payload!r} but wrote {changed_tables(before)}"
        transaction.set_rollback(True)
