"""The attack of the SOS-under-attack benchmark is what it says: bodies the API reads whole."""

from __future__ import annotations

import orjson

from community_hub_tools.bench.sos import attack_bodies


def test_attack_bodies_are_just_under_the_limit_and_costly_json() -> None:
    limit = 1024 * 1024
    many_keys, long_string = attack_bodies(limit)
    for body in (many_keys, long_string):
        assert limit - 1024 < len(body) <= limit  # read and parsed, not refused unread
        assert isinstance(orjson.loads(body), dict)
    assert len(orjson.loads(many_keys)) > 50_000  # the 40 MB attack's shape, scaled down
