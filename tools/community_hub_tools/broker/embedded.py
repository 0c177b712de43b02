"""An MQTT broker inside the demo process, on amqtt.

``community-hub demo`` runs the hub, the edge gateway and this broker on one
machine so that nothing has to be installed besides the Python package. It
listens only on ``host`` (127.0.0.1 unless told otherwise) and lets anyone in
without a password: it is a demo broker, not a deployment's.

**For the demo only.** amqtt 0.12.1 was measured here NOT to redeliver
unacknowledged QoS 1 messages after a client with a persistent session
(``clean_session=False``) reconnects, whether or not the client logged in
with a username; Mosquitto does. The hub relies on that redelivery to lose
nothing across its own restarts, so deployments run Mosquitto with
``docker/mosquitto/mosquitto.conf``.

amqtt logs every connection and packet at INFO; :meth:`EmbeddedBroker.start`
raises its loggers to WARNING unless the application configured them itself.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, Final, Self

from amqtt.broker import Broker
from amqtt.errors import BrokerError

from hub.netutil import PortInUseError, check_port_free, is_addr_in_use

__all__ = ["EmbeddedBroker", "quiet_amqtt_logging"]

WHAT: Final = "embedded MQTT broker"
PORT_HINT: Final = "choose another with --mqtt-port or HUB_MQTT_PORT"

# amqtt's own loggers, its plugin manager's ("amqtt.broker.plugins" is a
# child of "amqtt") and the state-machine library it logs transitions with.
_CHATTY_LOGGERS: Final = ("amqtt", "transitions")


def quiet_amqtt_logging(level: int = logging.WARNING) -> None:
    """Set amqtt's loggers to ``level`` unless the application already set them."""
    for name in _CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(level)


class EmbeddedBroker:
    """An amqtt broker on ``host:port`` that allows anonymous clients.

    Use ``await start()`` / ``await stop()``, or ``async with EmbeddedBroker(...)``.
    :meth:`start` raises :class:`hub.netutil.PortInUseError` if the port is taken.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        if not 1 <= port <= 65535:
            raise ValueError(f"port must be between 1 and 65535, not {port}")
        self.host = host
        self.port = port
        self._broker: Any = None  # amqtt.broker.Broker; amqtt ships no type stubs

    @property
    def running(self) -> bool:
        return self._broker is not None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {
                "default": {"type": "tcp", "bind": f"{self.host}:{self.port}"},
            },
            # Only anonymous auth: no $SYS publisher, no packet/event loggers.
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }

    async def start(self) -> None:
        """Start listening. Raises PortInUseError if ``host:port`` is taken."""
        if self._broker is not None:
            raise RuntimeError("the embedded MQTT broker is already running")
        check_port_free(self.host, self.port, WHAT, hint=PORT_HINT)
        quiet_amqtt_logging()
        broker = Broker(self._config())
        try:
            await broker.start()
        except BrokerError as exc:
            # The port can be taken between the check and amqtt's own bind.
            if is_addr_in_use(exc):
                raise PortInUseError(self.port, WHAT, host=self.host, hint=PORT_HINT) from exc
            raise
        self._broker = broker

    async def stop(self) -> None:
        """Disconnect every client and stop listening. Safe to call twice."""
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.shutdown()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"EmbeddedBroker({self.host!r}, {self.port}, {state})"
