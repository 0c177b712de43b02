"""Documentation that is derived from code stays in step with it."""

from __future__ import annotations

from pathlib import Path

from chub_mqtt import topics
from device_adapters.kinds import KINDS, markdown_table
from device_adapters.model import Lane

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
        topics.gateway_outbox_topic("{gateway_id}"),
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


def test_the_architecture_page_shows_the_import_contracts_that_run() -> None:
    from tests.support import contracts_doc

    assert contracts_doc.current() == contracts_doc.section(), (
        "docs/architecture.md's contracts differ from pyproject.toml: "
        "run python -m tests.support.contracts_doc"
    )


def test_the_architecture_page_names_every_package_and_hub_folder() -> None:
    root = DOCS.parent
    text = (DOCS / "architecture.md").read_text()
    packages = sorted(p.parent.name for p in root.glob("*/__init__.py") if p.parent.name != "tests")
    hub_parts = sorted(p.parent.name for p in (root / "hub").glob("*/__init__.py"))
    assert "hub" in packages, packages
    missing = [f"`{p}/`" for p in packages if f"`{p}/`" not in text]
    missing += [f"`{p}`" for p in hub_parts if f"`{p}`" not in text and f"`{p}/" not in text]
    assert not missing, f"docs/architecture.md does not name {missing}"
