"""Alarm title templates (hub.policy.titles): what rendering does with good and bad ones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from device_adapters.kinds import KINDS
from hub.alerts.flows import _field
from hub.alerts.words import KIND_WORDS, what
from hub.i18n.catalogs import gettext
from hub.i18n.locales import SUPPORTED
from hub.policy.document import EventRule, RulesDocument
from hub.policy.service import default_rules
from hub.policy.titles import NEVER_SEEN, TITLE_MAX, TitleError, check, fields_for, render
from hub.residents.service import UNKNOWN_PLACE

FIELDS = {"who": "Zhou", "where": "2-202", "device": "watch", "what": "fall"}


def test_plain_fields_and_literal_braces_are_rendered() -> None:
    assert (
        render("{{{what}}}: {who} at {where} ({device})", FIELDS) == "{fall}: Zhou at 2-202 (watch)"
    )


def test_a_name_the_rule_is_not_given_stays_visible_as_written() -> None:
    assert render("{who}: {heart_rate_bpm} bpm", FIELDS) == "Zhou: {heart_rate_bpm} bpm"


@pytest.mark.parametrize(
    "template", ["Fall {who", "Fall }", "{who:>99999}", "{who!r}", "{who.__class__}", "{who[0]}"]
)
def test_what_str_format_would_have_taken_is_refused_by_rendering_too(template: str) -> None:
    with pytest.raises(TitleError):
        render(template, FIELDS)


def test_the_title_is_one_line_of_at_most_the_bound() -> None:
    long = {**FIELDS, "where": "x" * 10_000, "who": "Zhou\nGuoqiang\u202e"}
    title = render("{who} at {where}", long)
    assert len(title) == TITLE_MAX and title.endswith("…")
    assert title.startswith("Zhou Guoqiang  at xxx")


def test_each_rule_type_has_its_own_fields() -> None:
    assert check("{count} at {device}", fields_for("count")) is None
    assert check("{count} at {device}", fields_for("event")) is not None
    assert check("{value} for {who}", fields_for("threshold")) is None
    assert check("{reason}: {device}", fields_for("offline")) is None
    assert check("since {last_seen}", fields_for("welfare")) is None


def test_every_shipped_title_and_label_is_valid_and_written_in_every_language() -> None:
    doc = default_rules()
    for rule in doc.rules:
        assert isinstance(rule.title, dict) and set(rule.title) == set(SUPPORTED), rule.id
        for language in SUPPORTED:
            assert check(rule.title_in(language), fields_for(rule.rule_type())) is None, rule.id
        # The Chinese is Chinese, not a copy of the English.
        assert rule.title["zh-CN"] != rule.title["en"], rule.id
    for name, category in doc.categories.items():
        assert isinstance(category.label, dict) and set(category.label) == set(SUPPORTED), name
        assert category.label["zh-CN"] != category.label["en"], name


def test_the_shipped_sos_and_fire_titles_use_the_words_staff_use() -> None:
    doc = default_rules()
    titles = {r.id: r.title_in("zh-CN") for r in doc.rules}
    assert titles["sos"] == "一键求助：{who}，{where}"
    assert titles["fall"] == "跌倒报警：{who}，{where}"
    assert titles["pile_overtemperature"] == "火灾隐患：{device}温度过高，{where}"
    assert {r.id: r.title_in("en") for r in doc.rules}["sos"] == "SOS: {who} at {where}"


def _with_sos_title(title: object) -> dict[str, object]:
    doc = default_rules().model_dump(mode="json")
    doc["rules"][0]["title"] = title
    return doc


def test_a_title_in_one_text_reads_the_same_in_every_language() -> None:
    rule = RulesDocument.model_validate(_with_sos_title("SOS {who}")).rules[0]
    assert [rule.title_in(language) for language in SUPPORTED] == ["SOS {who}", "SOS {who}"]


def test_a_language_left_out_reads_the_default_language() -> None:
    rule = RulesDocument.model_validate(_with_sos_title({"zh-CN": "求助 {who}"})).rules[0]
    assert rule.title_in("en") == "求助 {who}"


def test_a_bad_placeholder_in_one_language_names_the_rule_and_the_language() -> None:
    bad = _with_sos_title({"zh-CN": "一键求助：{who}", "en": "SOS: {whom}"})
    with pytest.raises(ValueError, match=r"rule 'sos': title \(en\): unknown field \{whom\}"):
        RulesDocument.model_validate(bad)


def test_an_unknown_language_is_refused_naming_the_field() -> None:
    bad = _with_sos_title({"zh-CN": "一键求助：{who}", "fr": "SOS : {who}"})
    with pytest.raises(ValueError, match=r"rule 'sos': title: unknown language 'fr'"):
        RulesDocument.model_validate(bad)
    doc = default_rules().model_dump(mode="json")
    doc["categories"]["general"]["label"] = {"zh-TW": "綜合"}
    with pytest.raises(ValueError, match=r"label: unknown language 'zh-TW'"):
        RulesDocument.model_validate(doc)


def test_a_label_is_checked_in_each_language() -> None:
    doc = default_rules().model_dump(mode="json")
    doc["categories"]["general"]["label"] = {"zh-CN": "综合事务", "en": "x" * 61}
    with pytest.raises(ValueError, match=r"label \(en\): longer than 60 characters"):
        RulesDocument.model_validate(doc)
    doc["categories"]["general"]["label"] = {"zh-CN": "综合\u202e事务", "en": "General"}
    with pytest.raises(ValueError, match=r"label \(zh-CN\): it holds the control character"):
        RulesDocument.model_validate(doc)


def test_a_stored_document_loads_with_a_title_saving_would_refuse() -> None:
    doc = default_rules().model_dump(mode="json")
    doc["rules"][1]["title"] = "Fall {who"
    with pytest.raises(ValueError, match="rule 'fall': title: unbalanced brace"):
        RulesDocument.model_validate(doc)
    stored = RulesDocument.model_validate(doc, context={"stored": True})
    rule = stored.rules[1]
    assert isinstance(rule, EventRule) and rule.title == "Fall {who"


def test_every_kind_an_alarm_can_be_of_has_words_in_every_language() -> None:
    """``{what}``: every kind of the vocabulary and every alert kind the shipped rules
    raise reads in Chinese and English, never as the English in a Chinese title."""
    shipped = {getattr(r, "alert_kind", None) for r in default_rules().rules} - {None}
    assert set(KINDS) | shipped <= set(KIND_WORDS)
    for kind, words in KIND_WORDS.items():
        assert what(kind, "en") == words, kind
        assert what(kind, "zh-CN") != words, f"{kind}: no Chinese for {words!r}"
    assert (what("wristband.sos", "zh-CN"), what("wristband.fall", "zh-CN")) == (
        "一键求助",
        "跌倒报警",
    )
    # A community's own alert kind reads as it is written, made readable.
    assert what("boiler.too_hot", "zh-CN") == "boiler: too hot"


def test_a_place_and_a_time_never_seen_are_words_in_both_languages() -> None:
    assert gettext("zh-CN", UNKNOWN_PLACE) == "位置未知"
    assert gettext("en", UNKNOWN_PLACE) == "unknown location"
    assert gettext("zh-CN", NEVER_SEEN) == "从未出现"


def test_a_last_sign_of_life_reads_in_the_community_s_time_and_language() -> None:
    at = datetime(2026, 12, 7, 5, 27, tzinfo=UTC)  # 13:27 in Shanghai
    zh, en = _field(at, "zh-CN", "Asia/Shanghai"), _field(at, "en", "Asia/Shanghai")
    assert zh.startswith("2026年12月7日") and zh.endswith("13:27")
    assert "2026" in en and "Dec" in en and en.endswith("13:27")
    assert _field(at, "en", "Europe/London").endswith("05:27")
    assert (_field(NEVER_SEEN, "zh-CN", None), _field(NEVER_SEEN, "en", None)) == (
        "从未出现",
        "never seen",
    )
    assert _field(73, "zh-CN", None) == "73"
