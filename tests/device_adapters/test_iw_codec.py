"""IW protocol codec: golden frames from PROTOCOLS.md 1b and Traccar, built frames, replies,
the stream and its login, and the simulator's wire bytes."""

from __future__ import annotations

import itertools
import random
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from community_hub_tools.sim.iw_watch import ALARM_CODE, SHANGHAI, SimulatedIwWatch
from device_adapters.base import StreamAdapter
from device_adapters.iw import (
    ADAPTER,
    ALARM_CODES,
    MAX_FRAME_BYTES,
    NO_LOGIN,
    PROTOCOL,
    IwDecodeError,
    IwFrame,
    IwReplier,
    IwStream,
    Rejected,
    decode_frame,
    device_id_of,
    encode_frame,
    make_adapter,
    reply_for,
    to_events,
)
from device_adapters.kinds import KINDS
from device_adapters.model import DeviceEvent, DeviceFamily, Lane, Severity

IMEI = "353456789012345"

# Real frames, verbatim from PROTOCOLS.md 1b.
LOGIN = b"IWAP00353456789012345#"
LOCATION = (
    b"IWAP01080524A2232.9806N11404.9355E000.1061830323.8706000908000102,460,0,9520,3671,"
    b"Home|74-DE-2B-44-88-8C|97&Home1|74-DE-2B-44-88-8C|97#"
)
HEARTBEAT = b"IWAP03,06000908000102,5555,30#"
SPEC_FRAMES = [LOGIN, LOCATION, HEARTBEAT]

# Real frames from Traccar's public TrvProtocolDecoderTest. Traccar's frame decoder strips
# the '#' before its decoder sees a frame, so its tests omit it: it is added back here.
HOME_WIFI = (
    b"HOME|74-DE-2B-44-88-8C|97&HOME1|74-DE-2B-44-88-8C|97&HOME2|74-DE-2B-44-88-8C|97"
    b"&HOME3|74-DE-2B-44-88-8C|97"
)
ALARM_SOS = (
    b"IWAP10080524A2232.9806N11404.9355E000.1061830323.8706000908000502,460,0,9520,3671,01,"
    b"zhcn,00," + HOME_WIFI + b"#"
)
ALARM_NONE = (
    b"IWAP10080524A2232.9806N11404.9355E000.1061830323.8706000908000502,460,0,9520,3671,00,"
    b"zh-cn,00," + HOME_WIFI + b"#"
)
LOCATION_4_WIFI = (
    b"IWAP01080524A2232.9806N11404.9355E000.1061830323.8706000908000102,460,0,9520,3671,"
    b"Home|74-DE-2B-44-88-8C|97& Home1|74-DE-2B-44-88-8C|97&Home2|74-DE-2B-44-88-8C|97"
    b"& Home3|74-DE-2B-44-88-8C|97#"
)
CELLS_7 = (
    b"IWAP02,zh_cn,0,7,460,0,9520|3671|13,9520|3672|12,9520|3673|11,9520|3674|10,9520|3675|9,"
    b"9520|3676|8,9520|3677|7,4,1|D8-24-BD-79-FA-1F|59&2|3C-46-D8-6D-CE-01|81"
    b"&3|0C-4C-39-1A-7C-65|69&4|70-A8-E3-5D-D7-C0|65#"
)
CELLS_6 = (
    b"IWAP02,zh_cn,0,6,260,1,11002|39252|9,11002|35112|23,11002|11043|24,11002|39253|24,"
    b"11002|13751|24,11018|8102|26,3,a|c0-4a-00-b6-9c-f5|64&a|c0-4a-00-b6-9c-f5|64"
    b"&a|18-a6-f7-92-35-da|84#"
)
HEART_RATE = b"IWAP49,68#"
BLOOD_PRESSURE = b"IWAPHT,60,130,85#"
HEALTH = b"IWAPHP,60,130,85,95,90,36.5,,,,,,,#"
TEMPERATURE = b"IWAP50,36.7,90#"
COMMAND_ACK = b"IWAPXL,080835#"
TRACCAR_FRAMES = [
    ALARM_SOS,
    ALARM_NONE,
    LOCATION_4_WIFI,
    CELLS_7,
    CELLS_6,
    HEART_RATE,
    BLOOD_PRESSURE,
    HEALTH,
    TEMPERATURE,
]
REAL_FRAMES = [*SPEC_FRAMES, *TRACCAR_FRAMES]

RECEIVED = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)
GATEWAY = "gw-test"
FIX_TIME = datetime(2008, 5, 24, 6, 18, 30, tzinfo=UTC)


def ids() -> Callable[[], uuid.UUID]:
    counter: Iterator[int] = itertools.count(1)
    return lambda: uuid.UUID(int=next(counter))


