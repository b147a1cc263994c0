"""The URL-walk suite: every URL, as every kind of visitor, with every method (SPEC §1, STYLE "Tests").

Generated from the URL configuration: a URL without an entry in access_table.ACCESS fails, so
new pages are covered. For each URL: anonymous → login redirect; each allowed role → 200 on GET;
each other role → 403; an outsider from another site → 404 for an object of S01; a method the
URL does not take → 405.
"""

import pytest
from django.urls import reverse

from tests.security.access_table import ACCESS, ALL_ROLES, PENDING
from tests.urlwalk import PUBLIC_URL_NAMES, all_urls

WALKED = {u.name: u for u in all_urls() if u.name not in PUBLIC_URL_NAMES}
CHECKED_METHODS = ("GET", "POST", "PUT", "DELETE")


def test_every_url_has_an_access_rule():
    missing = sorted(set(WALKED) - set(ACCESS))
    assert not missing, (
        "These URLs have no entry in tests/security/access_table.py ACCESS; say who may use them: " + ", ".join(missing)
    )


def test_access_rules_name_real_urls():
    stale = sorted(set(ACCESS) - set(WALKED) - PENDING)
    assert not stale, f"ACCESS names URLs that no longer exist: {stale}"


def _url(name, rule, world):
    if rule.target is None:
        return reverse(name)
    return reverse(name, kwargs={rule.kwarg: getattr(world, rule.target).pk})


def _request(client, method, url):
    return client.generic(method, url)


def _signed_in(client, user):
    client.logout()
    client.force_login(user)
    return client


NAMES = sorted(set(WALKED) & set(ACCESS))


@pytest.mark.django_db
@pytest.mark.parametrize("name", NAMES)
def test_anonymous_is_sent_to_login(client, world, name):
    rule = ACCESS[name]
    url = _url(name, rule, world)
    for method in sorted(rule.methods):
        response = _request(client, method, url)
        assert response.status_code == 302, f"anonymous {method} {url}: {response.status_code}"
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize("name", [name for name in NAMES if "GET" in ACCESS[name].methods])
def test_allowed_roles_open_the_page(client, world, name):
    """Pages open for their roles; POST-only actions are exercised by their own view tests."""
    rule = ACCESS[name]
    url = _url(name, rule, world)
    for role in sorted(rule.roles):
        response = _signed_in(client, world.users[role]).get(url)
        assert response.status_code == 200, f"{role} GET {url}: {response.status_code}"


@pytest.mark.django_db
@pytest.mark.parametrize("name", NAMES)
def test_other_roles_are_refused_with_403(client, world, name):
    rule = ACCESS[name]
    url = _url(name, rule, world)
    for role in ALL_ROLES:
        if role in rule.roles:
            continue
        for method in sorted(rule.methods):
            response = _request(_signed_in(client, world.users[role]), method, url)
            assert response.status_code == 403, f"{role} {method} {url}: {response.status_code}"


@pytest.mark.django_db
@pytest.mark.parametrize("name", [n for n in NAMES if ACCESS[n].target and ACCESS[n].site_scoped])
def test_outsider_gets_404_for_another_sites_object(client, world, name):
    rule = ACCESS[name]
    url = _url(name, rule, world)
    for method in sorted(rule.methods):
        response = _request(_signed_in(client, world.users["outsider"]), method, url)
        assert response.status_code == 404, f"outsider {method} {url}: {response.status_code}"


@pytest.mark.django_db
@pytest.mark.parametrize("name", [n for n in NAMES if ACCESS[n].target])
def test_unknown_object_is_404(client, world, name):
    rule = ACCESS[name]
    url = reverse(name, kwargs={rule.kwarg: 987654321})
    response = _signed_in(client, world.users["admin"]).get(url) if "GET" in rule.methods else None
    if response is not None:
        assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("name", NAMES)
def test_wrong_method_is_405(client, world, name):
    rule = ACCESS[name]
    url = _url(name, rule, world)
    user = world.users[sorted(rule.roles)[0]]
    for method in CHECKED_METHODS:
        if method in rule.methods:
            continue
        response = _request(_signed_in(client, user), method, url)
        assert response.status_code == 405, f"{method} {url}: {response.status_code}"
