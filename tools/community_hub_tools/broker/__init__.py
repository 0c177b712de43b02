"""Brokers started by the demo, the benchmarks and the tests; deployments run Mosquitto
(docker/mosquitto/).

``embedded`` is amqtt in the demo's own process; ``mosquitto`` starts a throwaway
Mosquitto from the shipped configuration.
"""