def events(raw: bytes, received_at: datetime = RECEIVED) -> list[DeviceEvent]:
    frame = decode_frame(raw, IMEI)
    return to_events(frame, received_at=received_at, gateway_id=GATEWAY, new_id=ids())


def location_body(
    *,
    date: str = "240501",
    fix: str = "A",
    lat: str = "3113.8000N",
    lon: str = "12128.2000E",
    time: str = "120000",
    status: str = "07500808800102",
    tail: str = ",460,0,6243,12345",
) -> str:
    """A 01/10 body: 31.23 N 121.47 E, 2.5 km/h, course 90, GSM 75, 8 satellites, battery 88,
    acc 0, arm 01, mode 02, then MCC, MNC, LAC, CID."""
    return f"{date}{fix}{lat}{lon}002.5{time}090.00{status}{tail}"


def num(value: object) -> float:
    assert isinstance(value, int | float)
    return float(value)


def alarm_frame(code: str, **kw: str) -> bytes:
    return encode_frame("10", location_body(**kw) + f",{code},zh-cn,00,home|AA-BB-CC-DD-EE-FF|80")


def stream_after_login() -> IwStream:
    stream = IwStream()
    assert stream.feed(LOGIN) == [decode_frame(LOGIN)]
    return stream


FIXED_CLOCK = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)
REPLIER = IwReplier(clock=lambda: FIXED_CLOCK)


# --- golden frames -------------------------------------------------------------------------


def test_login_golden() -> None:
    frame = decode_frame(LOGIN)
    assert frame == IwFrame(imei=IMEI, frame_type="00", body=IMEI, raw=LOGIN)
    [event] = to_events(frame, received_at=RECEIVED, gateway_id=GATEWAY, new_id=ids())
    assert event.kind == "device.login"
    assert event.device_id == device_id_of(frame) == "iw:353456789012345"
    assert event.family is DeviceFamily.WRISTBAND
    assert event.protocol == PROTOCOL == "iw"
    assert event.values == {"imei": IMEI}
    assert event.raw == LOGIN
    assert REPLIER.reply_for(frame) == b"IWBP00,20240501080000,8#"


def test_location_golden() -> None:
    frame = decode_frame(LOCATION, IMEI)
    assert (frame.imei, frame.frame_type) == (IMEI, "01")
    assert frame.body.startswith("080524A2232.9806N")
    [pos] = events(LOCATION)
    assert pos.event_id == uuid.UUID(int=1)
    assert pos.kind == "wristband.position"
    assert (pos.severity, pos.lane) == (Severity.INFORMATIONAL, Lane.TELEMETRY)
    assert pos.device_id == "iw:353456789012345"
    # Date yymmdd 080524, time hhmmss 061830.
    assert pos.device_time == FIX_TIME
    assert (pos.received_at, pos.gateway_id, pos.raw) == (RECEIVED, GATEWAY, LOCATION)
    assert pos.values == {
        "latitude": 22.549677,  # 22° 32.9806' N
        "longitude": 114.082258,  # 114° 04.9355' E
        "gps_fix": True,
        "position_source": "gps",
        "speed_kmh": 0.1,
        "course_deg": 323.87,
        "gsm_signal": 60,
        "satellites": 9,
        "battery_pct": 80,
        "working_mode": 2,
        "mcc": 460,
        "mnc": 0,
        "lac": 9520,
        "cid": 3671,
        "wifi_count": 2,
    }
    assert REPLIER.reply_for(frame) == b"IWBP01#"


def test_heartbeat_golden() -> None:
    frame = decode_frame(HEARTBEAT, IMEI)
    assert (frame.frame_type, frame.body) == ("03", ",06000908000102,5555,30")
    [event] = events(HEARTBEAT)
    assert event.kind == "wristband.heartbeat"
    assert event.device_time is None
    assert event.values == {
        "gsm_signal": 60,
        "satellites": 9,
        "battery_pct": 80,
        "working_mode": 2,
        "steps": 5555,
        "tumbles": 30,  # "rolls": the Watch codec's name for the same count
    }
    assert REPLIER.reply_for(frame) == b"IWBP03#"


