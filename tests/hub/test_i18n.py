"""The reader's language, local times, phone numbers and addresses (hub/i18n)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.i18n.formats import address, household_parts, phone_for_reading
from hub.i18n.locales import check, choose, from_browser, supported
from hub.i18n.times import (
    iso_local,
    local_date,
    local_time,
    relative,
    time_in_sentence,
    zone_name,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("zh-CN", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("zh_cn", "zh-CN"),
        ("zh-SG", "zh-CN"),
        ("zh-TW", None),
        ("zh-Hant", None),
        ("zh-HK", None),
        ("en-GB", "en"),
        ("en", "en"),
        ("fr-FR", None),
        ("", None),
        (None, None),
    ],
)
def test_a_tag_maps_to_a_language_we_speak_or_none(tag: str | None, expected: str | None) -> None:
    assert supported(tag) == expected


def test_the_browser_s_best_weighted_language_wins() -> None:
    assert from_browser("fr-FR,fr;q=0.9,en-US;q=0.8,zh-CN;q=0.7") == "en"
    assert from_browser("en;q=0.5, zh-CN") == "zh-CN"
    assert from_browser("zh-TW,zh;q=0.9") == "zh-CN"  # Traditional skipped, plain zh taken
    assert from_browser("de, fr") is None
    assert from_browser("zh-CN;q=0, en;q=oops, en-US;q=0.1") == "en"
    assert from_browser("," * 10_000) is None  # a hostile header costs nothing


def test_profile_then_browser_then_community() -> None:
    assert choose(profile="en", accept_language="zh-CN", community="zh-CN") == "en"
    assert choose(profile=None, accept_language="en-US", community="zh-CN") == "en"
    assert choose(profile=None, accept_language="de", community="en") == "en"
    assert choose(profile=None, accept_language=None, community=None) == "zh-CN"
    assert choose(profile="xx", accept_language=None, community="zh-CN") == "zh-CN"


def test_only_exact_supported_tags_are_stored() -> None:
    assert check("en") == "en"
    with pytest.raises(ValueError, match="zh-CN, en"):
        check("zh")


def test_times_are_the_community_s_whatever_the_machine_s_zone() -> None:
    now = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)  # 13:00 in Shanghai
    at = datetime(2026, 12, 7, 5, 27, tzinfo=UTC)
    assert local_time(at, SHANGHAI, "zh-CN", now=now) == "今天 13:27"
    assert local_time(at, SHANGHAI, "en", now=now) == "Today 13:27"
    assert local_time(at - timedelta(days=1), SHANGHAI, "zh-CN", now=now) == "昨天 13:27"
    assert local_time(at + timedelta(days=1), SHANGHAI, "zh-CN", now=now) == "明天 13:27"
    assert local_time(at - timedelta(days=3), SHANGHAI, "zh-CN", now=now) == "12月4日 13:27"
    assert local_time(at - timedelta(days=3), SHANGHAI, "en", now=now) == "Dec 4 13:27"
    assert local_time(at - timedelta(days=400), SHANGHAI, "zh-CN", now=now) == (
        "2025年11月2日 13:27"
    )
    # 23:30 UTC on the 6th is already the 7th in Shanghai: "today", not "yesterday".
    late = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
    assert local_time(late, SHANGHAI, "zh-CN", now=now) == "今天 07:30"
    assert local_date(late, SHANGHAI, "zh-CN") == "2026年12月7日"


def test_a_time_in_a_sentence_reads_naturally() -> None:
    """ "try again at 13:27 today", not "at Today 13:27"; Chinese says it as it does alone."""
    now = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)  # 13:00 in Shanghai
    at = datetime(2026, 12, 7, 5, 27, tzinfo=UTC)
    assert time_in_sentence(at, SHANGHAI, "en", now=now) == "13:27 today"
    assert time_in_sentence(at + timedelta(days=1), SHANGHAI, "en", now=now) == "13:27 tomorrow"
    assert time_in_sentence(at - timedelta(days=1), SHANGHAI, "en", now=now) == "13:27 yesterday"
    assert time_in_sentence(at, SHANGHAI, "zh-CN", now=now) == "今天 13:27"
    assert time_in_sentence(at + timedelta(days=1), SHANGHAI, "zh-CN", now=now) == "明天 13:27"
    assert time_in_sentence(at - timedelta(days=3), SHANGHAI, "en", now=now) == "Dec 4 13:27"


def test_a_time_zone_is_named_as_people_name_it() -> None:
    assert zone_name(SHANGHAI, "zh-CN") == "北京时间"
    assert zone_name(SHANGHAI, "en") == "China Standard Time"
    assert zone_name(ZoneInfo("Europe/London"), "zh-CN") == "英国时间"
    assert zone_name(ZoneInfo("Europe/London"), "en") == "British Time"
    assert zone_name(ZoneInfo("UTC"), "zh-CN") == "UTC"


def test_relative_times_read_naturally() -> None:
    assert relative(timedelta(minutes=5), "zh-CN") == "5分钟后"
    assert relative(timedelta(minutes=-5), "zh-CN") == "5分钟前"
    assert relative(timedelta(minutes=5), "en") == "in 5 minutes"


def test_machines_get_iso_8601_with_the_offset() -> None:
    at = datetime(2026, 12, 7, 5, 27, tzinfo=UTC)
    assert iso_local(at, SHANGHAI) == "2026-12-07T13:27:00+08:00"


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("13920000000", "139 2000 0000"),
        ("139-2000-0000", "139 2000 0000"),
        ("+86 13920000000", "+86 139 2000 0000"),
        ("01088886666", "010 8888 6666"),
        ("075588886666", "0755 8888 6666"),
        ("12345", "12345"),
        ("139 2000 0000 ext 5", "139 2000 0000 ext 5"),
        ("", ""),
    ],
)
def test_phone_numbers_are_grouped_never_changed(written: str, shown: str) -> None:
    assert phone_for_reading(written) == shown
    assert "".join(c for c in shown if c.isdigit()) == "".join(c for c in written if c.isdigit())


def test_addresses_go_from_the_largest_place_to_the_smallest() -> None:
    assert (
        address(["幸福里小区", "3号楼", "2单元", "501室"]) == "幸福里小区 · 3号楼 · 2单元 · 501室"
    )
    assert address(["幸福里小区", None, " ", "501室"]) == "幸福里小区 · 501室"


def test_a_household_written_as_unit_and_room_reads_as_two_parts() -> None:
    assert household_parts("1单元101室") == ("1单元", "101室")
    assert household_parts(" 2单元 501室 ") == ("2单元", "501室")
    assert address(["朝阳花园社区", "1号楼", *household_parts("1单元101室")]) == (
        "朝阳花园社区 · 1号楼 · 1单元 · 101室"
    )
    # Written any other way, it is kept as written.
    for unit in ("101", "101室", "单元", "B0001"):
        assert household_parts(unit) == (unit,)
