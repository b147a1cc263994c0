"""Template context every page needs: the navigation that fits the user's roles."""

from django.urls import NoReverseMatch, reverse

from sessions.access import Role, user_roles

# (label, url name, roles that see it; empty = every signed-in user)
NAVIGATION = [
    ("Home", "home", ()),
    ("Participants", "sessions:participant_list", (Role.COORDINATOR, Role.STAFF, Role.MONITOR)),
    ("Calendar", "review:site_calendar", (Role.COORDINATOR, Role.STAFF)),
    ("Protocols", "protocols:list", ()),
    ("Review", "review:monitor_review", (Role.MONITOR, Role.COORDINATOR)),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    held = user_roles(user)
    items = []
    for label, url_name, roles in NAVIGATION:
        if roles and not (held & set(roles)):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue  # that page belongs to a part of the app not installed yet
        items.append(
            {"label": label, "url": url, "active": request.path == url or (url != "/" and request.path.startswith(url))}
        )
    role_labels = [Role(role).label for role in (Role.COORDINATOR, Role.STAFF, Role.MONITOR) if role in held]
    if user.is_superuser:
        role_labels.insert(0, "Administrator")
    return {"nav_items": items, "nav_roles": role_labels}
