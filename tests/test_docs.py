"""Documentation that is derived from code stays in step with it."""

from __future__ import annotations

from pathlib import Path

from device_adapters.kinds import KINDS, markdown_table
from device_adapters.model import Lane
from hub.bridge import topics

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_event_kind_table_is_the_vocabulary_in_code() -> None:
    assert markdown_table() in (DOCS / "event-kinds.md").read_text()


def test_the_topic_table_lists_every_topic_the_code_uses() -> None:
    text = (DOCS / "mqtt-topics.md").read_text()
    for topic in (
        topics.event_topic("{gateway_id}", Lane.ALARM, "{device_id}"),
        topics.event_topic("{gateway_id}", Lane.TELEMETRY, "{device_id}"),
        topics.dead_letter_topic("{gateway_id}"),
        topics.gateway_status_topic("{gateway_id}"),
        topics.hub_status_topic("{hub_client_id}"),
        topics.committed_topic("{gateway_id}"),
        topics.EVENTS_SUBSCRIPTION,
        topics.DEAD_LETTERS_SUBSCRIPTION,
    ):
        assert topic in text, topic


def test_the_alert_kinds_of_conditions_over_time_are_documented() -> None:
    from hub.policy.service import default_rules

    kinds = {str(getattr(rule, "alert_kind", "")) for rule in default_rules().rules}
    derived = {kind for kind in kinds if kind and kind not in KINDS}
    text = (DOCS / "event-kinds.md").read_text()
    assert derived, "the defaults have conditions over time"
    assert all(f"`{kind}`" in text for kind in derived), sorted(derived)
