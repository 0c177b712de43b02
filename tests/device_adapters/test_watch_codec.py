"""Watch protocol codec: golden frames from PROTOCOLS.md 1a, built frames, replies, streams."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from device_adapters.kinds import KINDS
from device_adapters.model import DeviceEvent, DeviceFamily, Lane, Severity
from device_adapters.watch import (
    MAX_FRAME_BYTES,
    MIN_BUFFER_BYTES,
    PROTOCOL,
    Rejected,
    StatusFlags,
    WatchDecodeError,
    WatchFrame,
    WatchStream,
    decode_frame,
    encode_frame,
    reply_for,
    to_events,
)

# Real frames, verbatim from PROTOCOLS.md 1a.
LK_BARE = b"[SG*8800000015*0002*LK]"
LK_FULL = b"[3G*4700186508*000B*LK,0,10,100]"
AL_SOS = (
    b"[3G*8809008845*00C0*AL,271219,094744,V,00.000000,N, 0.0000000,E,0.00,0.0,0.0,0,100,81,"
    b"0,0,00010000,7,0,460,0,9336,3981,141,9336,3912,141,9336,3982,140,9765,4233,134,9765,"
    b"4071,134,9765,4321,134,9336,4353,132,0,0.0]"
)
UD_FIX = (
    b"[SG*8800000015*0087*UD,220414,134652,A,22.571707,N,113.8613968,E,0.1,0.0,100,7,60,90,"
    b"1000,50,0000,4,1,460,0,9360,4082,131,9360,4092,148,9360,4091,143,9360,4153,141]"
)
PULSE = b"[CS*8800000015*0008*PULSE,72]"
BPHRT = b"[3G*4700609403*0013*bphrt,120,79,73,,,,]"
REAL_FRAMES = [LK_BARE, LK_FULL, AL_SOS, UD_FIX, PULSE, BPHRT]

# Real frames from Traccar's public WatchProtocolDecoderTest (captured from devices).
UD2_REAL = (
    b"[3G*9031853319*004E*UD2,220322,055105,A,22.761162,N,114.360192,E,0,0,47,14,100,64,0,0,"
    b"00000008,0,0]"
)
UD_LTE_REAL = (
    b"[3G*2104326058*00E9*UD_LTE,300621,135101,A,32.162652,N,34.888748,E,30.84,265.158,65.621,"
    b"18,100,83,0,0,00000000,1,1,425,01,10223,8012811,100,3,ES4104,22:74:1d:39:64:ff,-46,"
    b"metropoline-wifi,a8:3f:a1:e0:66:ba,-89,Egged.co.il,00:0c:42:51:cf:cd,-81,1.7055488]"
)
UD_WCDMA_REAL = (
    b"[3G*0304187088*0100*UD_WCDMA,100720,094202,V,0.0,N,0.0,E,22.0,0,-1,21,75,92,0,0,00000000,"
    b"1,1,425,01,10192,1282125,75,5,Inet,04:f0:21:46:1f:57,-54,iNetSecurity,00:1e:42:25:2f:3e,"
    b"-71,Gilad,58:d5:6e:9d:1b:af,-80,weekend,14:ae:db:cb:99:25,-82,advancemed1,"
    b"04:f0:21:4c:c8:3e,-89,0.0]"
)
WT_REAL = (
    b"[3G*6005412902*011F*WT,170517,133811,V,18.512200,N,73.7750283,E,0.00,0.0,0.0,0,92,82,4262,"
    b"0,00000010,2,1,404,22,10125,8301,141,10125,13921,122,5,Skynet,28:c6:8e:be:87:c0,-60,"
    b"Intel Wi-Fi,4c:60:de:32:3d:38,-70,Nirvanic-2,40:e3:d6:4a:d9:c2,-73,A4-Guest,"
    b"40:e3:d6:4a:d9:c4,-73,A4Idatix,40:e3:d6:4a:d9:c3,-73,13.8]"
)
AL_FALL_REAL = (
    b"[3G*8308373902*0080*AL,230817,095346,A,47.083950,N,15.4821850,E,7.60,273.8,0.0,4,15,44,0,"
    b"0,00200010,2,255,232,1,7605,42530,118,7605,58036,119,0,65.8]"
)
AL_REMOVED_REAL = (
    b"[ZJ*014111001332708*0075*0064*AL,040418,052156,A,22.536207,N,113.938673,E,0,0,0,5,100,82,"
    b"1000,50,00100000,1,255,460,0,9340,3663,35]"
)
BTEMP2_REAL = b"[3G*2104326058*000E*btemp2,1,35.29]"
BLOOD_REAL = b"[ZJ*357653059860416*0007*000c*BLOOD,109,68]"
HEART_ZERO_REAL = b"[3G*6005412902*0007*heart,0]"
TRACCAR_FRAMES = [
    UD2_REAL,
    UD_LTE_REAL,
    UD_WCDMA_REAL,
    WT_REAL,
    AL_FALL_REAL,
    AL_REMOVED_REAL,
    BTEMP2_REAL,
    BLOOD_REAL,
    HEART_ZERO_REAL,
]
ALL_REAL_FRAMES = [*REAL_FRAMES, *TRACCAR_FRAMES]

# Built: the header of a real voice fragment in Traccar's test suite (one of six parts of
# watch_7_20220526093954), with a short AMR body escaped as the real one is: 0x7D then
# 0x01..0x05 for 0x7D [ ] , * so no raw frame character appears in the audio.
JXTK_AUDIO = b"#!AMR\n\x0c\n<?\x96\x7d\x03\x7d\x02\x7d\x04\x7d\x05\x7d\x01\x00\xff"
JXTK_BUILT = encode_frame(
    "ZJ",
    "789468050042692",
    b"JXTK,0,watch_7_20220526093954,1,6," + JXTK_AUDIO,
    index="0034",
)

RECEIVED = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)
GATEWAY = "gw-test"
DEVICE = "1234567890"


def ids() -> Callable[[], uuid.UUID]:
    """Deterministic event ids, so tests can check each event got its own."""
    counter: Iterator[int] = itertools.count(1)
    return lambda: uuid.UUID(int=next(counter))


def events(raw: bytes) -> list[DeviceEvent]:
    return to_events(decode_frame(raw), received_at=RECEIVED, gateway_id=GATEWAY, new_id=ids())


def position_content(
    status: str = "00000000",
    *,
    word: str = "UD",
    date: str = "010524",
    fix: str = "A",
    lat: str = "31.230416",
    ns: str = "N",
    lon: str = "121.473701",
    ew: str = "E",
    tail: str = ",1,0,460,0,9360,4082,131",
) -> str:
    place = f"{fix},{lat},{ns},{lon},{ew}"
    return f"{word},{date},120000,{place},3.5,90.0,12.5,8,75,64,2500,3,{status}{tail}"


def position(status: str = "00000000", **kw: str) -> bytes:
    return encode_frame("3G", DEVICE, position_content(status, **kw))


# --- golden frames -------------------------------------------------------------------------


def test_lk_bare_golden() -> None:
    frame = decode_frame(LK_BARE)
    assert frame == WatchFrame("SG", "8800000015", None, b"LK", "LK", (), LK_BARE)
    [event] = events(LK_BARE)
    assert event.kind == "wristband.heartbeat"
    assert event.values == {}
    assert event.device_time is None
    assert reply_for(frame) == b"[SG*8800000015*0002*LK]"


def test_lk_with_steps_tumbles_battery_golden() -> None:
    frame = decode_frame(LK_FULL)
    assert (frame.manufacturer, frame.device_id, frame.index) == ("3G", "4700186508", None)
    assert frame.fields == ("0", "10", "100")
    [event] = events(LK_FULL)
    assert event.kind == "wristband.heartbeat"
    assert event.values == {"steps": 0, "tumbles": 10, "battery_pct": 100}
    assert reply_for(frame) == b"[3G*4700186508*0002*LK]"


def test_ud_fix_golden() -> None:
    frame = decode_frame(UD_FIX)
    assert frame.content_type == "UD"
    assert frame.fields[:4] == ("220414", "134652", "A", "22.571707")
    [event] = events(UD_FIX)
    assert event.event_id == uuid.UUID(int=1)
    assert event.device_id == "watch:8800000015"
    assert event.family is DeviceFamily.WRISTBAND
    assert event.protocol == PROTOCOL == "watch"
    assert event.kind == "wristband.position"
    assert (event.severity, event.lane) == (Severity.INFORMATIONAL, Lane.TELEMETRY)
    assert event.device_time == datetime(2014, 4, 22, 13, 46, 52, tzinfo=UTC)
    assert event.received_at == RECEIVED
    assert event.gateway_id == GATEWAY
    assert event.raw == UD_FIX
    assert event.values == {
        "latitude": 22.571707,
        "longitude": 113.8613968,
        "gps_fix": True,
        "position_source": "gps",
        "speed_kmh": 0.1,
        "course_deg": 0.0,
        "altitude_m": 100.0,
        "satellites": 7,
        "gsm_signal": 60,
        "battery_pct": 90,
        "steps": 1000,
        "tumbles": 50,
        "status_hex": "0000",
        "worn": True,
        "in_motion": False,
        "cell_count": 4,
        "mcc": 460,
        "mnc": 0,
    }
    assert reply_for(frame) is None


def test_ud_fix_len_disagrees_with_content_and_is_tolerated() -> None:
    # The real frame says LEN 0x87 but carries 143 content bytes: the device wins.
    frame = decode_frame(UD_FIX)
    assert int(UD_FIX[15:19], 16) == 0x87
    assert len(frame.content) == 143
    assert frame.fields[-1] == "141"


def test_al_sos_golden() -> None:
    frame = decode_frame(AL_SOS)
    assert frame.content_type == "AL"
    assert frame.fields[5] == " 0.0000000"  # the real frame's stray space survives framing
    pos, sos = events(AL_SOS)
    assert pos.kind == "wristband.position"
    assert pos.values["gps_fix"] is False
    # No fix: 0,0 is not a place (docs/positions.md), so the frame gives no position.
    assert not {"latitude", "longitude", "position_source"} & pos.values.keys()
    assert pos.values["battery_pct"] == 81
    assert pos.values["gsm_signal"] == 100
    assert pos.values["status_hex"] == "00010000"
    assert pos.values["cell_count"] == 7
    assert pos.values["wifi_count"] == 0
    assert pos.values["accuracy_m"] == 0.0
    assert sos.kind == "wristband.sos"
    assert (sos.severity, sos.lane) == (Severity.CRITICAL, Lane.ALARM)
    assert sos.device_time == pos.device_time == datetime(2019, 12, 27, 9, 47, 44, tzinfo=UTC)
    assert sos.values == {
        "gps_fix": False,
        "battery_pct": 81,
        "status_hex": "00010000",
        "accuracy_m": 0.0,
    }
    assert pos.event_id != sos.event_id
    assert reply_for(frame) == b"[3G*8809008845*0002*AL]"


def test_pulse_golden() -> None:
    [event] = events(PULSE)
    assert event.kind == "wristband.heart_rate"
    assert event.device_id == "watch:8800000015"
    assert event.values == {"heart_rate_bpm": 72}
    assert reply_for(decode_frame(PULSE)) is None


def test_bphrt_golden() -> None:
    frame = decode_frame(BPHRT)
    assert frame.fields == ("120", "79", "73", "", "", "", "")
    [event] = events(BPHRT)
    assert event.kind == "wristband.blood_pressure"
    assert event.values == {"systolic_mmhg": 120, "diastolic_mmhg": 79, "heart_rate_bpm": 73}


@pytest.mark.parametrize("raw", ALL_REAL_FRAMES)
def test_real_frames_events_are_json_round_trippable(raw: bytes) -> None:
    for event in events(raw):
        assert DeviceEvent.model_validate_json(event.model_dump_json()) == event
        assert (event.severity, event.lane) == (
            KINDS[event.kind].severity,
            KINDS[event.kind].lane,
        )


# --- built frames: status bits -------------------------------------------------------------

SINGLE_BIT_KINDS = [
    (0, "device.low_battery"),
    (1, "wristband.geofence_exit"),
    (2, "wristband.geofence_enter"),
    (14, "device.power_cut"),
    (16, "wristband.sos"),
    (17, "device.low_battery"),
    (18, "wristband.geofence_exit"),
    (19, "wristband.geofence_enter"),
    (20, "wristband.removed"),
    (21, "wristband.fall"),
    (22, "wristband.fall"),
]


@pytest.mark.parametrize(("bit", "kind"), SINGLE_BIT_KINDS)
def test_each_alarm_bit_gives_its_event(bit: int, kind: str) -> None:
    status = f"{1 << bit:08X}"
    pos, alarm = events(position(status))
    assert pos.kind == "wristband.position"
    assert alarm.kind == kind
    assert (alarm.severity, alarm.lane) == (KINDS[kind].severity, KINDS[kind].lane)
    assert alarm.device_time == pos.device_time == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert alarm.values["status_hex"] == status
    assert alarm.values["latitude"] == 31.230416
    assert alarm.values["longitude"] == 121.473701
    assert alarm.values["battery_pct"] == 64


def test_fall_bits_21_and_22_together_give_one_fall() -> None:
    kinds = [e.kind for e in events(position("00600000"))]
    assert kinds == ["wristband.position", "wristband.fall"]


def test_taken_off_bit_marks_not_worn() -> None:
    pos, removed = events(position("00100000"))
    assert pos.values["worn"] is False
    assert removed.kind == "wristband.removed"
    assert removed.severity is Severity.HIGH
    assert events(position("00000000"))[0].values["worn"] is True


def test_both_low_battery_bits_give_one_event() -> None:
    kinds = [e.kind for e in events(position("00020001"))]
    assert kinds == ["wristband.position", "device.low_battery"]


def test_combined_bits_give_one_event_each_with_own_id() -> None:
    status = StatusFlags.SOS | StatusFlags.FALL | StatusFlags.TAKEN_OFF | StatusFlags.LOW_BATTERY
    result = events(position(f"{int(status):08x}"))
    assert [e.kind for e in result] == [
        "wristband.position",
        "wristband.sos",
        "wristband.fall",
        "wristband.removed",
        "device.low_battery",
    ]
    assert [e.event_id for e in result] == [uuid.UUID(int=i) for i in range(1, 6)]
    assert all(e.raw == result[0].raw for e in result)


def test_every_alarm_bit_at_once() -> None:
    result = events(position("007F4017"))
    assert [e.kind for e in result] == [
        "wristband.position",
        "wristband.sos",
        "wristband.fall",
        "wristband.removed",
        "device.low_battery",
        "wristband.geofence_exit",
        "wristband.geofence_enter",
        "device.power_cut",
    ]
    assert result[0].values["in_motion"] is True


def test_in_motion_and_unknown_bits_are_not_alarms() -> None:
    result = events(position("80000010"))
    assert [e.kind for e in result] == ["wristband.position"]
    assert result[0].values["in_motion"] is True
    assert result[0].values["status_hex"] == "80000010"


def test_status_flags_values_match_the_table() -> None:
    table = {
        StatusFlags.LOW_BATTERY: 0x1,
        StatusFlags.LEFT_GEOFENCE: 0x2,
        StatusFlags.ENTERED_GEOFENCE: 0x4,
        StatusFlags.IN_MOTION: 0x10,
        StatusFlags.POWER_CUT: 0x4000,
        StatusFlags.SOS: 0x10000,
        StatusFlags.LOW_BATTERY_2: 0x20000,
        StatusFlags.LEFT_GEOFENCE_2: 0x40000,
        StatusFlags.ENTERED_GEOFENCE_2: 0x80000,
        StatusFlags.TAKEN_OFF: 0x100000,
        StatusFlags.FALL: 0x200000,
        StatusFlags.FALL_2: 0x400000,
    }
    assert {int(flag): mask for flag, mask in table.items()} == {m: m for m in table.values()}
    assert len(StatusFlags) == len(table)


# --- built frames: position fields ---------------------------------------------------------


def test_south_west_hemispheres_are_negative() -> None:
    [pos] = events(position(ns="S", ew="W", lat="33.8688", lon="70.6693"))
    assert (pos.values["latitude"], pos.values["longitude"]) == (-33.8688, -70.6693)


@pytest.mark.parametrize("word", ["UD", "UD2", "UD_LTE", "UD_WCDMA", "WT", "AL", "AL_LTE"])
def test_all_position_words_share_the_layout(word: str) -> None:
    result = events(position("00010000", word=word))
    assert [e.kind for e in result] == ["wristband.position", "wristband.sos"]
    expected_reply = b"[3G*1234567890*0002*AL]" if word.startswith("AL") else None
    assert reply_for(decode_frame(position(word=word))) == expected_reply


def test_fields_up_to_status_are_enough() -> None:
    [pos] = events(position(tail=""))
    assert pos.values["battery_pct"] == 64
    assert "cell_count" not in pos.values
    assert "mcc" not in pos.values


def test_wifi_data_is_summarized() -> None:
    tail = ",1,0,460,0,9360,4082,131,2,home,aa:bb:cc:dd:ee:ff,-50,cafe,11:22:33:44:55:66,-70,35.0"
    [pos] = events(position(tail=tail))
    assert (pos.values["cell_count"], pos.values["wifi_count"]) == (1, 2)
    assert pos.values["accuracy_m"] == 35.0


def test_garbled_network_tail_does_not_lose_the_sos() -> None:
    result = events(position("00010000", tail=",x,y,z"))
    assert [e.kind for e in result] == ["wristband.position", "wristband.sos"]
    assert "cell_count" not in result[0].values


def test_unset_device_clock_still_delivers_the_alarm() -> None:
    pos, sos = events(position("00010000", date="000000"))
    assert pos.device_time is None and sos.device_time is None
    assert sos.kind == "wristband.sos"


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"lat": "abc"}, "latitude is not a number"),
        ({"lat": "nan"}, "latitude is not a number"),
        ({"lat": "91.0"}, "latitude out of range"),
        ({"lon": ""}, "longitude is not a number"),
        ({"ns": "X"}, "hemisphere"),
        ({"date": "2204"}, "ddmmyy"),
        ({"date": "320114"}, "invalid date"),
        ({"word": "UD", "status": "zz"}, "status is not hex"),
    ],
)
def test_malformed_position_fields_raise_decode_error(kw: dict[str, str], reason: str) -> None:
    status = kw.pop("status", "00000000")
    raw = position(status, **kw)
    with pytest.raises(WatchDecodeError, match=reason) as info:
        events(raw)
    assert info.value.raw == raw


def test_position_with_too_few_fields_raises() -> None:
    raw = encode_frame("3G", DEVICE, "UD,010524,120000,A,31.2,N,121.4,E")
    with pytest.raises(WatchDecodeError, match="at least 16 fields"):
        events(raw)


def test_malformed_lk_and_health_fields_raise() -> None:
    for content in ["LK,x,1,2", "PULSE,", "PULSE", "heart,7.5", "bphrt,120", "bphrt,a,80,70"]:
        with pytest.raises(WatchDecodeError):
            events(encode_frame("3G", DEVICE, content))


def test_heart_word_and_blood_pressure_without_heart_rate() -> None:
    assert events(encode_frame("3G", DEVICE, "heart,64"))[0].values == {"heart_rate_bpm": 64}
    [bp] = events(encode_frame("3G", DEVICE, "bphrt,130,85,,,,,"))
    assert bp.values == {"systolic_mmhg": 130, "diastolic_mmhg": 85}


@pytest.mark.parametrize("word", ["XYZ", "TK", "img", ""])
def test_unsupported_content_types_raise_but_may_still_reply(word: str) -> None:
    raw = encode_frame("3G", DEVICE, f"{word},1,2")
    with pytest.raises(WatchDecodeError, match=f"unsupported content type '{word}'") as info:
        events(raw)
    assert info.value.raw == raw
    assert reply_for(decode_frame(raw)) is None


# --- real frames from Traccar's test suite -------------------------------------------------


def test_ud2_real_golden() -> None:
    [pos] = events(UD2_REAL)
    assert pos.device_id == "watch:9031853319"
    assert pos.device_time == datetime(2022, 3, 22, 5, 51, 5, tzinfo=UTC)
    assert pos.values == {
        "latitude": 22.761162,
        "longitude": 114.360192,
        "gps_fix": True,
        "position_source": "gps",
        "speed_kmh": 0.0,
        "course_deg": 0.0,
        "altitude_m": 47.0,
        "satellites": 14,
        "gsm_signal": 100,
        "battery_pct": 64,
        "steps": 0,
        "tumbles": 0,
        "status_hex": "00000008",  # bit 3 is not in the table: no alarm
        "worn": True,
        "in_motion": False,
        "cell_count": 0,
    }
    assert reply_for(decode_frame(UD2_REAL)) is None


def test_ud_lte_real_golden() -> None:
    [pos] = events(UD_LTE_REAL)
    assert pos.kind == "wristband.position"
    assert pos.device_time == datetime(2021, 6, 30, 13, 51, 1, tzinfo=UTC)
    assert pos.values == {
        "latitude": 32.162652,
        "longitude": 34.888748,
        "gps_fix": True,
        "position_source": "gps",
        "speed_kmh": 30.84,
        "course_deg": 265.158,
        "altitude_m": 65.621,
        "satellites": 18,
        "gsm_signal": 100,
        "battery_pct": 83,
        "steps": 0,
        "tumbles": 0,
        "status_hex": "00000000",
        "worn": True,
        "in_motion": False,
        "cell_count": 1,
        "mcc": 425,
        "mnc": 1,
        "wifi_count": 3,
        "accuracy_m": 1.7055488,
    }
    assert reply_for(decode_frame(UD_LTE_REAL)) is None


def test_ud_wcdma_real_golden_without_fix() -> None:
    [pos] = events(UD_WCDMA_REAL)
    assert pos.device_id == "watch:0304187088"
    assert pos.device_time == datetime(2020, 7, 10, 9, 42, 2, tzinfo=UTC)
    assert pos.values["gps_fix"] is False
    assert not {"latitude", "longitude", "position_source"} & pos.values.keys()
    assert pos.values["altitude_m"] == -1.0
    assert (pos.values["gsm_signal"], pos.values["battery_pct"]) == (75, 92)
    assert (pos.values["mcc"], pos.values["mnc"]) == (425, 1)
    assert (pos.values["cell_count"], pos.values["wifi_count"]) == (1, 5)
    assert pos.values["accuracy_m"] == 0.0
    assert pos.values["worn"] is True


def test_no_fix_without_coordinates_is_no_position_whatever_the_fix_letter() -> None:
    for fix in ("A", "V"):
        pos, sos = events(position("00010000", fix=fix, lat="0.000000", lon="0.0000000"))
        assert not {"latitude", "longitude", "position_source"} & pos.values.keys()
        assert not {"latitude", "longitude", "position_source"} & sos.values.keys()
        assert sos.kind == "wristband.sos"


def test_a_v_frame_with_coordinates_and_cells_only_is_a_cell_position() -> None:
    pos, sos = events(position("00010000", fix="V"))
    assert (pos.values["latitude"], pos.values["gps_fix"]) == (31.230416, False)
    assert pos.values["position_source"] == sos.values["position_source"] == "lbs"


def test_wt_real_golden() -> None:
    frame = decode_frame(WT_REAL)
    assert frame.content_type == "WT"
    assert "Intel Wi-Fi" in frame.fields  # an SSID with a space and a dash survives framing
    [pos] = events(WT_REAL)
    assert pos.kind == "wristband.position"
    assert pos.device_time == datetime(2017, 5, 17, 13, 38, 11, tzinfo=UTC)
    assert (pos.values["latitude"], pos.values["longitude"]) == (18.5122, 73.7750283)
    assert pos.values["gps_fix"] is False
    # Not a GPS fix, but a place the watch gave with 5 access points listed.
    assert pos.values["position_source"] == "wifi"
    assert pos.values["steps"] == 4262
    assert pos.values["battery_pct"] == 82
    assert pos.values["status_hex"] == "00000010"
    assert pos.values["in_motion"] is True
    assert pos.values["worn"] is True
    assert (pos.values["cell_count"], pos.values["wifi_count"]) == (2, 5)
    assert pos.values["accuracy_m"] == 13.8
    assert reply_for(frame) is None


def test_al_fall_real_golden() -> None:
    pos, fall = events(AL_FALL_REAL)
    assert pos.values["worn"] is True
    assert pos.values["in_motion"] is True
    assert fall.kind == "wristband.fall"
    assert (fall.severity, fall.lane) == (Severity.CRITICAL, Lane.ALARM)
    assert fall.device_time == datetime(2017, 8, 23, 9, 53, 46, tzinfo=UTC)
    assert fall.values == {
        "latitude": 47.08395,
        "longitude": 15.482185,
        "gps_fix": True,
        "position_source": "gps",
        "battery_pct": 44,
        "status_hex": "00200010",
        "accuracy_m": 65.8,
    }
    assert reply_for(decode_frame(AL_FALL_REAL)) == b"[3G*8308373902*0002*AL]"


def test_al_taken_off_real_golden_marks_not_worn() -> None:
    frame = decode_frame(AL_REMOVED_REAL)
    assert (frame.index, len(frame.content)) == ("0075", 0x64)
    pos, removed = events(AL_REMOVED_REAL)
    assert pos.values["worn"] is False
    assert removed.kind == "wristband.removed"
    assert removed.device_id == "watch:014111001332708"
    assert removed.values["battery_pct"] == 82
    assert reply_for(frame) == b"[ZJ*014111001332708*0075*0002*AL]"


def test_btemp2_real_golden() -> None:
    [event] = events(BTEMP2_REAL)
    assert event.kind == "wristband.temperature"
    assert (event.severity, event.lane) == (Severity.INFORMATIONAL, Lane.TELEMETRY)
    assert event.values == {"body_temp_c": 35.29}
    assert event.device_time is None
    assert reply_for(decode_frame(BTEMP2_REAL)) is None


def test_blood_real_golden_zj_without_heart_rate() -> None:
    frame = decode_frame(BLOOD_REAL)
    assert (frame.index, frame.content) == ("0007", b"BLOOD,109,68")
    [event] = events(BLOOD_REAL)
    assert event.kind == "wristband.blood_pressure"
    assert event.values == {"systolic_mmhg": 109, "diastolic_mmhg": 68}


def test_heart_zero_real_is_reported_as_sent() -> None:
    # A 0 reading (nothing measured) is passed on as is; rules decide what it means.
    [event] = events(HEART_ZERO_REAL)
    assert event.values == {"heart_rate_bpm": 0}


# --- built frames: temperature, SpO2, voice --------------------------------------------------


@pytest.mark.parametrize(
    ("content", "celsius"),
    [
        ("TEMP,36.5", 36.5),
        ("temp,37.2", 37.2),
        ("btemp2,1,36.6", 36.6),
        ("btemp2,36.6", 36.6),  # a lone field is the reading
        ("btemp2,1,36.6,,", 36.6),  # trailing empty fields
        ("btemp2,2,0,36.6", 36.6),  # whatever comes between, the last number is the reading
        ("BTEMP2,1,38", 38.0),
    ],
)
def test_temperature_words(content: str, celsius: float) -> None:
    [event] = events(encode_frame("3G", DEVICE, content))
    assert event.kind == "wristband.temperature"
    assert event.values == {"body_temp_c": celsius}
    assert reply_for(decode_frame(encode_frame("3G", DEVICE, content))) is None


def test_btemp2_flag_zero_means_no_reading_and_no_event() -> None:
    assert events(encode_frame("3G", DEVICE, "btemp2,0,36.5")) == []


@pytest.mark.parametrize(
    ("content", "values"),
    [
        ("oxygen,98", {"spo2_pct": 98}),
        ("oxygen,72,98", {"spo2_pct": 98, "heart_rate_bpm": 72}),
        ("OXYGEN,72,97,", {"spo2_pct": 97, "heart_rate_bpm": 72}),
        ("oxygen,1,96", {"spo2_pct": 96}),  # a leading flag is not a 1 bpm heart rate
        ("oxygen,,95", {"spo2_pct": 95}),
        ("oxygen,99,", {"spo2_pct": 99}),
    ],
)
def test_oxygen(content: str, values: dict[str, int]) -> None:
    [event] = events(encode_frame("3G", DEVICE, content))
    assert event.kind == "wristband.spo2"
    assert (event.severity, event.lane) == (Severity.INFORMATIONAL, Lane.TELEMETRY)
    assert event.values == values


@pytest.mark.parametrize(
    "content",
    [
        "TEMP",
        "TEMP,",
        "TEMP,hot",
        "TEMP,nan",
        "btemp2",
        "btemp2,1",
        "btemp2,1,x",
        "btemp2,1,98.6",  # Fahrenheit is not taken for Celsius
        "TEMP,0",
        "oxygen",
        "oxygen,",
        "oxygen,101",
        "oxygen,9.5",
        "oxygen,abc,98",
    ],
)
def test_malformed_temperature_and_oxygen_raise(content: str) -> None:
    raw = encode_frame("3G", DEVICE, content)
    with pytest.raises(WatchDecodeError) as info:
        events(raw)
    assert info.value.raw == raw


def test_jxtk_voice_fragment_gives_no_event_and_is_acknowledged() -> None:
    frame = decode_frame(JXTK_BUILT)
    assert frame.content_type == "JXTK"
    assert frame.content.endswith(JXTK_AUDIO)
    assert events(JXTK_BUILT) == []
    assert reply_for(frame) == b"[ZJ*789468050042692*0034*0007*JXTKR,1]"


def test_jxtk_fragments_in_one_read_are_each_acknowledged() -> None:
    parts = [
        encode_frame(
            "ZJ",
            "789468050042692",
            f"JXTK,0,watch_7_20220526093954,{n},3,".encode() + JXTK_AUDIO * n,
            index=f"{0x33 + n:04X}",
        )
        for n in (1, 2, 3)
    ]
    out = WatchStream().feed(b"".join(parts))
    assert out == [decode_frame(p) for p in parts]
    replies = [reply_for(f) for f in out if isinstance(f, WatchFrame)]
    assert replies == [
        f"[ZJ*789468050042692*{0x33 + n:04X}*0007*JXTKR,1]".encode() for n in (1, 2, 3)
    ]


# --- replies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reply"),
    [
        ("LK,1,2,3", "LK"),
        ("AL," + position_content("00010000")[3:], "AL"),
        ("INIT,13800138000,1,1", "INIT,1"),
        ("TKQ", "TKQ"),
        ("TKQ2", "TKQ2"),
        ("UD," + position_content()[3:], None),
        ("WT," + position_content()[3:], None),
        ("PULSE,70", None),
    ],
)
def test_replies(content: str, reply: str | None) -> None:
    frame = decode_frame(encode_frame("CS", DEVICE, content))
    expected = None if reply is None else encode_frame("CS", DEVICE, reply)
    assert reply_for(frame) == expected


def test_init_and_tkq_give_no_events_only_replies() -> None:
    for content, reply in [
        ("INIT,1", b"INIT,1"),
        ("TKQ", b"TKQ"),
        ("TKQ2", b"TKQ2"),
        ("JXTK,0,watch_7_20220526093954,6,6,#!AMR", b"JXTKR,1"),
    ]:
        frame = decode_frame(encode_frame("SG", DEVICE, content))
        assert to_events(frame, received_at=RECEIVED, gateway_id=GATEWAY) == []
        answer = reply_for(frame)
        assert answer is not None
        assert decode_frame(answer).content == reply


def test_zj_frame_with_index_and_reply_keeps_index() -> None:
    raw = b"[ZJ*014111001350304*0038*000B*LK,0,10,100]"
    frame = decode_frame(raw)
    assert (frame.manufacturer, frame.device_id, frame.index) == ("ZJ", "014111001350304", "0038")
    assert frame.content == b"LK,0,10,100"
    assert events(raw)[0].device_id == "watch:014111001350304"
    assert reply_for(frame) == b"[ZJ*014111001350304*0038*0002*LK]"
    assert encode_frame("ZJ", "014111001350304", "LK,0,10,100", index="0038") == raw


def test_zj_alarm_reply_keeps_index() -> None:
    raw = encode_frame("ZJ", "014111001350304", position_content("00200000", word="AL"), "a1F0")
    frame = decode_frame(raw)
    assert frame.index == "a1F0"
    assert reply_for(frame) == b"[ZJ*014111001350304*a1F0*0002*AL]"
    assert [e.kind for e in events(raw)] == ["wristband.position", "wristband.fall"]


# --- framing -------------------------------------------------------------------------------


def test_encode_frame_len_is_uppercase_hex_of_byte_length() -> None:
    raw = encode_frame("SG", DEVICE, "x" * 171)
    assert raw.startswith(b"[SG*1234567890*00AB*x")
    assert encode_frame("SG", DEVICE, "é") == b"[SG*1234567890*0002*\xc3\xa9]"  # bytes, not chars


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("S", DEVICE, "LK"), {}),
        (("S*", DEVICE, "LK"), {}),
        (("SG", "123456789", "LK"), {}),
        (("SG", "1234567890123456", "LK"), {}),
        (("SG", "12345678ab", "LK"), {}),
        (("SG", DEVICE, "LK"), {"index": "00G1"}),
        (("SG", DEVICE, b"x" * 0x10000), {}),
        (("SG", DEVICE, "0001*LK"), {}),  # would be read back as INDEX 0001
    ],
)
def test_encode_frame_refuses_unreadable_frames(
    args: tuple[str, str, str | bytes], kwargs: dict[str, str]
) -> None:
    with pytest.raises(ValueError):
        encode_frame(*args, **kwargs)


def test_content_is_binary_safe_when_len_is_right() -> None:
    content = b"TK,\x00]\xff[*,]"
    raw = encode_frame("3G", DEVICE, content)
    frame = decode_frame(raw)
    assert frame.content == content
    assert frame.content_type == "TK"
    assert WatchStream().feed(raw) == [frame]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"SG*8800000015*0002*LK]", "start with '\\['"),
        (b"[S*8800000015*0002*LK]", "manufacturer"),
        (b"[SG8800000015*0002*LK]", "after manufacturer"),
        (b"[SG*880000001*0002*LK]", "shorter than 10"),
        (b"[SG*8800000015123456*0002*LK]", "longer than 15"),
        (b"[SG*88000x0015*0002*LK]", "digits"),
        (b"[SG*8800000015*00G2*LK]", "LEN must be 4 hex"),
        (b"[SG*8800000015*002*LK]", "LEN must be 4 hex"),
        (b"[SG*8800000015*0002", "truncated"),
        (b"[SG*8800000015*0002*LK", "missing"),
        (b"[SG*8800000015*0002*LK]x", "trailing"),
        (b"[SG*8800000015*0002*LK][SG*8800000015*0002*LK]", "trailing"),
        (b"[SG*8800000015*0004*LK[x", "missing"),
    ],
)
def test_decode_frame_rejects(raw: bytes, reason: str) -> None:
    with pytest.raises(WatchDecodeError, match=reason) as info:
        decode_frame(raw)
    assert info.value.raw == raw


def test_overstated_len_is_tolerated_in_a_complete_frame() -> None:
    frame = decode_frame(b"[SG*8800000015*0010*LK,1,2,3]")
    assert frame.content == b"LK,1,2,3"


# --- stream --------------------------------------------------------------------------------


def test_several_frames_in_one_feed() -> None:
    stream = WatchStream()
    out = stream.feed(b"".join(REAL_FRAMES))
    assert out == [decode_frame(raw) for raw in REAL_FRAMES]
    assert stream.buffered == 0


@pytest.mark.parametrize(
    "raw", [*ALL_REAL_FRAMES, JXTK_BUILT, b"[ZJ*014111001350304*0038*000B*LK,0,10,100]"]
)
def test_frame_split_at_every_byte_position(raw: bytes) -> None:
    expected = decode_frame(raw)
    for cut in range(len(raw) + 1):
        stream = WatchStream()
        out = stream.feed(raw[:cut]) + stream.feed(raw[cut:])
        assert out == [expected], cut
        assert stream.buffered == 0


def test_byte_by_byte_feed_of_all_real_frames() -> None:
    data = b"".join(REAL_FRAMES)
    stream = WatchStream()
    out = [item for i in range(len(data)) for item in stream.feed(data[i : i + 1])]
    assert out == [decode_frame(raw) for raw in REAL_FRAMES]


def test_garbage_between_frames_is_rejected_and_next_frame_decoded() -> None:
    stream = WatchStream()
    out = stream.feed(LK_BARE + b"\r\nnoise*]" + PULSE + b"\x00\xff")
    assert out == [
        decode_frame(LK_BARE),
        Rejected(b"\r\nnoise*]", "bytes outside a frame"),
        decode_frame(PULSE),
        Rejected(b"\x00\xff", "bytes outside a frame"),
    ]
    assert stream.buffered == 0


def test_garbage_split_over_reads_in_one_feed_is_one_rejection() -> None:
    stream = WatchStream(max_buffer=MIN_BUFFER_BYTES)
    out = stream.feed(b"z" * 100 + LK_BARE)
    assert out == [Rejected(b"z" * 100, "bytes outside a frame"), decode_frame(LK_BARE)]


def test_malformed_header_is_rejected_and_stream_resyncs() -> None:
    stream = WatchStream()
    out = stream.feed(b"[SG*12*0002*LK]" + AL_SOS)
    assert isinstance(out[0], Rejected)
    assert out[0].raw == b"[SG*12*0002*LK]"
    assert "shorter than 10" in out[0].reason
    assert out[1] == decode_frame(AL_SOS)


def test_truncated_frame_followed_by_frame_resyncs_on_next_bracket() -> None:
    stream = WatchStream()
    out = stream.feed(b"[SG*8800000015*0010*LK,1" + PULSE)
    assert out == [
        Rejected(b"[SG*8800000015*0010*LK,1", "missing ']' after content"),
        decode_frame(PULSE),
    ]


def test_overstated_len_waits_then_resolves_on_next_frame() -> None:
    stream = WatchStream()
    short = b"[SG*8800000015*0030*LK,1,2,3]"
    assert stream.feed(short) == []  # LEN says more bytes are coming
    out = stream.feed(AL_SOS)
    assert out == [decode_frame(short), decode_frame(AL_SOS)]
    assert decode_frame(short).content == b"LK,1,2,3"


def test_flush_returns_overstated_frame_and_rejects_partial() -> None:
    stream = WatchStream()
    assert stream.feed(b"[SG*8800000015*0030*LK]") == []
    assert stream.flush() == [decode_frame(b"[SG*8800000015*0030*LK]")]
    assert stream.feed(b"[SG*88000") == []
    assert stream.flush() == [Rejected(b"[SG*88000", "incomplete frame at end of stream")]
    assert stream.buffered == 0
    assert stream.flush() == []


def test_oversized_length_is_rejected_and_buffer_stays_bounded() -> None:
    stream = WatchStream(max_buffer=256)
    header = b"[3G*1234567890*0FFF*"
    out = stream.feed(header + b"UD," + b"1" * 100)
    assert out == [Rejected(header + b"UD," + b"1" * 100, "frame too large")]
    assert stream.buffered == 0
    out = stream.feed(b"2" * 1000 + LK_FULL)
    assert out == [Rejected(b"2" * 1000, "bytes outside a frame"), decode_frame(LK_FULL)]
    assert stream.buffered <= 256


def test_len_wrong_and_no_closing_bracket_is_bounded() -> None:
    stream = WatchStream(max_buffer=64)
    data = b"[3G*1234567890*0002*" + b"A" * 100
    out = stream.feed(data)
    assert all(isinstance(item, Rejected) for item in out)
    assert out[0] == Rejected(data[:64], "frame too large")
    assert b"".join(item.raw for item in out) == data
    assert stream.buffered == 0


def test_largest_frame_fits_default_buffer() -> None:
    raw = encode_frame("3G", "123456789012345", b"TK," + b"\x5d" * 0xFFFC, index="FFFF")
    assert len(raw) == MAX_FRAME_BYTES
    stream = WatchStream()
    assert stream.feed(raw[:-1]) == []
    assert stream.buffered == MAX_FRAME_BYTES - 1
    assert stream.feed(raw[-1:]) == [decode_frame(raw)]


def test_stream_rejects_too_small_buffer() -> None:
    with pytest.raises(ValueError):
        WatchStream(max_buffer=MIN_BUFFER_BYTES - 1)


def test_vendor_alarm_variants_are_alarms_and_get_the_al_reply() -> None:
    """ALCUSTOMER1 (seen in Traccar's suite) keeps the AL layout; a taken-off alarm in it."""
    from datetime import UTC, datetime

    from device_adapters.watch import decode_frame, encode_frame, reply_for, to_events

    content = (
        "ALCUSTOMER1,271219,094744,A,22.571707,N,113.8613968,E,0.00,0.0,0.0,6,100,81,0,0,"
        "00100000,1,0,460,0,9336,3981,141"
    )
    frame = decode_frame(encode_frame("3G", "8809008845", content))
    kinds = [e.kind for e in to_events(frame, received_at=datetime.now(UTC), gateway_id="gw")]
    assert kinds == ["wristband.position", "wristband.removed"]
    assert reply_for(frame) == b"[3G*8809008845*0002*AL]"