def test_alarm_sos_golden() -> None:
    pos, sos = events(ALARM_SOS)
    assert pos.kind == "wristband.position"
    assert pos.values["alarm_code"] == "01"
    assert (pos.values["latitude"], pos.values["longitude"]) == (22.549677, 114.082258)
    assert pos.values["wifi_count"] == 4
    assert (pos.values["lac"], pos.values["cid"]) == (9520, 3671)
    assert sos.kind == "wristband.sos"
    assert (sos.severity, sos.lane) == (Severity.CRITICAL, Lane.ALARM)
    assert sos.device_time == pos.device_time == FIX_TIME
    assert sos.values == {
        "latitude": 22.549677,
        "longitude": 114.082258,
        "gps_fix": True,
        "position_source": "gps",
        "battery_pct": 80,
        "alarm_code": "01",
    }
    assert sos.event_id != pos.event_id
    assert REPLIER.reply_for(decode_frame(ALARM_SOS, IMEI)) == b"IWBP10#"


def test_alarm_frame_with_code_00_is_only_a_position() -> None:
    [pos] = events(ALARM_NONE)
    assert pos.kind == "wristband.position"
    assert pos.values["alarm_code"] == "00"
    assert pos.values["wifi_count"] == 4


def test_location_with_spaces_in_wifi_list_golden() -> None:
    [pos] = events(LOCATION_4_WIFI)
    assert pos.values["wifi_count"] == 4
    assert pos.device_time == FIX_TIME


@pytest.mark.parametrize(
    ("raw", "values"),
    [
        (CELLS_7, {"gps_fix": False, "cell_count": 7, "mcc": 460, "mnc": 0, "wifi_count": 4}),
        (CELLS_6, {"gps_fix": False, "cell_count": 6, "mcc": 260, "mnc": 1, "wifi_count": 3}),
    ],
)
def test_cell_and_wifi_location_golden(raw: bytes, values: dict[str, object]) -> None:
    [pos] = events(raw)
    assert pos.kind == "wristband.position"
    assert pos.values == values
    assert "latitude" not in pos.values
    assert pos.device_time is None
    assert REPLIER.reply_for(decode_frame(raw, IMEI)) == b"IWBP02#"


def test_heart_rate_golden() -> None:
    [event] = events(HEART_RATE)
    assert event.kind == "wristband.heart_rate"
    assert event.values == {"heart_rate_bpm": 68}
    assert REPLIER.reply_for(decode_frame(HEART_RATE, IMEI)) == b"IWBP49#"


def test_blood_pressure_golden() -> None:
    [event] = events(BLOOD_PRESSURE)
    assert event.kind == "wristband.blood_pressure"
    # HT is heart rate, systolic, diastolic (Traccar reads diastolic 85).
    assert event.values == {"heart_rate_bpm": 60, "systolic_mmhg": 130, "diastolic_mmhg": 85}
    assert REPLIER.reply_for(decode_frame(BLOOD_PRESSURE, IMEI)) == b"IWBPHT#"


def test_health_golden() -> None:
    bp, spo2, temp = events(HEALTH)
    assert (bp.kind, spo2.kind, temp.kind) == (
        "wristband.blood_pressure",
        "wristband.spo2",
        "wristband.temperature",
    )
    assert bp.values == {"heart_rate_bpm": 60, "systolic_mmhg": 130, "diastolic_mmhg": 85}
    assert spo2.values == {"spo2_pct": 95}
    assert temp.values == {"body_temp_c": 36.5}
    assert len({bp.event_id, spo2.event_id, temp.event_id}) == 3


def test_temperature_golden() -> None:
    [event] = events(TEMPERATURE)
    assert event.kind == "wristband.temperature"
    assert event.values == {"body_temp_c": 36.7, "battery_pct": 90}
    assert REPLIER.reply_for(decode_frame(TEMPERATURE, IMEI)) == b"IWBP50#"


def test_command_ack_real_is_unsupported_but_answered() -> None:
    frame = decode_frame(COMMAND_ACK, IMEI)
    with pytest.raises(IwDecodeError, match="unsupported type 'XL'") as info:
        to_events(frame, received_at=RECEIVED, gateway_id=GATEWAY)
    assert info.value.raw == COMMAND_ACK
    assert REPLIER.reply_for(frame) == b"IWBPXL#"


@pytest.mark.parametrize("raw", REAL_FRAMES)
def test_real_frames_events_are_json_round_trippable(raw: bytes) -> None:
    result = events(raw)
    assert result
    for event in result:
        assert DeviceEvent.model_validate_json(event.model_dump_json()) == event
        assert (event.severity, event.lane) == (
            KINDS[event.kind].severity,
            KINDS[event.kind].lane,
        )
        assert event.device_id == f"iw:{IMEI}"


