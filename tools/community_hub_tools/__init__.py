"""Community Hub's tools: the demo, the device simulators, the benchmarks and the brokers
they start. A distribution of its own (``community-hub-tools``), so that a deployment's
install and the edge image carry none of them; its subcommands join ``community-hub``
through the ``community_hub.commands`` entry points (``hub.cli``).
"""
