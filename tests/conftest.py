"""Shared fixtures: one user per role at site S01 and an outsider who works at S02 only."""

import os

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

# Playwright's sync API runs an event loop in the test thread; Django's ORM must still be usable there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2 at full strength costs a fraction of a second per user and per sign-in; the suite makes
    thousands. Production keeps Django's default hashers (tests/trialtracker/test_settings.py)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_user(username, *, site=None, role=None, **extra):
    from sessions.models import Membership

    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, first_name=username.title(), last_name="Tester", **extra
    )
    if site is not None:
        Membership.objects.create(user=user, site=site, role=role)
    return user


@pytest.fixture
def site(db):
    from sessions.models import Room, Site

    site = Site.objects.create(code="S01", name="Front Range Research Clinic", time_zone="America/Denver")
    Room.objects.create(site=site, name="Therapy room 1")
    Room.objects.create(site=site, name="Overnight suite A")
    return site


@pytest.fixture
def other_site(db):
    from sessions.models import Room, Site

    site = Site.objects.create(code="S02", name="Thames Trauma Research Unit", time_zone="Europe/London")
    Room.objects.create(site=site, name="Room Willow")
    return site


@pytest.fixture
def coordinator(site):
    return make_user("alice", site=site, role="coordinator")


@pytest.fixture
def therapist(site):
    return make_user("bob", site=site, role="staff")


@pytest.fixture
def co_therapist(site):
    return make_user("bea", site=site, role="staff")


@pytest.fixture
def monitor(site):
    return make_user("mona", site=site, role="monitor")


@pytest.fixture
def outsider(other_site):
    """Coordinator at S02 only: every S01 object must be a 404 for them."""
    return make_user("charlie", site=other_site, role="coordinator")


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser(username="root", password=PASSWORD, email="root@example.org")


@pytest.fixture
def require_postgres(db):
    """Skip on SQLite with a reason; under CI (REQUIRE_POSTGRES=1) a missing server is a failure."""
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but the tests are running on " + connection.vendor)
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://...")