# --- built frames: alarms and locations -----------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("01", "wristband.sos"),
        ("03", "wristband.removed"),
        ("05", "wristband.fall"),
        ("06", "wristband.fall"),
    ],
)
def test_each_alarm_code_gives_its_event(code: str, kind: str) -> None:
    assert ALARM_CODES[code] == kind
    pos, alarm = events(alarm_frame(code))
    assert pos.values["alarm_code"] == code
    assert alarm.kind == kind
    assert (alarm.severity, alarm.lane) == (KINDS[kind].severity, KINDS[kind].lane)
    assert alarm.device_time == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert alarm.values == {
        "latitude": 31.23,
        "longitude": 121.47,
        "gps_fix": True,
        "position_source": "gps",
        "battery_pct": 88,
        "alarm_code": code,
    }


@pytest.mark.parametrize("code", ["00", "02", "04", "99"])
def test_other_alarm_codes_give_no_alarm_event_but_keep_the_code(code: str) -> None:
    [pos] = events(alarm_frame(code))
    assert pos.kind == "wristband.position"
    assert pos.values["alarm_code"] == code


def test_built_location_fields() -> None:
    [pos] = events(encode_frame("01", location_body()))
    assert pos.values == {
        "latitude": 31.23,
        "longitude": 121.47,
        "gps_fix": True,
        "position_source": "gps",
        "speed_kmh": 2.5,
        "course_deg": 90.0,
        "gsm_signal": 75,
        "satellites": 8,
        "battery_pct": 88,
        "working_mode": 2,
        "mcc": 460,
        "mnc": 0,
        "lac": 6243,
        "cid": 12345,
    }


def test_south_and_west_are_negative() -> None:
    [pos] = events(encode_frame("01", location_body(lat="3352.1280S", lon="07040.0000W")))
    assert (pos.values["latitude"], pos.values["longitude"]) == (-33.8688, -70.666667)


def test_no_fix_gives_no_position_with_gps_fix_false() -> None:
    body = location_body(fix="V", lat="0000.0000N", lon="00000.0000E")
    pos, sos = events(encode_frame("10", body + ",01,zh-cn,00"))
    assert pos.values["gps_fix"] is False
    # 0,0 is no fix, not a place in the Gulf of Guinea (docs/positions.md).
    for event in (pos, sos):
        assert not {"latitude", "longitude", "position_source"} & event.values.keys()
    assert sos.values["gps_fix"] is False
    assert "wifi_count" not in pos.values


def test_a_fix_is_gps_and_a_v_with_coordinates_is_wifi_or_cell() -> None:
    [pos] = events(encode_frame("01", location_body()))
    assert pos.values["position_source"] == "gps"
    [pos] = events(encode_frame("01", location_body(fix="V")))
    assert (pos.values["gps_fix"], pos.values["position_source"]) == (False, "lbs")
    wifi = location_body(fix="V") + ",Home|74-DE-2B-44-88-8C|97"
    [pos] = events(encode_frame("01", wifi))
    assert pos.values["position_source"] == "wifi"


def test_comma_after_type_and_extra_status_digits_are_accepted() -> None:
    # Some firmware writes "IWAP01,..." (as "IWAP03,..."); Traccar allows 3-5 digits more.
    body = location_body(status="0750080880010200011")
    [pos] = events(encode_frame("01", "," + body))
    assert pos.values["latitude"] == 31.23
    assert pos.values["cid"] == 12345


def test_location_without_cell_data_is_still_a_position() -> None:
    [pos] = events(encode_frame("01", location_body(tail="")))
    assert pos.values["battery_pct"] == 88
    assert "mcc" not in pos.values


def test_garbled_cell_data_is_left_out() -> None:
    [pos] = events(encode_frame("01", location_body(tail=",460,x,3A2B,")))
    assert pos.values["mcc"] == 460
    assert not {"mnc", "lac", "cid"} & pos.values.keys()


def test_unset_clock_gives_no_device_time() -> None:
    pos, sos = events(alarm_frame("01", date="000000"))
    assert pos.device_time is None and sos.device_time is None


def test_date_read_day_first_only_when_yymmdd_would_be_in_the_future() -> None:
    # A public server's sample frame: 301122 is 2022-11-30 (ddmmyy), not 2030-11-22.
    raw = (
        b"IWAP01301122V0000.0000N00000.0000E000.0201934000.0003900009700003,310,260,46136,"
        b"11869187,AP1|16:8d:db:65:af:0f|-41&AP2|5c:5b:35:01:cd:d1|-43#"
    )
    [pos] = events(raw, received_at=datetime(2022, 12, 1, tzinfo=UTC))
    assert pos.device_time == datetime(2022, 11, 30, 20, 19, 34, tzinfo=UTC)
    assert "latitude" not in pos.values  # V and 0,0: no fix
    assert (pos.values["battery_pct"], pos.values["working_mode"]) == (97, 3)
    assert pos.values["wifi_count"] == 2
    # Up to a day ahead of arrival is a clock, not a format, difference.
    early = datetime(2024, 5, 1, 20, 0, tzinfo=UTC)
    [pos] = events(encode_frame("01", location_body(date="240502")), received_at=early)
    assert pos.device_time == datetime(2024, 5, 2, 12, 0, tzinfo=UTC)


