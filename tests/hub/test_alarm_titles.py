"""Alarm title templates (hub.policy.titles): what rendering does with good and bad ones."""

from __future__ import annotations

import pytest

from hub.policy.document import EventRule, RulesDocument
from hub.policy.service import default_rules
from hub.policy.titles import TITLE_MAX, TitleError, check, fields_for, render

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


def test_every_shipped_title_is_valid() -> None:
    for rule in default_rules().rules:
        assert check(rule.title, fields_for(rule.rule_type())) is None, rule.id


def test_a_stored_document_loads_with_a_title_saving_would_refuse() -> None:
    doc = default_rules().model_dump(mode="json")
    doc["rules"][1]["title"] = "Fall {who"
    with pytest.raises(ValueError, match="rule 'fall': title: unbalanced brace"):
        RulesDocument.model_validate(doc)
    stored = RulesDocument.model_validate(doc, context={"stored": True})
    rule = stored.rules[1]
    assert isinstance(rule, EventRule) and rule.title == "Fall {who"
