"""The one place that decides which sites a user may see and in which role.

Every selector and object lookup goes through here. A site the user has no membership of
is invisible (404, so its existence is not confirmed); a visible site where the user lacks
the role for an action is a 403.
"""

from django.core.exceptions import PermissionDenied

from sessions.models import Membership, Site

Role = Membership.Role
ANY_ROLE = (Role.COORDINATOR, Role.STAFF, Role.MONITOR)


def roles_by_site(user) -> dict[int, frozenset[str]]:
    """Site id → the user's roles there; administrators hold every role everywhere.

    Cached on the user object so a page asks the database once.
    """
    if not user.is_authenticated:
        return {}
    cached = getattr(user, "_trialtracker_roles", None)
    if cached is not None:
        return cached
    roles: dict[int, set[str]] = {}
    if user.is_superuser:
        for site_id in Site.objects.values_list("id", flat=True):
            roles[site_id] = set(ANY_ROLE)
    else:
        for site_id, role in Membership.objects.filter(user=user).values_list("site_id", "role"):
            roles.setdefault(site_id, set()).add(role)
    frozen = {site_id: frozenset(found) for site_id, found in roles.items()}
    user._trialtracker_roles = frozen
    return frozen


def site_ids_for(user, *roles: str) -> list[int]:
    """Sites where the user holds any of `roles` (any role at all when none are named)."""
    wanted = set(roles or ANY_ROLE)
    return sorted(site_id for site_id, held in roles_by_site(user).items() if held & wanted)


def user_roles(user) -> frozenset[str]:
    """Every role the user holds at any site: what the navigation offers."""
    held: set[str] = set()
    for site_roles in roles_by_site(user).values():
        held |= site_roles
    return frozenset(held)


def require_role(user, site_id: int, *roles: str) -> None:
    """Refuse (403) unless the user holds one of `roles` at a site they can already see."""
    if not roles_by_site(user).get(site_id, frozenset()) & set(roles):
        raise PermissionDenied("Your role at this site does not allow this.")


def has_role(user, site_id: int, *roles: str) -> bool:
    return bool(roles_by_site(user).get(site_id, frozenset()) & set(roles))
