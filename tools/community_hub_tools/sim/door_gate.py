"""A simulated Hikvision-style access controller (gate) that pushes events over HTTP.

Each method returns the JSON body the controller would push for one happening (built
from the PROTOCOLS.md 3 table, like the codec's golden frame); :meth:`SimulatedGate.push`
POSTs a body to the edge's ``/acs/{device_id}/events``, as JSON or, like controllers
that attach the face picture, as ``multipart/form-data`` with an ``event_log`` part.
``serialNo`` increases with every event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Final

import httpx

CHINA_TZ: Final = timezone(timedelta(hours=8))

# (major, minor) codes of PROTOCOLS.md 3.
VALID_CARD: Final = (5, 1)
CARD_NO_PERMISSION: Final = (5, 6)
INVALID_CARD: Final = (5, 9)
EXIT_BUTTON: Final = (5, 23)
DOOR_OPENED: Final = (5, 25)
DOOR_CLOSED: Final = (5, 26)
FORCED_OPEN: Final = (5, 27)
HELD_OPEN: Final = (5, 28)
FACE_VERIFIED: Final = (5, 75)
FACE_FAILED: Final = (5, 76)
DURESS: Final = (1, 0x40A)
CONTROLLER_TAMPER: Final = (1, 0x404)
READER_TAMPER: Final = (1, 0x406)
LOW_BATTERY: Final = (2, 0x403)
MAINS_OFF: Final = (2, 0x405)

# A tiny stand-in for the face picture real controllers attach (not a valid JPEG).
FAKE_PICTURE: Final = b"\xff\xd8\xff\xe0" + bytes(range(256)) + b"\xff\xd9"


class SimulatedGate:
    """Builds the bodies one controller pushes; counts its serial numbers."""

    def __init__(
        self,
        device_id: str,
        *,
        device_name: str = "Gate A",
        ip_address: str = "192.168.1.64",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.device_id = device_id
        self.device_name = device_name
        self.ip_address = ip_address
        self._clock = clock or (lambda: datetime.now(CHINA_TZ))
        self.serial_no = 0

    # -- bodies ------------------------------------------------------------------------

    def event(self, code: tuple[int, int], **fields: Any) -> bytes:
        """The pushed JSON of one event with ``code`` and extra AccessControllerEvent fields."""
        self.serial_no += 1
        ace: dict[str, Any] = {
            "deviceName": self.device_name,
            "majorEventType": code[0],
            "subEventType": code[1],
            "serialNo": self.serial_no,
        }
        ace.update({k: v for k, v in fields.items() if v is not None})
        doc = {
            "ipAddress": self.ip_address,
            "portNo": 80,
            "protocol": "HTTP",
            "dateTime": self._clock().isoformat(timespec="seconds"),
            "eventType": "AccessControllerEvent",
            "eventState": "active",
            "AccessControllerEvent": ace,
        }
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")

    def card_pass(self, card_no: str, name: str, employee_no: str, *, door: int = 1) -> bytes:
        return self.event(
            VALID_CARD,
            cardNo=card_no,
            name=name,
            employeeNoString=employee_no,
            doorNo=door,
            cardReaderNo=1,
            currentVerifyMode="cardOrFace",
        )

    def face_pass(self, name: str, employee_no: str, *, door: int = 1) -> bytes:
        return self.event(
            FACE_VERIFIED,
            name=name,
            employeeNoString=employee_no,
            doorNo=door,
            cardReaderNo=1,
            currentVerifyMode="cardOrFace",
        )

    def card_denied(self, card_no: str, *, known_card: bool = True, door: int = 1) -> bytes:
        """A card refused: known but without permission, or not known at all."""
        code = CARD_NO_PERMISSION if known_card else INVALID_CARD
        return self.event(code, cardNo=card_no, doorNo=door, cardReaderNo=1)

    def face_denied(self, *, door: int = 1) -> bytes:
        return self.event(FACE_FAILED, doorNo=door, cardReaderNo=1)

    def exit_button(self, *, door: int = 1) -> bytes:
        return self.event(EXIT_BUTTON, doorNo=door)

    def door_opened(self, *, door: int = 1) -> bytes:
        return self.event(DOOR_OPENED, doorNo=door)

    def door_closed(self, *, door: int = 1) -> bytes:
        return self.event(DOOR_CLOSED, doorNo=door)

    def forced_open(self, *, door: int = 1) -> bytes:
        return self.event(FORCED_OPEN, doorNo=door)

    def held_open(self, *, door: int = 1) -> bytes:
        return self.event(HELD_OPEN, doorNo=door)

    def duress(self, name: str | None = None, employee_no: str | None = None) -> bytes:
        return self.event(DURESS, name=name, employeeNoString=employee_no, doorNo=1)

    def tamper(self, *, reader: bool = False) -> bytes:
        return self.event(READER_TAMPER if reader else CONTROLLER_TAMPER)

    def low_battery(self) -> bytes:
        return self.event(LOW_BATTERY)

    def mains_off(self) -> bytes:
        return self.event(MAINS_OFF)

    def heartbeat(self) -> bytes:
        doc = {
            "ipAddress": self.ip_address,
            "dateTime": self._clock().isoformat(timespec="seconds"),
            "eventType": "heartBeat",
            "eventState": "active",
        }
        return json.dumps(doc).encode()

    # -- sending -----------------------------------------------------------------------

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/acs/{self.device_id}/events"

    async def push(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        body: bytes,
        auth: httpx.Auth | tuple[str, str] | None = None,
        *,
        multipart: bool = False,
        picture: bytes = FAKE_PICTURE,
    ) -> httpx.Response:
        """POST one body; ``multipart`` sends it with a picture part, as the edge accepts.

        ``auth=None`` uses the client's default (none unless the client has one).
        """
        extra: dict[str, Any] = {} if auth is None else {"auth": auth}
        if multipart:
            files = {
                "event_log": (None, body, "application/json"),
                "Picture": ("face.jpg", picture, "image/jpeg"),
            }
            return await client.post(self.url(base_url), files=files, **extra)
        return await client.post(
            self.url(base_url),
            content=body,
            headers={"Content-Type": "application/json"},
            **extra,
        )
