"""The hub's main MQTT connection in a process of its own.

Why: paho reads and parses every PUBLISH in Python. In the ingest benchmark's
profile the hub's paho network thread held the GIL about a third of the time,
and the ingest worker, which needs the GIL for everything it does, waited for
it: storing a batch took about twice as long in the hub as in a process of its
own. So the main connection (telemetry, device state, command results: the
bulk) runs in a child process, which hands the hub its messages through a pipe,
many per message on the pipe. The alarm connection stays in the hub's process,
so an SOS takes no extra hop.

What stays true:
- A message is acknowledged only after the hub's commit: the hub sends its
  (connection, packet id) back and the child sends the PUBACK.
- Memory stays bounded: the child hands out at most ``inbox_limit`` messages
  the hub has not acknowledged yet, and its own inbox stops its network thread
  when full, as the in-process bridge does.
- The child never outlives the hub: when the hub dies, even by kill -9, the
  pipe closes and the child leaves at once, without a DISCONNECT and without
  acknowledging anything. The broker keeps the session, publishes the hub's
  will, and redelivers what was not acknowledged.
- A child that dies is started again. The messages it had handed out cannot be
  acknowledged any more (its connection is gone); the broker redelivers them on
  the new connection and the event-id check stores each event once.

The child's side, and what the pipe between them carries, is in
hub/bridge/receiver_child.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from hub.bridge.receiver_child import ReceiverState, Wire, run_child
from hub.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["ReceiverProcess", "ReceiverState", "Wire"]

# A child that ended unasked is started again after this long, doubling up to the cap.
_RESTART_S = 0.5
_RESTART_CAP_S = 30.0
_STOP_WAIT_S = 10.0


class ReceiverProcess:
    """The hub's side: starts the child, reads its pipe, sends acknowledgements back.

    ``on_items(generation, wire)`` and ``on_state(state)`` are called in the
    event loop as the pipe has them; ``on_state(None)`` when the child has ended.
    """

    def __init__(
        self,
        settings: Settings,
        inbox_limit: int,
        on_items: Callable[[int, Sequence[Wire]], None],
        on_state: Callable[[ReceiverState | None], None],
    ) -> None:
        self._settings = settings
        self._inbox_limit = inbox_limit
        self._on_items = on_items
        self._on_state = on_state
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._pipe: Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._restart_s = _RESTART_S
        self._restart: asyncio.TimerHandle | None = None
        self.generation = 0  # which child this is: 1 for the first
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return int(self._process.pid) if self._process is not None else None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._spawn()

    def _spawn(self) -> None:
        self._restart = None
        if self._stopping:
            return
        self.generation += 1
        if self._pipe is not None:
            self._pipe.close()  # the ended child's
        ours, theirs = self._context.Pipe(duplex=True)
        self._process = self._context.Process(
            target=run_child,
            args=(self._settings, self._inbox_limit, theirs, log.getEffectiveLevel()),
            name=f"{self._settings.mqtt.client_id}-receiver",
            daemon=True,
        )
        self._process.start()
        # Only the child may hold its end: then the child's exit closes the pipe here.
        theirs.close()
        self._pipe = ours
        # Read in the loop, not in a thread: a thread would take the GIL from the
        # ingest worker for every pipe message.
        assert self._loop is not None
        self._loop.add_reader(ours.fileno(), self._read, ours, self.generation)

    def _read(self, pipe: Connection, generation: int) -> None:
        """In the loop, when the child's pipe is readable: everything it has sent so far."""
        try:
            while pipe.poll():
                message = pipe.recv()
                if message[0] == "batch":
                    self._on_items(generation, message[1])
                elif message[0] == "state":
                    if message[1].connected:
                        self._restart_s = _RESTART_S  # up again: the next failure waits little
                    self._on_state(message[1])
                elif message[0] == "stopped":
                    break
            else:
                return
        except (EOFError, OSError):
            pass
        self._ended(pipe, generation)

    def _ended(self, pipe: Connection, generation: int) -> None:
        self._stop_reading(pipe)
        self._on_state(None)
        if self._stopping or generation != self.generation or self._loop is None:
            return  # asked to end, or an older child's pipe
        self._join(0.5)
        log.error(
            "the hub's MQTT receiver process ended (exit code %s); starting another in %.1f s",
            self._process.exitcode if self._process is not None else None,
            self._restart_s,
        )
        self.restarts += 1
        self._restart = self._loop.call_later(self._restart_s, self._spawn)
        self._restart_s = min(self._restart_s * 2, _RESTART_CAP_S)

    def _send(self, message: tuple[Any, ...]) -> None:
        pipe = self._pipe
        if pipe is None:
            return
        # From the loop only. A child that is gone: what it held goes to the next one.
        with contextlib.suppress(OSError):
            pipe.send(message)

    def ack(self, entries: list[tuple[int, int, int]]) -> None:
        """Acknowledge (connection, mid, qos) on the child's connection."""
        self._send(("ack", entries))

    async def stop(self) -> None:
        """Ask the child to end: it sends the PUBACKs it has, says offline, disconnects."""
        self._stopping = True
        if self._restart is not None:
            self._restart.cancel()
            self._restart = None
        if self._process is None:
            return
        self._send(("stop",))
        await asyncio.to_thread(self._join, _STOP_WAIT_S)
        if self._process.is_alive():
            log.warning("the MQTT receiver process did not stop; killing it")
            self._process.kill()
            await asyncio.to_thread(self._join, 5.0)
        if self._pipe is not None:
            self._stop_reading(self._pipe)
            self._pipe.close()

    def _stop_reading(self, pipe: Connection) -> None:
        if self._loop is not None and not pipe.closed:
            self._loop.remove_reader(pipe.fileno())

    def _join(self, timeout_s: float) -> None:
        if self._process is not None:
            self._process.join(timeout_s)
