"""Where the wearer of an SOS is, for the person sent to help: GET /api/v1/tickets/{id}/position.

The watch frames are real (PROTOCOLS.md 1a): a GPS fix in Shenzhen, then an SOS without a
fix (V, 0,0). They are re-addressed to Sun Lihua's registered wristband and timed minutes
ago, so the SOS opens her ticket as one from the wire would.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from device_adapters.model import DeviceEvent
from device_adapters.watch import decode_frame, to_events
from hub.geo.coords import LatLng, wgs84_to_bd09, wgs84_to_gcj02
from hub.ingest.flows import store_batch
from hub.schema.tickets import tickets
from hub.storage.db import Database
from tests.api.conftest import SUN
from tests.api.people import Actor, Users
from tests.support.hubdata import volunteer_on_duty_for

UD_FIX = (
    b"[SG*8800000015*0087*UD,220414,134652,A,22.571707,N,113.8613968,E,0.1,0.0,100,7,60,90,"
    b"1000,50,0000,4,1,460,0,9360,4082,131,9360,4092,148,9360,4091,143,9360,4153,141]"
)
AL_SOS_NO_FIX = (
    b"[3G*8809008845*00C0*AL,271219,094744,V,00.000000,N, 0.0000000,E,0.00,0.0,0.0,0,100,81,"
    b"0,0,00010000,7,0,460,0,9336,3981,141,9336,3912,141,9336,3982,140,9765,4233,134,9765,"
    b"4071,134,9765,4321,134,9336,4353,132,0,0.0]"
)
SHENZHEN = LatLng(22.571707, 113.8613968)


def _sun_said(raw: bytes, at: datetime) -> list[DeviceEvent]:
    """A real frame's events, as if Sun's wristband had sent it at ``at``."""
    return [
        event.model_copy(update={"device_id": f"watch:{SUN}", "device_time": at, "received_at": at})
        for event in to_events(decode_frame(raw), received_at=at, gateway_id="edge-test")
    ]


async def _store(db: Database, events: list[DeviceEvent], now: datetime) -> int:
    async with db.write() as conn:
        await store_batch(conn, events, [], now)
        newest = (await conn.execute(sa.select(sa.func.max(tickets.c.id)))).scalar_one()
        return int(newest or 0)


@pytest.fixture
async def sos_after_fix(api_db: Database) -> tuple[int, str, datetime]:
    """A fix 10 minutes ago, then an SOS without a fix a minute ago: its ticket, the
    volunteer it went to, and the fix's time."""
    now = datetime.now(UTC).replace(microsecond=0)
    fixed_at, sos_at = now - timedelta(minutes=10), now - timedelta(minutes=1)
    await _store(api_db, _sun_said(UD_FIX, fixed_at), fixed_at)
    ticket_id = await _store(api_db, _sun_said(AL_SOS_NO_FIX, sos_at), sos_at)
    return ticket_id, await volunteer_on_duty_for(api_db, SUN, now), fixed_at


async def _position(
    actor: Actor, ticket_id: int, language: str = "zh-CN"
) -> tuple[int, dict[str, Any]]:
    answer = await actor.client.get(
        f"/api/v1/tickets/{ticket_id}/position",
        headers={**actor.headers, "Accept-Language": language},
    )
    return answer.status_code, answer.json()


async def test_the_responder_finds_the_last_fix_converted_with_links(
    as_user: Users, sos_after_fix: tuple[int, str, datetime]
) -> None:
    ticket_id, on_duty, fixed_at = sos_after_fix
    code, body = await _position(await as_user(on_duty), ticket_id)
    assert code == 200, body
    assert body["ticket_id"] == ticket_id and body["device_id"] == f"watch:{SUN}"
    fix = body["position"]
    # The SOS had no fix: the place is the fix before it, never 0,0.
    assert fix["wgs84"] == {"latitude": 22.571707, "longitude": 113.8613968}
    gcj, bd = wgs84_to_gcj02(SHENZHEN), wgs84_to_bd09(SHENZHEN)
    assert fix["gcj02"]["latitude"] == pytest.approx(gcj.latitude, abs=1e-6)
    assert fix["gcj02"]["longitude"] == pytest.approx(gcj.longitude, abs=1e-6)
    assert fix["bd09"]["latitude"] == pytest.approx(bd.latitude, abs=1e-6)
    assert (fix["source"], fix["source_label"], fix["accuracy_m"]) == ("gps", "GPS定位", None)
    # Times: ISO 8601 in the community's zone (Asia/Shanghai), and words for a person.
    at = datetime.fromisoformat(fix["at"])
    assert at == fixed_at and at.utcoffset() == timedelta(hours=8)
    assert fix["time_label"].startswith(("今天", "昨天"))  # near midnight: yesterday
    assert 590 <= fix["age_s"] < 900 and "分钟前" in fix["age_label"]
    # The SOS came since without a fix: said, so the responder knows the fix is older.
    assert datetime.fromisoformat(body["no_fix_at"]) > at
    assert "未能定位" in body["note"]

    amap = parse_qs(urlsplit(fix["links"]["amap"]).query)
    lng, lat = (float(v) for v in amap["position"][0].split(","))
    assert (lat, lng) == pytest.approx((gcj.latitude, gcj.longitude), abs=1e-6)
    assert amap["coordinate"] == ["gaode"]
    assert amap["name"] == ["佩戴者最后位置"]  # no name goes to a third party
    baidu = parse_qs(urlsplit(fix["links"]["baidu"]).query)
    assert baidu["coord_type"] == ["bd09ll"]
    lat, lng = (float(v) for v in baidu["location"][0].split(","))
    assert (lat, lng) == pytest.approx((bd.latitude, bd.longitude), abs=1e-6)
    osm = parse_qs(urlsplit(fix["links"]["osm"]).query)
    assert (osm["mlat"], osm["mlon"]) == (["22.571707"], ["113.861397"])


