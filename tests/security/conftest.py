import pytest

from tests.security.world import build_world


@pytest.fixture
def world(site, other_site, coordinator, therapist, co_therapist, monitor, outsider, admin_user):
    return build_world(
        site=site,
        other_site=other_site,
        coordinator=coordinator,
        therapist=therapist,
        co_therapist=co_therapist,
        monitor=monitor,
        outsider=outsider,
        admin_user=admin_user,
    )
