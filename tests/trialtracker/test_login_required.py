"""Every page refuses an anonymous visitor, generated from the URL configuration."""

import pytest

from tests.urlwalk import PUBLIC_URL_NAMES, all_urls

PRIVATE_URLS = [u for u in all_urls() if u.name not in PUBLIC_URL_NAMES]


def test_url_walk_finds_the_project_urls():
    names = {u.name for u in all_urls()}
    assert {"home", "login", "logout", "healthz", "password_change"} <= names


@pytest.mark.django_db
@pytest.mark.parametrize("walked", PRIVATE_URLS, ids=lambda u: u.name)
def test_anonymous_visitor_is_sent_to_login(client, walked):
    for method in ("get", "post"):
        response = getattr(client, method)(walked.url)
        assert response.status_code == 302, f"{method.upper()} {walked.url} gave {response.status_code}"
        assert response["Location"].startswith("/accounts/login/"), response["Location"]


@pytest.mark.django_db
def test_public_pages_open_without_login(client):
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/accounts/password/reset/").status_code == 200
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_admin_needs_staff_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]
