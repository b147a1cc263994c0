"""The two demo plans of SPEC §4 as plain engine data, shared by the engine tests."""

from protocols.schedule import PlannedSession

HOUR = 60


def _s(order, code, anchor, offset, early, late, minutes=90):
    return PlannedSession(
        code=code,
        order=order,
        anchor_code=anchor,
        offset_days=offset,
        early_days=early,
        late_days=late,
        duration_minutes=minutes,
    )


DEFAULT_PLAN = [
    _s(1, "PREP1", None, 14, 7, 7),
    _s(2, "PREP2", "PREP1", 14, 7, 7),
    _s(3, "PREP3", "PREP2", 14, 7, 7),
    _s(4, "DOSE1", "PREP3", 14, 7, 14, 8 * HOUR),
    _s(5, "INT1", "DOSE1", 1, 0, 2),
    _s(6, "DOSE2", "DOSE1", 35, 14, 0, 8 * HOUR),
    _s(7, "INT2", "DOSE2", 1, 0, 2),
    _s(8, "DOSE3", "DOSE2", 35, 14, 0, 8 * HOUR),
    _s(9, "INT3", "DOSE3", 1, 0, 2),
]


def _three_integrations(order, n):
    dose = f"DOSE{n}"
    return [
        _s(order, f"INT{n}A", dose, 1, 0, 2),
        _s(order + 1, f"INT{n}B", dose, 7, 2, 3),
        _s(order + 2, f"INT{n}C", dose, 21, 4, 4),
    ]


NINE_INTEGRATIONS_PLAN = [
    *DEFAULT_PLAN[:4],
    *_three_integrations(5, 1),
    _s(8, "DOSE2", "DOSE1", 35, 14, 0, 8 * HOUR),
    *_three_integrations(9, 2),
    _s(12, "DOSE3", "DOSE2", 35, 14, 0, 8 * HOUR),
    *_three_integrations(13, 3),
]
