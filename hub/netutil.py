"""Small network helpers shared by the demo, the hub and the edge gateway.

The demo starts several servers on one machine (the embedded MQTT broker, the
watch TCP server, the HTTP API). When one of their ports is taken, the user
should read which server could not start and how to move it, not a bare
``[Errno 98] Address already in use`` from deep inside a library.
"""

from __future__ import annotations

import errno
import socket

__all__ = ["PortInUseError", "check_port_free", "is_addr_in_use"]


class PortInUseError(RuntimeError):
    """A server could not start because another process listens on its port.

    ``str(exc)`` is a sentence for a person, for example
    ``port 1883 is already in use (embedded MQTT broker); choose another with
    --mqtt-port or HUB_MQTT_PORT``.
    """

    def __init__(
        self, port: int, what: str, *, host: str | None = None, hint: str | None = None
    ) -> None:
        self.port = port
        self.what = what
        self.host = host
        self.hint = hint
        where = f"port {port}" if not host else f"port {port} on {host}"
        message = f"{where} is already in use ({what})"
        if hint:
            message = f"{message}; {hint}"
        super().__init__(message)


def is_addr_in_use(exc: BaseException) -> bool:
    """True if ``exc`` (or an exception it was raised from) is EADDRINUSE."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno == errno.EADDRINUSE:
            return True
        current = current.__cause__ or current.__context__
    return False


def check_port_free(host: str, port: int, what: str, *, hint: str | None = None) -> None:
    """Raise :class:`PortInUseError` if a TCP server could not listen on ``host:port``.

    Binds (without listening) on every address ``host`` resolves to, the way
    ``asyncio.start_server`` will, with ``SO_REUSEADDR`` set as asyncio sets it,
    so that connections lingering in TIME_WAIT do not count as "in use".
    ``what`` names the server in the message; ``hint`` tells the user how to
    choose another port.

    Other bind failures (no such address, a privileged port) are raised as
    the ``OSError`` they are. A free port can still be taken between this
    check and the real bind; callers that care also catch the bind error and
    test it with :func:`is_addr_in_use`.
    """
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    for family, type_, proto, _canonname, sockaddr in infos:
        with socket.socket(family, type_, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                # asyncio binds IPv6 sockets v6-only; do the same so that an
                # IPv4 listener on the port is not mistaken for an IPv6 one.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(sockaddr)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PortInUseError(port, what, host=host, hint=hint) from exc
                raise