def test_garbled_location_does_not_lose_the_sos() -> None:
    raw = encode_frame("10", "080524A22XX.9806N,460,0,9520,3671,01,zh-cn,00")
    [sos] = events(raw)
    assert sos.kind == "wristband.sos"
    assert sos.device_time is None
    assert sos.values["gps_fix"] is False
    assert sos.values["alarm_code"] == "01"
    assert "location" in str(sos.values["location_error"])


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (encode_frame("01", "080524A22XX.9806N,460,0,9520,3671"), "location is not"),
        (encode_frame("10", "080524A22XX.9806N,460,0,9520,3671,00,zh-cn,00"), "location"),
        (encode_frame("01", location_body(lat="3160.0000N")), "out of range"),
        (encode_frame("01", location_body(lat="9100.0000N")), "out of range"),
        (encode_frame("01", location_body(lon="18100.0000E")), "out of range"),
        (encode_frame("01", location_body(date="241301")), "invalid date"),
        (encode_frame("01", location_body(time="250000")), "invalid date"),
        (encode_frame("01", "080524A2232.9806N11404.9355E000.1061830"), "location is not"),
        (alarm_frame("1"), "alarm code"),
        (encode_frame("10", location_body()), "missing field alarm code"),
        (encode_frame("01", location_body().replace("090.00", "0.0.0.")), "course"),
        (encode_frame("03", ",0600090800010,5555,30"), "status"),
        (encode_frame("03", ",06000908000102,x,30"), "steps"),
        (encode_frame("02", ",zh_cn,0,x,460,0"), "cell count"),
        (encode_frame("49", ",abc"), "heart rate"),
        (encode_frame("49", ""), "heart rate"),
        (encode_frame("HT", ",60,130"), "diastolic"),
        (encode_frame("HP", ",,,,,,"), "no reading"),
        (encode_frame("HP", ",,,,101"), "spo2"),
        (encode_frame("50", ",98.6,90"), "out of range"),
        (encode_frame("50", ",nan,90"), "not a number"),
        (encode_frame("50", ",36.5,full"), "battery"),
        (encode_frame("07", ",1,2"), "unsupported type '07'"),
    ],
)
def test_malformed_content_raises_decode_error(raw: bytes, reason: str) -> None:
    with pytest.raises(IwDecodeError, match=reason) as info:
        events(raw)
    assert info.value.raw == raw


def test_optional_readings() -> None:
    [bp] = events(encode_frame("HT", ",,130,85"))
    assert bp.values == {"systolic_mmhg": 130, "diastolic_mmhg": 85}
    [spo2] = events(b"IWAPHP,,,,96,,,,,,,,,#")  # a real firmware's SpO2-only report
    assert (spo2.kind, spo2.values) == ("wristband.spo2", {"spo2_pct": 96})
    [hr] = events(encode_frame("HP", ",72"))
    assert (hr.kind, hr.values) == ("wristband.heart_rate", {"heart_rate_bpm": 72})
    [temp] = events(encode_frame("50", ",36.2"))
    assert temp.values == {"body_temp_c": 36.2}
    [hb] = events(encode_frame("03", ",06000908000102"))
    assert "steps" not in hb.values and hb.values["battery_pct"] == 80


# --- framing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "imei", "reason"),
    [
        (b"", IMEI, "empty"),
        (b"IWBP03#", IMEI, "start with 'IWAP'"),
        (b"XIWAP49,68#", IMEI, "start with 'IWAP'"),
        (b"IWAP49,68", IMEI, "missing '#'"),
        (b"IWAP49,68#x", IMEI, "missing '#'"),
        (b"IWAP49,68##", IMEI, "trailing"),
        (b"IWAP49,6IWAP49,68#", IMEI, "truncated"),
        (b"IWAP#", IMEI, "type must be"),
        (b"IWAP4#", IMEI, "type must be"),
        (b"IWAP4,,68#", IMEI, "type must be"),
        (b"IWAP\xff\xfe#", IMEI, "type must be"),
        (HEARTBEAT, None, "no login"),
        (HEARTBEAT, "12345", "15-digit IMEI"),
        (b"IWAP0035345678901234#", None, "without a 15-digit IMEI"),
        (b"IWAP00353456789012345X#", None, "without a 15-digit IMEI"),
        (b"IWAP" + b"49," + b"1" * MAX_FRAME_BYTES + b"#", IMEI, "too large"),
    ],
)
def test_decode_frame_rejects(raw: bytes, imei: str | None, reason: str) -> None:
    with pytest.raises(IwDecodeError, match=reason) as info:
        decode_frame(raw, imei)
    assert info.value.raw == raw


