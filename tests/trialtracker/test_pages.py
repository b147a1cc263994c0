import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["coordinator", "therapist", "monitor", "admin_user"])
def test_home_shows_each_role_their_sites(client, request, who, site):
    user = request.getfixturevalue(who)
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    assert site.name in response.content.decode()


@pytest.mark.django_db
def test_home_hides_sites_the_user_does_not_belong_to(client, coordinator, other_site):
    client.force_login(coordinator)
    assert other_site.name not in client.get("/").content.decode()


@pytest.mark.django_db
def test_logout_only_by_post(client, coordinator):
    client.force_login(coordinator)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_login_with_password_reaches_home(client, coordinator):
    from tests.conftest import PASSWORD

    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_wrong_password_shows_error(client, coordinator):
    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


@pytest.mark.django_db
def test_password_change_page_renders(client, coordinator):
    client.force_login(coordinator)
    assert "Change password" in client.get("/accounts/password/change/").content.decode()


@pytest.mark.django_db
def test_not_found_page_is_friendly_and_leaks_nothing(client, coordinator):
    client.force_login(coordinator)
    response = client.get("/no/such/page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in body
    assert "Traceback" not in body and "urlpatterns" not in body


def test_server_error_page_renders_without_database(rf):
    from trialtracker.views import error_500

    response = error_500(rf.get("/"))
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


@pytest.mark.django_db
def test_idle_session_is_signed_out_with_message(client, coordinator, settings):
    import time

    from trialtracker.middleware import LAST_SEEN_KEY

    client.force_login(coordinator)
    assert client.get("/").status_code == 200
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - settings.IDLE_TIMEOUT_SECONDS - 5
    session.save()
    response = client.get("/")
    assert response.status_code == 302
    assert "idle=1" in response["Location"]
    login_page = client.get(response["Location"])
    assert "signed out after a period of inactivity" in login_page.content.decode()
