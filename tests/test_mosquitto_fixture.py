"""The ``mosquitto`` fixture runs the shipped configuration, and its tuning is in effect.

Mosquitto's defaults would fail these tests: ``max_inflight_messages 20`` lets
only 20 unacknowledged QoS 1 messages reach a consumer, and
``max_queued_messages 1000`` silently drops a larger backlog.
"""

from __future__ import annotations

from tests.support.brokers import MosquittoProcess, MqttRecorder

TOPIC = "chub/v1/edge/edge-1/events/telemetry/w-1"


def _payloads(count: int) -> list[bytes]:
    return [f'{{"seq": {i}}}'.encode() for i in range(count)]


def _publish(broker: MosquittoProcess, payloads: list[bytes]) -> None:
    publisher = MqttRecorder("edge-1")
    publisher.connect(broker.host, broker.port)
    try:
        publisher.publish_many(TOPIC, payloads, qos=1)
    finally:
        publisher.close()


def test_derived_config_keeps_the_production_tuning(mosquitto: MosquittoProcess) -> None:
    config = mosquitto.config_path.read_text().splitlines()
    for line in (
        "set_tcp_nodelay true",
        "max_inflight_messages 1000",
        "max_queued_messages 1000000",
        "persistence true",
        f"listener {mosquitto.port} 127.0.0.1",
        "allow_anonymous true",
    ):
        assert line in config
    assert not any(line.startswith(("password_file", "acl_file")) for line in config)


def test_more_than_twenty_unacked_qos1_messages_are_in_flight(
    mosquitto: MosquittoProcess,
) -> None:
    subscriber = MqttRecorder("hub-inflight", clean_session=False, manual_ack=True)
    subscriber.connect(mosquitto.host, mosquitto.port)
    try:
        assert subscriber.subscribe("chub/v1/edge/+/events/#", qos=1) == [1]
        payloads = _payloads(200)
        _publish(mosquitto, payloads)

        # Never acknowledged: with the default window of 20 only 20 would come.
        arrived = subscriber.wait_for_count(len(payloads), timeout=10.0)
        assert arrived > 20
        assert arrived == len(payloads)
        assert subscriber.payloads() == payloads
    finally:
        subscriber.close()


def test_unacked_messages_are_redelivered_after_a_broker_restart(
    mosquitto: MosquittoProcess,
) -> None:
    client_id = "hub-restart"
    first = MqttRecorder(client_id, clean_session=False, manual_ack=True)
    first.connect(mosquitto.host, mosquitto.port)
    assert first.subscribe("chub/v1/edge/+/events/#", qos=1) == [1]
    payloads = _payloads(50)
    _publish(mosquitto, payloads)
    assert first.wait_for_count(len(payloads), timeout=10.0) == len(payloads)
    first.close()  # none acknowledged

    mosquitto.restart()  # SIGTERM (database saved), start again on the same port

    second = MqttRecorder(client_id, clean_session=False, manual_ack=True)
    second.connect(mosquitto.host, mosquitto.port)
    try:
        assert second.session_present is True
        assert second.wait_for_count(len(payloads), timeout=10.0) == len(payloads)
        assert sorted(second.payloads()) == sorted(payloads)
        second.ack_all()
        assert second.settle() == len(payloads)  # nothing beyond the unacked ones
    finally:
        second.close()

    # Acknowledged messages are gone for good, even across another restart.
    mosquitto.restart()
    third = MqttRecorder(client_id, clean_session=False, manual_ack=True)
    third.connect(mosquitto.host, mosquitto.port)
    try:
        assert third.session_present is True
        assert third.settle(quiet_s=1.0) == 0
    finally:
        third.close()


def test_offline_persistent_session_keeps_a_backlog_beyond_the_default_queue(
    mosquitto: MosquittoProcess,
) -> None:
    """3000 messages queue for an offline consumer; the default 1000 would drop most."""
    client_id = "hub-offline"
    first = MqttRecorder(client_id, clean_session=False)
    first.connect(mosquitto.host, mosquitto.port)
    assert first.subscribe("chub/v1/edge/+/events/#", qos=1) == [1]
    first.close()

    payloads = _payloads(3000)
    _publish(mosquitto, payloads)

    second = MqttRecorder(client_id, clean_session=False)
    second.connect(mosquitto.host, mosquitto.port)
    try:
        assert second.session_present is True
        assert second.wait_for_count(len(payloads), timeout=20.0) == len(payloads)
        assert sorted(second.payloads()) == sorted(payloads)
    finally:
        second.close()