def test_login_variants_bring_their_own_imei() -> None:
    other = "861265061009822"
    # The login's IMEI wins over the connection's, with or without a comma or more fields.
    assert decode_frame(f"IWAP00{other}#".encode(), IMEI).imei == other
    assert decode_frame(f"IWAP00,{other}#".encode()).imei == other
    assert decode_frame(f"IWAP00{other},89860,46000#".encode()).imei == other


def test_body_is_text_even_when_not_utf8() -> None:
    frame = decode_frame(b"IWAP01x\xff\xfe#", IMEI)
    assert frame.body == "x\xff\xfe"
    ssid = encode_frame("01", location_body(tail=",460,0,1,2,家|AA-BB-CC-DD-EE-FF|70"))
    assert "家" in decode_frame(ssid, IMEI).body
    assert events(ssid)[0].values["wifi_count"] == 1


def test_encode_frame_builds_the_wire_bytes() -> None:
    assert encode_frame("00", IMEI) == LOGIN
    assert encode_frame("03", ",06000908000102,5555,30") == HEARTBEAT
    assert encode_frame("HT", ",60,130,85") == BLOOD_PRESSURE


@pytest.mark.parametrize(
    ("type_", "body"),
    [
        ("0", ",1"),
        ("001", ",1"),
        ("0#", ",1"),
        ("49", ",6#8"),
        ("01", "x,IWAP49,68"),
        ("IW", "AP49,68"),  # 'IWAP' again across type and body
        ("WI", "WAP"),
        ("00", "12345"),
        ("49", "," + "1" * MAX_FRAME_BYTES),
    ],
)
def test_encode_frame_refuses_unreadable_frames(type_: str, body: str) -> None:
    with pytest.raises(ValueError):
        encode_frame(type_, body)


# --- replies and the adapter -----------------------------------------------------------------


@pytest.mark.parametrize("type_", ["01", "02", "03", "10", "49", "HT", "HP", "50", "XL", "07"])
def test_every_other_type_gets_iwbp_type(type_: str) -> None:
    frame = decode_frame(encode_frame(type_, ",1"), IMEI)
    assert reply_for(frame, FIXED_CLOCK) == f"IWBP{type_}#".encode()
    assert ADAPTER.reply_for(frame) == f"IWBP{type_}#".encode()


def test_login_reply_is_utc_time_and_tz() -> None:
    frame = decode_frame(LOGIN)
    shanghai = datetime(2024, 5, 1, 16, 0, 0, tzinfo=timezone(timedelta(hours=8)))
    assert reply_for(frame, shanghai) == b"IWBP00,20240501080000,8#"
    assert reply_for(frame, FIXED_CLOCK, tz="-5") == b"IWBP00,20240501080000,-5#"
    assert IwReplier(lambda: FIXED_CLOCK, tz="0").reply_for(frame) == b"IWBP00,20240501080000,0#"
    with pytest.raises(ValueError, match="aware"):
        reply_for(frame, datetime(2024, 5, 1, 8, 0))
    with pytest.raises(ValueError, match="tz"):
        IwReplier(tz="Asia/Shanghai")


