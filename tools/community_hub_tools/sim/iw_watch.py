"""A simulated "IW" protocol wristband (PROTOCOLS.md 1b) that produces real wire bytes.

Sans-I/O like the codec: each method returns the bytes one upstream frame puts on the
wire; whoever owns the socket sends them and reads the ``IWBP...#`` replies. Like a real
watch, :meth:`SimulatedIwWatch.login` must go first on every connection, since only the
login frame names the device. The watch wanders around its home (Shanghai by default)
and keeps a plausible battery, step and roll count.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Final, Literal

from device_adapters.iw import encode_frame

IwAlarm = Literal["sos", "fall", "removed"]

# Alarm codes of IWAP10 (third-party parsers; see device_adapters.iw.normalize).
ALARM_CODE: Final[dict[IwAlarm, str]] = {"sos": "01", "removed": "03", "fall": "05"}

# Commands from the platform this watch answers: locate, call, message.
_COMMANDS: Final = frozenset({"16", "32", "40"})

SHANGHAI: Final = (31.23, 121.47)
_MCC_CHINA, _MNC_CHINA_MOBILE = 460, 0


def _ddmm(value: float, degree_digits: int) -> str:
    """Degrees as ``ddmm.mmmm`` (latitude, 2 degree digits) or ``dddmm.mmmm`` (longitude)."""
    ten_thousandths = round(abs(value) * 60 * 10_000)  # in 1/10000 of a minute
    degrees, rest = divmod(ten_thousandths, 60 * 10_000)
    minutes, fraction = divmod(rest, 10_000)
    return f"{degrees:0{degree_digits}d}{minutes:02d}.{fraction:04d}"


class SimulatedIwWatch:
    """Builds the frames one IW watch sends; keeps its battery, steps and position."""

    def __init__(
        self,
        imei: str,
        *,
        home: tuple[float, float] = SHANGHAI,
        rng: random.Random | None = None,
    ) -> None:
        # Fail now, not mid-run, on an IMEI no watch could send.
        encode_frame("00", imei)
        self.imei = imei
        self.home = home
        self._rng = rng or random.Random()
        self.steps = self._rng.randint(0, 3000)
        self.rolls = 0
        self.battery = self._rng.randint(40, 100)
        # Start somewhere in the neighbourhood (~300 m), then wander.
        self.lat = home[0] + self._rng.uniform(-0.003, 0.003)
        self.lon = home[1] + self._rng.uniform(-0.003, 0.003)
        # Frames from the platform: (type, fields after the type) of each IWBP frame.
        self.received: list[tuple[str, list[str]]] = []
        self.messages_shown: list[str] = []
        self.calls: list[str] = []
        self._inbound = bytearray()

    @property
    def native_id(self) -> str:
        return self.imei

    def login(self) -> bytes:
        """``IWAP00<IMEI>#``: first frame on every connection; answered with the time."""
        return encode_frame("00", self.imei)

    def heartbeat(self) -> bytes:
        """``IWAP03,<GSM sats battery acc arm mode>,<steps>,<rolls>#``."""
        self._tick()
        return encode_frame("03", f",{self._status(satellites=0)},{self.steps},{self.rolls}")

    def location(self, now: datetime | None = None) -> bytes:
        """``IWAP01...#``: a GPS fix near home, with the serving cell and one Wi-Fi network."""
        self._tick()
        self._wander()
        return encode_frame("01", self._location(now, fix=True) + "," + self._wifi())

    def alarm(self, kind: IwAlarm, now: datetime | None = None) -> bytes:
        """``IWAP10...#`` with the alarm code; indoors it often has no GPS fix."""
        if kind == "fall":
            self.rolls += 1
        fix = self._rng.random() < 0.7
        tail = f",{ALARM_CODE[kind]},zh-cn,00,{self._wifi()}"
        return encode_frame("10", self._location(now, fix=fix) + tail)

    def heart_rate(self) -> bytes:
        """``IWAP49,<bpm>#``."""
        return encode_frame("49", f",{self._rng.randint(58, 95)}")

    def blood_pressure(self) -> bytes:
        """``IWAPHT,<bpm>,<systolic>,<diastolic>#``."""
        r = self._rng
        return encode_frame("HT", f",{r.randint(58, 95)},{r.randint(105, 150)},{r.randint(65, 95)}")

    def temperature(self) -> bytes:
        """``IWAP50,<°C>,<battery>#``."""
        return encode_frame("50", f",{self._rng.uniform(36.0, 37.4):.1f},{self.battery}")

    def receive(self, data: bytes) -> list[bytes]:
        """Bytes from the platform (``IWBP...#``); returns what the watch sends back.

        Locate (16), call (32) and message (40) are answered ``IWAP<type>,<journal>#``;
        a locate is then followed by a fresh location.
        """
        self._inbound += data
        out: list[bytes] = []
        while (end := self._inbound.find(b"#")) >= 0:
            raw = bytes(self._inbound[: end + 1])
            del self._inbound[: end + 1]
            if not raw.startswith(b"IWBP") or len(raw) < 7:
                continue
            type_ = raw[4:6].decode("ascii")
            fields = raw[6:-1].decode("ascii").lstrip(",").split(",")
            self.received.append((type_, fields))
            if type_ not in _COMMANDS or len(fields) < 2:
                continue
            imei, journal, *rest = fields
            if imei != self.imei:
                continue
            if type_ == "40":
                self.messages_shown.append(bytes.fromhex(rest[0]).decode("utf-16-be"))
            elif type_ == "32":
                self.calls.append(rest[0])
            out.append(encode_frame(type_, f",{journal}"))
            if type_ == "16":
                out.append(self.location())
        return out

    # -- internals ----------------------------------------------------------------------

    def _tick(self) -> None:
        self.steps += self._rng.randint(0, 60)
        if self._rng.random() < 0.05:
            self.battery -= 1
        if self.battery < 5:
            self.battery = 100  # put on the charger overnight

    def _wander(self) -> None:
        lat0, lon0 = self.home
        # A random walk pulled back towards home, so nobody drifts out of the city.
        self.lat += self._rng.gauss(0, 0.0003) + (lat0 - self.lat) * 0.05
        self.lon += self._rng.gauss(0, 0.0003) + (lon0 - self.lon) * 0.05

    def _status(self, *, satellites: int) -> str:
        """GSM ``ddd``, satellites ``ddd``, battery ``ddd``, acc ``d``, arm ``dd``, mode ``dd``."""
        gsm = self._rng.randint(40, 100)
        # acc 0, arm 01, mode 02, as in the real frames of PROTOCOLS.md 1b.
        return f"{gsm:03d}{satellites:03d}{self.battery:03d}00102"

    def _location(self, now: datetime | None, *, fix: bool) -> str:
        """The fixed-width run and ``,MCC,MNC,LAC,CID`` of a 01/10 frame."""
        t = (now or datetime.now(UTC)).astimezone(UTC)
        r = self._rng
        if fix:
            lat, lon = self.lat, self.lon
            speed, course, satellites = r.uniform(0, 4), r.uniform(0, 359.99), r.randint(5, 12)
        else:
            lat = lon = speed = course = 0.0
            satellites = 0
        run = "".join(
            [
                t.strftime("%y%m%d"),
                "A" if fix else "V",
                _ddmm(lat, 2),
                "N" if lat >= 0 else "S",
                _ddmm(lon, 3),
                "E" if lon >= 0 else "W",
                f"{speed:05.1f}",  # walking speed, km/h
                t.strftime("%H%M%S"),
                f"{course:06.2f}",
                self._status(satellites=satellites),
            ]
        )
        lac, cid = 6243 + r.randint(0, 2), r.randint(1000, 60000)
        return f"{run},{_MCC_CHINA},{_MNC_CHINA_MOBILE},{lac},{cid}"

    def _wifi(self) -> str:
        mac = "-".join(f"{self._rng.randint(0, 255):02X}" for _ in range(6))
        return f"home|{mac}|{self._rng.randint(40, 95)}"
