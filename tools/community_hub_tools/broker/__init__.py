"""Brokers started by the demo and the benchmarks; deployments run Mosquitto (docker/mosquitto/).

``hub.broker.embedded`` (amqtt) needs the ``demo`` extra; nothing imports it eagerly.
"""