def test_default_adapter_answers_login_with_the_current_utc_time() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    reply = ADAPTER.reply_for(decode_frame(LOGIN))
    after = datetime.now(UTC)
    match = re.fullmatch(rb"IWBP00,(\d{14}),8#", reply)
    assert match is not None
    sent = datetime.strptime(match.group(1).decode(), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    assert before <= sent <= after


def test_adapter_contract() -> None:
    assert isinstance(ADAPTER, StreamAdapter)
    assert (ADAPTER.name, ADAPTER.family, ADAPTER.transport) == (
        "iw",
        DeviceFamily.WRISTBAND,
        "tcp",
    )
    stream = ADAPTER.new_stream()
    assert isinstance(stream, IwStream)
    [login, heartbeat] = stream.feed(LOGIN + HEARTBEAT)
    assert isinstance(heartbeat, IwFrame)
    assert ADAPTER.device_id(heartbeat) == "iw:353456789012345"
    assert [e.kind for e in ADAPTER.to_events(heartbeat, received_at=RECEIVED, gateway_id="g")] == [
        "wristband.heartbeat"
    ]
    fixed = make_adapter(clock=lambda: FIXED_CLOCK, tz="7")
    assert isinstance(login, IwFrame)
    assert fixed.reply_for(login) == b"IWBP00,20240501080000,7#"


# --- stream ----------------------------------------------------------------------------------


def test_frames_are_stamped_with_the_login_imei() -> None:
    stream = IwStream()
    out = stream.feed(b"".join(REAL_FRAMES))
    assert out == [decode_frame(raw, IMEI) for raw in REAL_FRAMES]
    assert all(isinstance(item, IwFrame) and item.imei == IMEI for item in out)
    assert stream.imei == IMEI
    assert stream.buffered == 0


def test_frames_before_login_are_rejected() -> None:
    stream = IwStream()
    out = stream.feed(HEARTBEAT + HEART_RATE + LOGIN + HEART_RATE)
    assert out == [
        Rejected(HEARTBEAT, NO_LOGIN),
        Rejected(HEART_RATE, NO_LOGIN),
        decode_frame(LOGIN),
        decode_frame(HEART_RATE, IMEI),
    ]
    assert NO_LOGIN == "no login (IWAP00) on this connection yet"


def test_bad_login_leaves_the_connection_anonymous() -> None:
    stream = IwStream()
    out = stream.feed(b"IWAP0012345#" + HEART_RATE)
    assert [type(item) for item in out] == [Rejected, Rejected]
    assert isinstance(out[0], Rejected) and "15-digit IMEI" in out[0].reason
    assert out[1] == Rejected(HEART_RATE, NO_LOGIN)
    assert stream.imei is None


def test_a_new_login_changes_the_imei() -> None:
    stream = stream_after_login()
    other = encode_frame("00", "861265061009822")
    out = stream.feed(other + HEART_RATE)
    assert [item.imei for item in out if isinstance(item, IwFrame)] == [
        "861265061009822",
        "861265061009822",
    ]


@pytest.mark.parametrize("raw", [*REAL_FRAMES, alarm_frame("05")])
def test_frame_split_at_every_byte_position(raw: bytes) -> None:
    expected = decode_frame(raw, IMEI)
    for cut in range(len(raw) + 1):
        stream = stream_after_login()
        out = stream.feed(raw[:cut]) + stream.feed(raw[cut:])
        assert out == [expected], cut
        assert stream.buffered == 0


def test_byte_by_byte_feed() -> None:
    data = b"".join(REAL_FRAMES)
    stream = IwStream()
    out = [item for i in range(len(data)) for item in stream.feed(data[i : i + 1])]
    assert out == [decode_frame(raw, IMEI) for raw in REAL_FRAMES]


def test_garbage_between_frames_is_rejected_and_next_frame_decoded() -> None:
    stream = stream_after_login()
    out = stream.feed(HEART_RATE + b"\r\nnoise#IW" + TEMPERATURE + b"\x00\xff")
    assert out == [
        decode_frame(HEART_RATE, IMEI),
        Rejected(b"\r\nnoise#IW", "bytes outside a frame"),
        decode_frame(TEMPERATURE, IMEI),
        Rejected(b"\x00\xff", "bytes outside a frame"),
    ]


def test_partial_iwap_at_the_end_of_a_read_waits_for_the_next() -> None:
    stream = stream_after_login()
    assert stream.feed(b"junkIWA") == [Rejected(b"junk", "bytes outside a frame")]
    assert stream.buffered == 3
    assert stream.feed(HEART_RATE[3:]) == [decode_frame(HEART_RATE, IMEI)]


def test_truncated_frame_is_rejected_at_the_next_iwap() -> None:
    stream = stream_after_login()
    out = stream.feed(b"IWAP01080524A22" + ALARM_SOS)
    assert out == [
        Rejected(b"IWAP01080524A22", "'IWAP' before the '#' of the frame (truncated frame)"),
        decode_frame(ALARM_SOS, IMEI),
    ]
    # Also when the next frame only arrives in a later read.
    assert stream.feed(b"IWAP03,0600") == []
    out = stream.feed(HEART_RATE)
    assert [type(item) for item in out] == [Rejected, IwFrame]


def test_malformed_frame_is_rejected_and_stream_goes_on() -> None:
    stream = stream_after_login()
    out = stream.feed(b"IWAP#" + HEART_RATE)
    assert isinstance(out[0], Rejected) and "type must be" in out[0].reason
    assert out[1] == decode_frame(HEART_RATE, IMEI)


def test_oversized_frame_is_rejected_and_buffer_stays_bounded() -> None:
    stream = IwStream(max_frame=64)
    stream.feed(LOGIN)
    long = b"IWAP49," + b"1" * 100
    out = stream.feed(long)
    assert out == [
        Rejected(long[:64], "frame too large"),
        Rejected(long[64:], "bytes outside a frame"),
    ]
    assert stream.buffered == 0
    out = stream.feed(b"2" * 1000 + b"#" + HEART_RATE)
    assert out == [
        Rejected(b"2" * 1000 + b"#", "bytes outside a frame"),
        decode_frame(HEART_RATE, IMEI),
    ]
    assert stream.buffered == 0


def test_oversized_frame_in_one_read_with_its_end() -> None:
    stream = IwStream(max_frame=32)
    big = b"IWAP49," + b"7" * 40 + b"#"
    data = LOGIN + big + HEART_RATE
    out = stream.feed(data)
    assert out[0] == decode_frame(LOGIN)
    too_large, outside = out[1], out[2]
    assert isinstance(too_large, Rejected) and too_large.reason == "frame too large"
    assert isinstance(outside, Rejected) and outside.reason == "bytes outside a frame"
    assert too_large.raw + outside.raw == big
    assert out[3:] == [decode_frame(HEART_RATE, IMEI)]
    assert stream.buffered == 0


def test_largest_frame_fits() -> None:
    raw = encode_frame("49", "," + "1" * (MAX_FRAME_BYTES - 8))
    assert len(raw) == MAX_FRAME_BYTES
    stream = stream_after_login()
    assert stream.feed(raw[:-1]) == []
    assert stream.feed(raw[-1:]) == [decode_frame(raw, IMEI)]


def test_flush_rejects_an_incomplete_frame() -> None:
    stream = stream_after_login()
    assert stream.feed(b"IWAP49,6") == []
    assert stream.flush() == [Rejected(b"IWAP49,6", "incomplete frame at end of stream")]
    assert stream.feed(b"IW") == []
    assert stream.flush() == [Rejected(b"IW", "bytes outside a frame")]
    assert stream.buffered == 0
    assert stream.flush() == []


def test_stream_refuses_a_bound_that_cannot_hold_a_frame() -> None:
    with pytest.raises(ValueError):
        IwStream(max_frame=6)
    with pytest.raises(ValueError):
        IwStream(max_frame=MAX_FRAME_BYTES + 1)


# --- simulator -------------------------------------------------------------------------------


def test_simulated_watch_speaks_the_protocol() -> None:
    watch = SimulatedIwWatch("861265061009822", rng=random.Random(7))
    now = datetime(2024, 5, 1, 9, 30, 15, tzinfo=UTC)
    wire = [
        watch.login(),
        watch.heartbeat(),
        watch.location(now),
        watch.heart_rate(),
        watch.blood_pressure(),
        watch.temperature(),
        *(watch.alarm(kind, now) for kind in ("sos", "fall", "removed")),
    ]
    stream = IwStream()
    frames = stream.feed(b"".join(wire))
    assert all(isinstance(f, IwFrame) and f.imei == "861265061009822" for f in frames)
    kinds = [
        [e.kind for e in to_events(f, received_at=now, gateway_id="g")]
        for f in frames
        if isinstance(f, IwFrame)
    ]
    assert kinds == [
        ["device.login"],
        ["wristband.heartbeat"],
        ["wristband.position"],
        ["wristband.heart_rate"],
        ["wristband.blood_pressure"],
        ["wristband.temperature"],
        ["wristband.position", "wristband.sos"],
        ["wristband.position", "wristband.fall"],
        ["wristband.position", "wristband.removed"],
    ]
    assert [REPLIER.reply_for(f) for f in frames if isinstance(f, IwFrame)][1:] == [
        b"IWBP03#",
        b"IWBP01#",
        b"IWBP49#",
        b"IWBPHT#",
        b"IWBP50#",
        b"IWBP10#",
        b"IWBP10#",
        b"IWBP10#",
    ]
    assert ALARM_CODE == {"sos": "01", "removed": "03", "fall": "05"}


def test_simulated_positions_are_near_shanghai_and_exact_on_the_wire() -> None:
    watch = SimulatedIwWatch("861265061009822", rng=random.Random(1))
    now = datetime(2024, 5, 1, 9, 30, 15, tzinfo=UTC)
    for _ in range(50):
        frame = decode_frame(watch.location(now), watch.imei)
        [pos] = to_events(frame, received_at=now, gateway_id="g")
        assert pos.device_time == now
        assert pos.values["gps_fix"] is True
        lat, lon = num(pos.values["latitude"]), num(pos.values["longitude"])
        assert abs(lat - SHANGHAI[0]) < 0.02
        assert abs(lon - SHANGHAI[1]) < 0.02
        # ddmm.mmmm carries the watch's position to about 0.2 m.
        assert abs(lat - watch.lat) < 3e-6
        assert abs(lon - watch.lon) < 3e-6


def test_simulated_watch_refuses_a_bad_imei() -> None:
    with pytest.raises(ValueError):
        SimulatedIwWatch("12345")
