"""Who may open which URL, and how: the declarative access table the URL-walk suite checks.

Every URL name the project serves (tests/urlwalk.py) must have an entry here, or
test_every_url_has_an_access_rule fails: adding a page means saying who may use it.

roles: the signed-in roles allowed (admin = superuser, who holds every role at every site).
methods: the HTTP methods the URL answers; any other of GET/POST/PUT/DELETE must be 405.
target: for object URLs, the World attribute whose pk fills the URL; an outsider (a user of
  another site only) must get 404 for it, never 403, so its existence is not confirmed.
"""

from dataclasses import dataclass

COORDINATOR, STAFF, MONITOR, ADMIN = "coordinator", "staff", "monitor", "admin"
EVERYONE = frozenset({COORDINATOR, STAFF, MONITOR, ADMIN})
ALL_ROLES = (COORDINATOR, STAFF, MONITOR, ADMIN)
GET, POST = frozenset({"GET"}), frozenset({"POST"})
GET_POST = frozenset({"GET", "POST"})


@dataclass(frozen=True)
class Rule:
    roles: frozenset
    methods: frozenset = GET
    target: str | None = None  # World attribute: participant, booked, logged, unsigned, dosing, deviation, version
    site_scoped: bool = True  # False for objects every site shares (protocol versions)
    kwarg: str = "pk"


def roles(*names):
    return frozenset(names)


ACCESS = {
    # trialtracker
    "home": Rule(EVERYONE),
    "logout": Rule(EVERYONE, POST),
    "password_change": Rule(EVERYONE, GET_POST),
    "password_change_done": Rule(EVERYONE),
    "account_changes": Rule(roles(ADMIN)),
    "account_changes_csv": Rule(roles(ADMIN)),
    # protocols: every signed-in role reads the plan; admins edit it in the admin
    "protocols:list": Rule(EVERYONE),
    "protocols:detail": Rule(EVERYONE, target="version", site_scoped=False),
    # sessions (daily pages)
    "sessions:participant_list": Rule(EVERYONE),
    "sessions:enroll": Rule(roles(COORDINATOR, ADMIN), GET_POST),
    "sessions:participant_detail": Rule(EVERYONE, target="participant"),
    "sessions:withdraw": Rule(roles(COORDINATOR, ADMIN), GET_POST, target="participant"),
    "sessions:session_detail": Rule(EVERYONE, target="booked"),
    "sessions:schedule": Rule(roles(COORDINATOR, ADMIN), GET_POST, target="dosing"),
    "sessions:cancel": Rule(roles(COORDINATOR, ADMIN), GET_POST, target="booked"),
    "sessions:log": Rule(roles(COORDINATOR, STAFF, ADMIN), GET_POST, target="booked"),
    "sessions:sign": Rule(roles(COORDINATOR, STAFF, ADMIN), GET_POST, target="unsigned"),
    "sessions:deviation_create": Rule(roles(COORDINATOR, ADMIN), GET_POST, target="participant"),
    "sessions:deviation_close": Rule(roles(COORDINATOR, ADMIN), GET_POST, target="deviation"),
    # review: monitors and coordinators review and export; coordinators and staff see the calendar
    "review:site_calendar": Rule(roles(COORDINATOR, STAFF, ADMIN)),
    "review:monitor_review": Rule(roles(MONITOR, COORDINATOR, ADMIN)),
    "review:audit": Rule(roles(MONITOR, COORDINATOR, ADMIN)),
    "review:export_sessions": Rule(roles(MONITOR, COORDINATOR, ADMIN)),
    "review:export_deviations": Rule(roles(MONITOR, COORDINATOR, ADMIN)),
    "review:export_audit": Rule(roles(MONITOR, COORDINATOR, ADMIN)),
    "review:profile": Rule(EVERYONE),
    "review:feed_regenerate": Rule(EVERYONE, POST),
    "review:feed_revoke": Rule(EVERYONE, POST),
}

# Entries written ahead of pages that other branches are still building; they may name a URL
# that does not exist yet. Anything else in ACCESS must name a real URL.
PENDING: set[str] = set()
