"""Demo data for a fresh install: users, sites, rooms and memberships (and, as the app grows,
protocols and participants). Every step is idempotent: running it twice changes nothing."""

from django.contrib.auth import get_user_model

from protocols.library import load_demo_protocols
from sessions.models import Membership, Room, Site

DEMO_PASSWORD = "trialtracker-demo"

SITES = [
    {
        "code": "S01",
        "name": "Front Range Research Clinic",
        "time_zone": "America/Denver",
        "rooms": ["Therapy room 1", "Therapy room 2", "Overnight suite A", "Overnight suite B"],
    },
    {
        "code": "S02",
        "name": "Thames Trauma Research Unit",
        "time_zone": "Europe/London",
        "rooms": ["Room Willow", "Room Alder", "Overnight room 1"],
    },
]

# username, first name, last name, [(site code, role), ...]
USERS = [
    ("coordinator", "Casey", "Morgan", [("S01", "coordinator"), ("S02", "coordinator")]),
    ("therapist", "Theo", "Ramirez", [("S01", "staff")]),
    ("therapist2", "Priya", "Shah", [("S01", "staff")]),
    ("therapist3", "Jonas", "Weber", [("S01", "staff")]),
    ("therapist4", "Amara", "Okafor", [("S01", "staff")]),
    ("therapist5", "Eleanor", "Hughes", [("S02", "staff")]),
    ("therapist6", "Rhys", "Davies", [("S02", "staff")]),
    ("therapist7", "Mei", "Chen", [("S02", "staff")]),
    ("monitor", "Morgan", "Ellis", [("S01", "monitor"), ("S02", "monitor")]),
]


def seed_users_and_sites(stdout=None) -> dict:
    user_model = get_user_model()
    sites = {}
    for spec in SITES:
        site, _ = Site.objects.update_or_create(
            code=spec["code"], defaults={"name": spec["name"], "time_zone": spec["time_zone"]}
        )
        for room_name in spec["rooms"]:
            Room.objects.get_or_create(site=site, name=room_name)
        sites[site.code] = site

    users = {}
    for username, first, last, memberships in USERS:
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        for site_code, role in memberships:
            if not Membership.objects.filter(user=user, site=sites[site_code], role=role).exists():
                membership = Membership(user=user, site=sites[site_code], role=role)
                membership._change_reason = "Demo data"
                membership.save()
        users[username] = user

    admin, created = user_model.objects.get_or_create(
        username="admin",
        defaults={
            "first_name": "Ada",
            "last_name": "Admin",
            "email": "admin@example.org",
            "is_staff": True,
            "is_superuser": True,
        },
    )
    if created:
        admin.set_password(DEMO_PASSWORD)
        admin.save()
    users["admin"] = admin
    return {"sites": sites, "users": users}


def seed_demo(stdout=None) -> dict:
    seeded = seed_users_and_sites(stdout)
    seeded["protocols"] = load_demo_protocols()
    return seeded