async def test_an_english_reader_reads_english(
    as_user: Users, sos_after_fix: tuple[int, str, datetime]
) -> None:
    ticket_id, on_duty, _ = sos_after_fix
    code, body = await _position(await as_user(on_duty), ticket_id, "en")
    assert code == 200, body
    assert body["position"]["source_label"] == "GPS"
    assert body["position"]["time_label"].startswith(("Today", "Yesterday"))
    assert "minutes ago" in body["position"]["age_label"]
    assert "without a position fix" in body["note"]
    # A time inside a sentence reads "08:43 today", not "Today 08:43".
    assert re.search(r"fix \d\d:\d\d (today|yesterday):", body["note"]), body["note"]
    assert "name=The+wearer" in body["position"]["links"]["amap"]


async def test_staff_see_it_others_are_told_why_not(
    as_user: Users, sos_after_fix: tuple[int, str, datetime]
) -> None:
    ticket_id, on_duty, _ = sos_after_fix
    code, _ = await _position(await as_user("staff"), ticket_id)
    assert code == 200
    # Who may not see the ticket is not told it exists.
    other = "vol.wang" if on_duty != "vol.wang" else "vol.zhao"
    for actor in (await as_user(other), await as_user("manager")):
        code, body = await _position(actor, ticket_id)
        assert code == 404, body
    # Her own household sees the ticket, but the place on it is the responder's.
    sun = await as_user("resident.sun")
    code, body = await _position(sun, ticket_id, "en")
    assert code == 403
    assert body["detail"] == (
        "only the ticket's responder and community staff see where the wearer is"
    )


async def test_the_responder_no_longer_sees_it_once_the_work_is_done(
    as_user: Users, sos_after_fix: tuple[int, str, datetime]
) -> None:
    ticket_id, on_duty, _ = sos_after_fix
    vol = await as_user(on_duty)
    await vol.ok(ticket_id, "accept")
    assert (await _position(vol, ticket_id))[0] == 200
    await vol.ok(ticket_id, "start", note="on site, she is sitting in the hall")
    assert (await _position(vol, ticket_id))[0] == 200
    await vol.ok(ticket_id, "resolve", note="her neighbour stays with her", disposition="genuine")
    code, body = await _position(vol, ticket_id)
    assert code == 403
    assert body["detail"] == f"工单 {ticket_id} 办理期间，处置人才能查看佩戴者位置"
    # Staff supervise the whole way.
    assert (await _position(await as_user("staff"), ticket_id))[0] == 200


async def test_an_sos_without_any_fix_says_so(as_user: Users, api_db: Database) -> None:
    now = datetime.now(UTC)
    ticket_id = await _store(api_db, _sun_said(AL_SOS_NO_FIX, now), now)
    on_duty = await volunteer_on_duty_for(api_db, SUN, now)
    code, body = await _position(await as_user(on_duty), ticket_id)
    assert code == 200, body
    assert body["position"] is None
    assert body["note"] == "手环尚未上报定位。"


async def test_a_ticket_without_a_wearer_is_a_404_that_says_so(as_user: Users) -> None:
    # A resident's own report: she lives there, but it is not about where she is.
    sun = await as_user("resident.sun")
    opened = await sun.client.post(
        "/api/v1/tickets",
        headers=sun.headers,
        json={"title": "Hall light out", "description": "The hall light of Building 1 is out"},
    )
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["id"]
    code, body = await _position(await as_user("staff"), ticket_id, "en")
    assert code == 404
    assert body["detail"] == f"ticket {ticket_id} concerns no wristband wearer"
    code, body = await _position(await as_user("staff"), 999_999, "en")
    assert code == 404 and "no ticket 999999" in body["detail"]
