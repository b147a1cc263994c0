from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from sessions.models import Membership, Room, Site
from trialtracker.demo import DEMO_PASSWORD


def _counts():
    return (
        get_user_model().objects.count(),
        Site.objects.count(),
        Room.objects.count(),
        Membership.objects.count(),
    )


@pytest.mark.django_db
def test_seed_demo_runs_twice_without_duplicates():
    call_command("seed_demo", stdout=StringIO())
    first = _counts()
    call_command("seed_demo", stdout=StringIO())
    assert _counts() == first


@pytest.mark.django_db
def test_seed_demo_creates_the_four_demo_logins_and_two_time_zones():
    call_command("seed_demo", stdout=StringIO())
    users = get_user_model().objects
    for username in ("coordinator", "therapist", "monitor", "admin"):
        assert users.get(username=username).check_password(DEMO_PASSWORD)
    assert users.get(username="admin").is_superuser
    assert len(set(Site.objects.values_list("time_zone", flat=True))) == 2
    assert Membership.objects.filter(user__username="coordinator", role="coordinator").count() == 2
