"""The alarm-rules engine against a real, seeded SQLite file, with time driven by a fake clock.

Every rule type of hub.policy.document is exercised through the ingest entry points
(store_batch / store_parsed) and the Scheduler that fires stored timers, the
way the running hub does: nothing is mocked, the clock is the only thing the
tests control.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import DeviceAvailability, DeviceEvent, DeviceFamily
from device_adapters.ocpp16 import normalize as ocpp
from hub.alerts.service import clear_active
from hub.alerts.words import what
from hub.clock import Clock
from hub.ingest.flows import BatchOutcome, Parsed, store_batch, store_parsed
from hub.notifications.base import Notification
from hub.policy.document import RulesDocument
from hub.policy.service import default_rules, replace_rules, rules_for
from hub.policy.titles import TITLE_MAX
from hub.schema.alerts import alerts
from hub.schema.grid import communities
from hub.schema.residents import residents
from hub.schema.rules import community_rules
from hub.schema.tickets import tickets
from hub.schema.timers import timers
from hub.schema.users import users
from hub.storage.db import Database
from hub.timer_kinds import timer_kinds
from hub.timers.scheduler import Scheduler
from hub.users.models import Role
from tests.support.hubdata import device_event, open_seeded_db, user_id_of, wristband_event

# Monday 2 March 2026, 10:00 in Shanghai (the community's time zone): vol.li's day shift.
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

SUN = "8800000101"  # 孙丽华, 1号楼1单元101室, grid 1: lives with her daughter (resident.sun)
ZHOU = "8800000202"  # 周国强, 2号楼1单元202室, grid 1: lives alone; gate card 8800000201
WU = "8800000301"  # 吴美芳, 3号楼2单元301室, grid 2: lives alone; gate card 8800000301
ZHOU_CARD = "8800000201"
GATE_NORTH, GATE_SOUTH = "hik:gate-north", "hik:gate-south"  # buildings 1 and 3
SUN_LOCK = "z2m:b1_101_front_door"  # in 孙丽华's household
ZHOU_LOCK = "tuya:bf3a1c2d4e5f6a7b8c"  # in 周国强's household
CHARGER_GRID1 = "CP-P1-01"  # OCPP charger in building 2 (grid 1)
EBIKE_GRID1 = "ebike:EB-B1-01"  # e-bike pile in building 1 (grid 1)
EBIKE_GRID2 = "ebike:EB-B3-01"  # e-bike pile in building 3 (grid 2)


# ---------------------------------------------------------------------------
# The rig: a seeded database, a clock the test moves, a scheduler on that clock


@dataclass
class FakeClock:
    """A :class:`hub.timers.scheduler.Clock` whose time only moves when the test says so."""

    at: datetime

    def now(self) -> datetime:
        return self.at


class Rig:
    """One hub on a seeded SQLite file: ingest batches, fire timers, look at the results."""

    def __init__(self, db: Database, clock: FakeClock, name: str = "hub-test") -> None:
        self.db, self.clock = db, clock
        self.published: list[Notification] = []
        self.scheduler = Scheduler(
            db, self.published.append, kinds=timer_kinds(), clock=clock, name=name
        )

    def at(self, **offset: float) -> datetime:
        """Set the clock to T0 + offset (minutes=..., hours=...) and return it."""
        self.clock.at = T0 + timedelta(**offset)
        return self.clock.at

    async def send(self, *batch: DeviceEvent) -> BatchOutcome:
        async with self.db.write() as conn:
            return await store_batch(conn, list(batch), [], self.clock.now())

    async def reachable(self, device_id: str, online: bool) -> BatchOutcome:
        report = DeviceAvailability(
            device_id=device_id,
            gateway_id="edge-test",
            online=online,
            reason="connected" if online else "heartbeat_timeout",
            at=self.clock.now(),
        )
        async with self.db.write() as conn:
            return await store_parsed(conn, Parsed(availability=[report]), self.clock.now())

    async def tick(self, **offset: float) -> int:
        """Move the clock to T0 + offset and fire what is due."""
        self.at(**offset)
        fired = await self.scheduler.tick()
        assert self.scheduler.stats.failed == 0, "a timer handler raised"
        return fired

    # Events at the clock's time ------------------------------------------------

    def watch(self, native_id: str, kind: str, **values: float | int | str | bool) -> DeviceEvent:
        return wristband_event(native_id, kind, received_at=self.clock.now(), values=dict(values))

    def heart_rate(self, native_id: str, bpm: int) -> DeviceEvent:
        return self.watch(native_id, "wristband.heart_rate", heart_rate_bpm=bpm)

    def device(
        self, device_id: str, family: DeviceFamily, kind: str, **values: float | int | str | bool
    ) -> DeviceEvent:
        return device_event(device_id, family, kind, dict(values), received_at=self.clock.now())

    def gate(self, kind: str, device_id: str = GATE_NORTH, **values: str | int) -> DeviceEvent:
        return self.device(device_id, DeviceFamily.DOOR_ACCESS, kind, **values)

    def ocpp_status(
        self, cp_id: str, status: str, error_code: str = "NoError", port: int = 1
    ) -> list[DeviceEvent]:
        """A StatusNotification as the OCPP 1.6 adapter normalizes it."""
        return ocpp.status_notification(
            cp_id,
            {"connectorId": port, "status": status, "errorCode": error_code},
            received_at=self.clock.now(),
            gateway_id="edge-test",
            raw=b'[2,"1","StatusNotification",{}]',
        )

    # What the database holds -------------------------------------------------------

    async def alerts(self, kind: str | None = None, device_id: str | None = None) -> list[Any]:
        where: list[sa.ColumnElement[bool]] = []
        if kind is not None:
            where.append(alerts.c.kind == kind)
        if device_id is not None:
            where.append(alerts.c.device_id == device_id)
        async with self.db.read() as conn:
            rows = await conn.execute(sa.select(alerts).where(*where).order_by(alerts.c.id))
            return list(rows.all())

    async def active(self, kind: str, device_id: str | None = None) -> list[Any]:
        return [a for a in await self.alerts(kind, device_id) if a.status != "cleared"]

    async def tickets_of(self, alert_id: int) -> list[Any]:
        async with self.db.read() as conn:
            rows = await conn.execute(sa.select(tickets).where(tickets.c.alert_id == alert_id))
            return list(rows.all())

    async def timer(self, key: str) -> Any:
        async with self.db.read() as conn:
            return (await conn.execute(sa.select(timers).where(timers.c.key == key))).first()

    async def resident_id(self, name: str) -> int:
        async with self.db.read() as conn:
            return int(
                (
                    await conn.execute(
                        sa.select(residents.c.id).where(residents.c.full_name.like(f"{name}%"))
                    )
                ).scalar_one()
            )

    async def community_id(self) -> int:
        async with self.db.read() as conn:
            return int((await conn.execute(sa.select(communities.c.id))).scalar_one())


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_seeded_db(tmp_path)
    yield database
    await database.close()


@pytest.fixture
def rig(db: Database) -> Rig:
    return Rig(db, FakeClock(T0))


def test_the_fake_clock_is_a_scheduler_clock() -> None:
    clock: Clock = FakeClock(T0)
    assert clock.now() == T0


# ---------------------------------------------------------------------------
# 1. The rules document is validated as a whole


def _defaults() -> dict[str, Any]:
    text = resources.files("hub.policy").joinpath("default_rules.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _rule(doc: dict[str, Any], rule_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in doc["rules"] if r["id"] == rule_id)
    return found


def _refused(doc: dict[str, Any], problem: str) -> str:
    with pytest.raises(ValidationError) as caught:
        RulesDocument.model_validate(doc)
    message = str(caught.value)
    assert re.search(re.escape(problem), message), message
    return message


def test_the_shipped_defaults_validate_and_cover_every_rule_type() -> None:
    doc = RulesDocument.model_validate(_defaults())
    assert doc == default_rules()
    types = {rule.type for rule in doc.rules}
    assert types == {"event", "threshold", "count", "held", "offline", "welfare"}
    # Every category a rule names exists, and every chain a category names exists.
    for rule in doc.rules:
        assert rule.ticket_category is None or rule.ticket_category in doc.categories
    for category in doc.categories.values():
        assert category.escalation is None or category.escalation in doc.escalation_chains
    # What the shipped document means for the tests below.
    assert doc.rule("heart_rate_high") is not None and doc.rule("welfare_check") is not None
    # A round trip through JSON (what the API stores) gives the same document.
    assert RulesDocument.model_validate(doc.model_dump(mode="json")) == doc


def test_the_rules_an_event_kind_concerns_include_clearing_and_until_kinds() -> None:
    """The engine looks only at these rules per event, so none may be missing."""
    doc = _defaults()
    _rule(doc, "geofence_exit")["enabled"] = False
    rules = RulesDocument.model_validate(doc)
    ids = lambda kind: [r.id for r in rules.concerning(kind)]  # noqa: E731
    # Its own kind, a clears_on kind and a held rule's until kind, in document order.
    assert ids("door.closed") == ["door_forced_open", "door_held_open_reported", "door_held_open"]
    assert ids("door.opened") == ["door_held_open"]
    assert ids("charger.port_status") == ["charger_fault"]
    assert ids("wristband.heart_rate") == ["heart_rate_high", "heart_rate_low"]
    assert ids("door.access_denied") == ["invalid_cards"]
    # A disabled rule concerns nothing; a kind no rule watches concerns nothing.
    assert ids("wristband.geofence_exit") == [] and ids("wristband.geofence_enter") == []
    assert ids("charger.meter") == []


def test_an_unknown_event_kind_is_refused() -> None:
    doc = _defaults()
    _rule(doc, "sos")["kind"] = "wristband.levitating"
    _refused(doc, "rule 'sos': unknown event kind 'wristband.levitating'")


def test_an_unknown_kind_in_clears_on_or_until_is_refused() -> None:
    doc = _defaults()
    _rule(doc, "charger_fault")["clears_on"] = [{"kind": "charger.repaired"}]
    _rule(doc, "door_held_open")["until"] = [{"kind": "door.shut"}]
    message = _refused(doc, "rule 'charger_fault': unknown event kind 'charger.repaired'")
    assert "rule 'door_held_open': unknown event kind 'door.shut'" in message


def test_an_unknown_ticket_category_is_refused() -> None:
    doc = _defaults()
    _rule(doc, "fall")["ticket_category"] = "elderly_trip"
    _refused(doc, "rule 'fall': unknown ticket category 'elderly_trip'")


def test_an_unknown_escalation_chain_is_refused() -> None:
    doc = _defaults()
    doc["categories"]["elderly_sos"]["escalation"] = "shout_louder"
    _refused(doc, "category 'elderly_sos': unknown escalation chain 'shout_louder'")


def test_a_duplicate_rule_id_is_refused() -> None:
    doc = _defaults()
    twin = copy.deepcopy(_rule(doc, "invalid_cards"))
    twin["id"] = "sos"
    doc["rules"].append(twin)
    message = _refused(doc, "rule id 'sos' is used more than once")
    assert "second event rule" not in message


def test_a_second_event_rule_for_one_kind_is_refused() -> None:
    doc = _defaults()
    twin = copy.deepcopy(_rule(doc, "sos"))
    twin["id"] = "sos_again"
    doc["rules"].append(twin)
    _refused(doc, "rule 'sos_again': a second event rule for 'wristband.sos'")


def test_a_threshold_without_bounds_is_refused() -> None:
    doc = _defaults()
    del _rule(doc, "heart_rate_high")["above"]
    _refused(doc, "rule 'heart_rate_high': a threshold needs above, below or both")


def test_the_police_need_a_police_contact() -> None:
    doc = _defaults()
    _rule(doc, "door_duress")["notify"] = ["community_staff", "police"]
    _refused(doc, "rule 'door_duress' notifies the police but no police_contact is set")

    doc["police_contact"] = {"name": "淮海路派出所", "phone": "+86 21 110"}
    accepted = RulesDocument.model_validate(doc)
    assert accepted.police_contact is not None


def test_an_escalation_chain_calling_the_police_needs_a_police_contact() -> None:
    doc = _defaults()
    doc["escalation_chains"]["duress"].append({"notify": "police", "ack_timeout_s": 60})
    _refused(doc, "escalation chain 'duress' calls the police but none is set")


def test_every_problem_is_listed_at_once() -> None:
    doc = _defaults()
    _rule(doc, "sos")["kind"] = "wristband.levitating"
    _rule(doc, "fall")["ticket_category"] = "elderly_trip"
    del _rule(doc, "heart_rate_low")["below"]
    message = _refused(doc, "unknown event kind 'wristband.levitating'")
    assert "unknown ticket category 'elderly_trip'" in message
    assert "rule 'heart_rate_low': a threshold needs above, below or both" in message


def test_a_rule_with_a_misspelt_field_is_refused() -> None:
    doc = _defaults()
    _rule(doc, "sos")["ticket_categroy"] = "elderly_sos"
    _refused(doc, "ticket_categroy")


def test_category_time_limits_must_make_sense() -> None:
    doc = _defaults()
    doc["categories"]["general"]["resolve_minutes"] = 10  # shorter than its 240 to respond
    _refused(doc, "resolve_minutes must not be shorter than response_minutes")


# ---------------------------------------------------------------------------
# 2. Event rules


async def test_an_sos_opens_one_alert_and_one_ticket_and_a_repeat_attaches(rig: Rig) -> None:
    first = await rig.send(rig.watch(ZHOU, "wristband.sos"))
    assert len(first.alerts_opened) == 1 and len(first.tickets_opened) == 1
    alert_id = first.alerts_opened[0]

    rig.at(minutes=1)
    repeat = await rig.send(rig.watch(ZHOU, "wristband.sos"))
    assert repeat.alerts_opened == [] and repeat.alerts_attached == [alert_id]
    assert repeat.tickets_opened == []

    (alert,) = await rig.alerts("wristband.sos")
    assert alert.id == alert_id and alert.event_count == 2 and alert.status == "open"
    assert alert.rule_id == "sos" and alert.last_event_at == T0 + timedelta(minutes=1)
    assert "周国强" in alert.summary
    (ticket,) = await rig.tickets_of(alert_id)
    assert ticket.category == "elderly_sos"


async def test_a_charger_fault_clears_when_the_port_is_available_again(rig: Rig) -> None:
    faulted = await rig.send(*rig.ocpp_status(CHARGER_GRID1, "Faulted", "GroundFailure"))
    assert len(faulted.alerts_opened) == 1
    (alert,) = await rig.active("charger.fault", f"ocpp:{CHARGER_GRID1}")
    (ticket,) = await rig.tickets_of(alert.id)
    assert ticket.category == "facility_repair"

    # Still out of order: not a recovery.
    rig.at(minutes=5)
    still = await rig.send(*rig.ocpp_status(CHARGER_GRID1, "Unavailable"))
    assert still.alerts_cleared == []
    # Another charger's recovery does not clear this one's fault.
    other = await rig.send(*rig.ocpp_status("CP-P1-02", "Available"))
    assert other.alerts_cleared == []
    assert len(await rig.active("charger.fault")) == 1

    rig.at(minutes=30)
    recovered = await rig.send(*rig.ocpp_status(CHARGER_GRID1, "Available"))
    assert recovered.alerts_cleared == [alert.id]
    (cleared,) = await rig.alerts("charger.fault")
    assert cleared.status == "cleared" and cleared.cleared_by is None
    assert cleared.cleared_at == T0 + timedelta(minutes=30)
    assert "charger.port_status" in cleared.clear_reason


async def test_a_repeated_fault_report_while_available_keeps_one_alert(rig: Rig) -> None:
    """OCPP: a connector may stay Available with an error code (a fault all the same).

    Each StatusNotification then carries a port_status 'available' *and* a
    charger.fault. The repeat must attach to the open alert, not clear it and
    open a second alert with a second ticket.
    """
    await rig.send(*rig.ocpp_status(CHARGER_GRID1, "Available", "GroundFailure"))
    rig.at(minutes=10)
    repeat = await rig.send(*rig.ocpp_status(CHARGER_GRID1, "Available", "GroundFailure"))
    assert repeat.alerts_opened == []
    found = await rig.alerts("charger.fault")
    assert len(found) == 1 and found[0].status == "open" and found[0].event_count == 2
    assert len(await rig.tickets_of(found[0].id)) == 1

    rig.at(minutes=20)
    fixed = await rig.send(*rig.ocpp_status(CHARGER_GRID1, "Available", "NoError"))
    assert fixed.alerts_cleared == [found[0].id]


async def test_another_port_available_does_not_clear_a_ports_fault(rig: Rig) -> None:
    await rig.send(*rig.ocpp_status(CHARGER_GRID1, "Faulted", "GroundFailure", port=1))
    rig.at(minutes=5)
    other_port = await rig.send(*rig.ocpp_status(CHARGER_GRID1, "Available", port=2))
    assert other_port.alerts_cleared == []
    (alert,) = await rig.active("charger.fault")

    # Port 2 faults too: the same charger's alert, counted; then port 1 is repaired.
    rig.at(minutes=10)
    second = await rig.send(
        *rig.ocpp_status(CHARGER_GRID1, "Faulted", "ConnectorLockFailure", port=2)
    )
    assert second.alerts_opened == [] and second.alerts_attached == [alert.id]
    rig.at(minutes=20)
    one_back = await rig.send(*rig.ocpp_status(CHARGER_GRID1, "Available", port=1))
    assert one_back.alerts_cleared == [] and len(await rig.active("charger.fault")) == 1

    # Only when no port is out of order any more is the charger's fault over.
    rig.at(minutes=30)
    both_back = await rig.send(*rig.ocpp_status(CHARGER_GRID1, "Available", port=2))
    assert both_back.alerts_cleared == [alert.id]
    assert await rig.active("charger.fault") == []


async def test_a_port_that_faults_and_recovers_in_one_batch_clears_the_alert(rig: Rig) -> None:
    """The check reads the state after the whole batch: the fault and its end both in it."""
    batch = rig.ocpp_status(CHARGER_GRID1, "Faulted", "GroundFailure", port=1)
    rig.at(minutes=1)
    batch += rig.ocpp_status(CHARGER_GRID1, "Available", port=1)
    outcome = await rig.send(*batch)
    assert len(outcome.alerts_opened) == 1 and outcome.alerts_cleared == outcome.alerts_opened


async def test_an_event_rule_without_a_category_opens_an_alert_but_no_ticket(rig: Rig) -> None:
    outcome = await rig.send(rig.gate("device.low_battery", battery_pct=5))
    assert len(outcome.alerts_opened) == 1 and outcome.tickets_opened == []


# ---------------------------------------------------------------------------
# 3. Threshold rules: beyond a limit for a while


async def test_a_heart_rate_high_for_ten_minutes_raises_an_alert_and_a_ticket(rig: Rig) -> None:
    started = await rig.send(rig.heart_rate(ZHOU, 130))
    assert started.alerts_opened == []
    rig.at(minutes=5)
    assert (await rig.send(rig.heart_rate(ZHOU, 135))).alerts_opened == []
    # The clock started at the first reading beyond the limit, not the last.
    pending = await rig.timer(f"cond:heart_rate_high:watch:{ZHOU}")
    assert pending.due_at == T0 + timedelta(minutes=10) and pending.fired_at is None

    await rig.tick(minutes=9)
    assert await rig.alerts("wristband.heart_rate_high") == []

    await rig.tick(minutes=10, seconds=1)
    (alert,) = await rig.active("wristband.heart_rate_high", f"watch:{ZHOU}")
    assert alert.severity == "high" and alert.rule_id == "heart_rate_high"
    (ticket,) = await rig.tickets_of(alert.id)
    assert ticket.category == "elderly_health"
    # The scheduler hands the alarm's notifications on once it committed.
    assert any(n.alert_id == alert.id or n.ticket_id == ticket.id for n in rig.published)
    fired = await rig.timer(f"cond:heart_rate_high:watch:{ZHOU}")
    assert fired.fired_by == "hub-test" and f"alert {alert.id} opened" in fired.outcome

    rig.at(minutes=12)
    normal = await rig.send(rig.heart_rate(ZHOU, 80))
    assert normal.alerts_cleared == [alert.id]
    assert await rig.active("wristband.heart_rate_high") == []


async def test_a_reading_back_in_range_in_time_cancels_the_clock(rig: Rig) -> None:
    await rig.send(rig.heart_rate(ZHOU, 130))
    rig.at(minutes=5)
    await rig.send(rig.heart_rate(ZHOU, 135))
    rig.at(minutes=8)
    await rig.send(rig.heart_rate(ZHOU, 90))
    cancelled = await rig.timer(f"cond:heart_rate_high:watch:{ZHOU}")
    assert cancelled.cancelled_at == T0 + timedelta(minutes=8) and cancelled.fired_at is None

    await rig.tick(minutes=10)
    await rig.tick(minutes=30)
    assert await rig.alerts("wristband.heart_rate_high") == []


async def test_a_second_spell_starts_a_new_clock(rig: Rig) -> None:
    await rig.send(rig.heart_rate(ZHOU, 130))
    rig.at(minutes=8)
    await rig.send(rig.heart_rate(ZHOU, 90))  # back in range: the first spell ends
    rig.at(minutes=9)
    await rig.send(rig.heart_rate(ZHOU, 128))  # a new spell: due at +19 min
    await rig.tick(minutes=12)
    assert await rig.alerts("wristband.heart_rate_high") == []
    await rig.tick(minutes=19)
    assert len(await rig.active("wristband.heart_rate_high")) == 1


async def test_a_low_heart_rate_has_its_own_clock(rig: Rig) -> None:
    await rig.send(rig.heart_rate(WU, 35))
    await rig.tick(minutes=4)
    assert await rig.alerts("wristband.heart_rate_low") == []
    await rig.tick(minutes=5)
    assert len(await rig.active("wristband.heart_rate_low", f"watch:{WU}")) == 1
    assert await rig.alerts("wristband.heart_rate_high") == []


async def test_a_zero_minute_threshold_raises_at_once(rig: Rig) -> None:
    doc = _defaults()
    _rule(doc, "heart_rate_low")["for_minutes"] = 0
    await _store(rig.db, doc, 1)
    outcome = await rig.send(rig.heart_rate(WU, 35))
    assert len(outcome.alerts_opened) == 1 and len(outcome.tickets_opened) == 1
    (alert,) = await rig.active("wristband.heart_rate_low", f"watch:{WU}")
    assert alert.rule_id == "heart_rate_low"
    rig.at(minutes=1)
    assert (await rig.send(rig.heart_rate(WU, 70))).alerts_cleared == [alert.id]


async def test_a_timer_of_a_rule_disabled_meanwhile_raises_nothing(rig: Rig) -> None:
    await rig.send(rig.heart_rate(ZHOU, 130))
    doc = _defaults()
    _rule(doc, "heart_rate_high")["enabled"] = False
    async with rig.db.write() as conn:
        await replace_rules(
            conn,
            await _community(conn),
            RulesDocument.model_validate(doc),
            expected_version=0,
            user_id=await _user(conn, "staff"),
            now=rig.clock.now(),
        )
    await rig.tick(minutes=11)
    assert await rig.alerts("wristband.heart_rate_high") == []
    fired = await rig.timer(f"cond:heart_rate_high:watch:{ZHOU}")
    assert fired.outcome == "rule removed or disabled since"


# ---------------------------------------------------------------------------
# 4. Count rules: too many of a kind within a window


async def test_five_refused_cards_in_ten_minutes_raise_an_alert(rig: Rig) -> None:
    for minute in range(4):  # at 0, 2, 4, 6 minutes
        rig.at(minutes=2 * minute)
        outcome = await rig.send(rig.gate("door.access_denied", card_no="9999"))
        assert outcome.alerts_opened == []
    assert await rig.alerts("door.access_denied_repeated") == []

    rig.at(minutes=8)
    fifth = await rig.send(rig.gate("door.access_denied", card_no="9999"))
    assert len(fifth.alerts_opened) == 1
    (alert,) = await rig.alerts("door.access_denied_repeated", GATE_NORTH)
    assert alert.severity == "medium" and alert.rule_id == "invalid_cards"
    # No ticket category on this rule; the property manager is told.
    assert fifth.tickets_opened == []
    (note,) = [n for n in fifth.notifications if n.kind == "alert.opened"]
    assert Role.PROPERTY_MANAGER in note.recipients.roles

    rig.at(minutes=9)
    sixth = await rig.send(rig.gate("door.access_denied", card_no="9999"))
    assert sixth.alerts_attached == [alert.id]


async def test_five_refused_cards_in_one_batch_count_too(rig: Rig) -> None:
    outcome = await rig.send(*[rig.gate("door.access_denied") for _ in range(5)])
    assert len(outcome.alerts_opened) == 1


async def test_refused_cards_spread_over_an_hour_raise_nothing(rig: Rig) -> None:
    for minute in (0, 15, 30, 45, 60):
        rig.at(minutes=minute)
        await rig.send(rig.gate("door.access_denied"))
    assert await rig.alerts("door.access_denied_repeated") == []


async def test_refused_cards_count_per_gate(rig: Rig) -> None:
    for minute in range(6):
        rig.at(minutes=minute)
        device = GATE_NORTH if minute % 2 else GATE_SOUTH
        await rig.send(rig.gate("door.access_denied", device))
    assert await rig.alerts("door.access_denied_repeated") == []


async def test_the_window_slides(rig: Rig) -> None:
    for minute in (0, 1, 2, 3):
        rig.at(minutes=minute)
        await rig.send(rig.gate("door.access_denied"))
    rig.at(minutes=10, seconds=30)  # the one at 0 has left the window: 4 in it
    assert (await rig.send(rig.gate("door.access_denied"))).alerts_opened == []
    rig.at(minutes=10, seconds=45)  # 1, 2, 3, 10:30 and this one: 5 within 10 minutes
    assert len((await rig.send(rig.gate("door.access_denied"))).alerts_opened) == 1


async def test_each_event_of_a_batch_counts_within_its_own_window(rig: Rig) -> None:
    """The stored events are read once a batch; each event still counts only its window."""
    for minute in (0, 1, 2):
        rig.at(minutes=minute)
        await rig.send(rig.gate("door.access_denied"))
    rig.at(minutes=4)
    early = rig.gate("door.access_denied")  # 0, 1, 2 and this one: 4
    rig.at(minutes=11)
    late = rig.gate("door.access_denied")  # 2, 4 and this one; 0 and 1 have left: 3
    assert (await rig.send(early, late)).alerts_opened == []
    rig.at(minutes=11, seconds=30)  # 2, 4, 11 and this one: 4
    assert (await rig.send(rig.gate("door.access_denied"))).alerts_opened == []


async def test_a_refused_card_that_arrives_late_counts_only_its_own_window(rig: Rig) -> None:
    """Only the newest few stored are read a batch; an older event counts its window exactly."""
    for minute in (10, 11, 12, 13):
        rig.at(minutes=minute)
        await rig.send(rig.gate("door.access_denied"))
    rig.at(minutes=2)  # heard late: its window (-8, 2] holds only itself
    assert (await rig.send(rig.gate("door.access_denied"))).alerts_opened == []
    rig.at(minutes=12, seconds=30)  # 10, 11, 12 and this one: 4
    assert (await rig.send(rig.gate("door.access_denied"))).alerts_opened == []
    rig.at(minutes=14)  # 10, 11, 12, 12:30, 13 and this one: 6
    assert len((await rig.send(rig.gate("door.access_denied"))).alerts_opened) == 1


async def test_a_flood_of_refused_cards_keeps_one_alert_and_a_new_one_says_how_many(
    rig: Rig,
) -> None:
    doc = _defaults()
    _rule(doc, "invalid_cards")["title"] = "{count} refused cards at {device}"
    await _store(rig.db, doc, 1)
    for second in range(0, 240, 10):  # 72 refused cards in 4 minutes, 3 a batch
        rig.at(seconds=second)
        batch = [rig.gate("door.access_denied") for _ in range(3)]
        await rig.send(*batch)
    (alert,) = await rig.alerts("door.access_denied_repeated", GATE_NORTH)
    assert alert.event_count == 72 - 4  # the fifth opened it, every later one attached
    assert alert.summary.startswith("5 refused cards")

    async with rig.db.write() as conn:
        await clear_active(
            conn, GATE_NORTH, "door.access_denied_repeated", rig.clock.now(), "reset by staff"
        )
    rig.at(minutes=5)
    reopened = await rig.send(rig.gate("door.access_denied"))
    assert len(reopened.alerts_opened) == 1
    (_, again) = await rig.alerts("door.access_denied_repeated", GATE_NORTH)
    assert again.summary.startswith("73 refused cards")  # all of them, not "at least 5"


# ---------------------------------------------------------------------------
# 5. Held rules: a state held too long


async def test_a_door_held_open_for_five_minutes_raises_an_alert(rig: Rig) -> None:
    await rig.send(rig.gate("door.opened"))
    await rig.tick(minutes=4, seconds=59)
    assert await rig.alerts("door.held_open") == []

    await rig.tick(minutes=5)
    (alert,) = await rig.active("door.held_open", GATE_NORTH)
    assert alert.rule_id == "door_held_open" and alert.severity == "medium"
    assert await rig.tickets_of(alert.id) == []

    rig.at(minutes=7)
    closed = await rig.send(rig.gate("door.closed"))
    assert closed.alerts_cleared == [alert.id]


async def test_a_door_closed_in_time_raises_nothing(rig: Rig) -> None:
    await rig.send(rig.gate("door.opened"))
    rig.at(minutes=3)
    await rig.send(rig.gate("door.closed"))
    await rig.tick(minutes=5)
    await rig.tick(minutes=60)
    assert await rig.alerts("door.held_open") == []
    cancelled = await rig.timer(f"cond:door_held_open:{GATE_NORTH}")
    assert cancelled.cancelled_at is not None and cancelled.fired_at is None


async def test_another_gate_closing_does_not_stop_the_clock(rig: Rig) -> None:
    await rig.send(rig.gate("door.opened", GATE_NORTH))
    rig.at(minutes=2)
    await rig.send(rig.gate("door.closed", GATE_SOUTH))
    await rig.tick(minutes=5)
    assert len(await rig.active("door.held_open", GATE_NORTH)) == 1


async def test_the_door_opened_again_after_closing_starts_a_new_clock(rig: Rig) -> None:
    await rig.send(rig.gate("door.opened"))
    rig.at(minutes=3)
    await rig.send(rig.gate("door.closed"))
    rig.at(minutes=4)
    await rig.send(rig.gate("door.opened"))
    await rig.tick(minutes=8)
    assert await rig.alerts("door.held_open") == []
    await rig.tick(minutes=9)
    assert len(await rig.active("door.held_open")) == 1


# ---------------------------------------------------------------------------
# 6. A wristband taken off and not worn again


async def test_a_wristband_off_for_thirty_minutes_raises_an_alert(rig: Rig) -> None:
    removed = await rig.send(rig.watch(ZHOU, "wristband.removed"))
    assert removed.alerts_opened == []
    await rig.tick(minutes=29)
    assert await rig.alerts("wristband.not_worn") == []
    await rig.tick(minutes=30)
    (alert,) = await rig.active("wristband.not_worn", f"watch:{ZHOU}")
    (ticket,) = await rig.tickets_of(alert.id)
    assert ticket.category == "elderly_health" and "周国强" in ticket.title

    rig.at(minutes=40)
    worn = await rig.send(rig.watch(ZHOU, "wristband.worn"))
    assert worn.alerts_cleared == [alert.id]


async def test_a_wristband_worn_again_in_time_raises_nothing(rig: Rig) -> None:
    await rig.send(rig.watch(ZHOU, "wristband.removed"))
    rig.at(minutes=20)
    await rig.send(rig.watch(ZHOU, "wristband.worn"))
    await rig.tick(minutes=30)
    await rig.tick(minutes=90)
    assert await rig.alerts("wristband.not_worn") == []


# ---------------------------------------------------------------------------
# 7. Offline rules


async def test_a_gate_offline_for_ten_minutes_raises_an_alert_cleared_when_back(rig: Rig) -> None:
    went = await rig.reachable(GATE_SOUTH, online=False)
    assert went.availability_changes == 1 and went.alerts_opened == []
    await rig.tick(minutes=9)
    assert await rig.alerts("device.offline") == []

    await rig.tick(minutes=10)
    (alert,) = await rig.active("device.offline", GATE_SOUTH)
    assert alert.rule_id == "gate_offline" and alert.severity == "medium"
    (ticket,) = await rig.tickets_of(alert.id)
    assert ticket.category == "facility_repair"

    rig.at(minutes=25)
    back = await rig.reachable(GATE_SOUTH, online=True)
    assert back.alerts_cleared == [alert.id]
    (cleared,) = await rig.alerts("device.offline")
    assert cleared.status == "cleared" and cleared.clear_reason == "device back online"


async def test_a_report_applied_twice_changes_nothing_the_second_time(rig: Rig) -> None:
    """Every hub of a group applies every availability report; only the first one counts."""
    assert (await rig.reachable(GATE_SOUTH, online=False)).availability_changes == 1
    assert (await rig.reachable(GATE_SOUTH, online=False)).availability_changes == 0
    rig.at(minutes=25)
    back = await rig.reachable(GATE_SOUTH, online=True)
    assert back.availability_changes == 1
    assert (await rig.reachable(GATE_SOUTH, online=True)).availability_changes == 0


async def test_a_gate_back_online_within_ten_minutes_raises_nothing(rig: Rig) -> None:
    await rig.reachable(GATE_SOUTH, online=False)
    rig.at(minutes=4)
    await rig.reachable(GATE_SOUTH, online=True)
    await rig.tick(minutes=10)
    await rig.tick(minutes=120)
    assert await rig.alerts("device.offline") == []


async def test_a_flapping_gate_starts_a_fresh_clock_each_time_it_goes_offline(rig: Rig) -> None:
    await rig.reachable(GATE_SOUTH, online=False)
    rig.at(minutes=4)
    await rig.reachable(GATE_SOUTH, online=True)
    rig.at(minutes=6)
    await rig.reachable(GATE_SOUTH, online=False)  # due at 16 minutes, not 10
    await rig.tick(minutes=15)
    assert await rig.alerts("device.offline") == []
    await rig.tick(minutes=16)
    assert len(await rig.active("device.offline", GATE_SOUTH)) == 1


async def test_each_family_has_its_own_offline_time(rig: Rig) -> None:
    await rig.reachable(f"ocpp:{CHARGER_GRID1}", online=False)  # chargers: 15 minutes
    await rig.tick(minutes=14)
    assert await rig.alerts("device.offline") == []
    await rig.tick(minutes=15)
    (alert,) = await rig.active("device.offline")
    assert alert.device_id == f"ocpp:{CHARGER_GRID1}" and alert.rule_id == "charger_offline"


# ---------------------------------------------------------------------------
# 8. Welfare: no sign of life from an elderly resident living alone


async def _welfare_alerts(rig: Rig) -> dict[int, Any]:
    found = await rig.alerts("welfare.no_sign_of_life")
    return {int(a.resident_id): a for a in found if a.status != "cleared"}


async def _living_alone(rig: Rig) -> set[int]:
    async with rig.db.read() as conn:
        rows = await conn.execute(
            sa.select(residents.c.id).where(
                residents.c.is_elderly.is_(True), residents.c.lives_alone.is_(True)
            )
        )
        return {int(r.id) for r in rows}


async def test_no_sign_of_life_for_twelve_hours_raises_a_welfare_check(rig: Rig) -> None:
    zhou, sun = await rig.resident_id("周国强"), await rig.resident_id("孙丽华")
    alone = await _living_alone(rig)
    assert zhou in alone and sun not in alone and len(alone) == 4

    assert await rig.scheduler.sweep() == 4  # one clock per elderly resident living alone
    await rig.tick(hours=11, minutes=59)
    assert await _welfare_alerts(rig) == {}

    await rig.tick(hours=12)
    raised = await _welfare_alerts(rig)
    assert set(raised) == alone
    alert = raised[zhou]
    assert alert.device_id == f"resident:{zhou}" and alert.severity == "high"
    assert alert.summary.startswith("关爱探访：周国强")
    assert "2号楼 · 1单元 · 202室" in alert.summary
    assert "周国强" in alert.titles["en"] and "2号楼1单元202室" in alert.titles["en"]
    (ticket,) = await rig.tickets_of(alert.id)
    assert ticket.category == "elderly_welfare" and ticket.resident_id == zhou

    # Later sweeps neither re-arm a fired clock nor raise a second alert.
    await rig.tick(hours=13)
    await rig.tick(hours=30)
    assert len(await rig.alerts("welfare.no_sign_of_life")) == 4


async def test_a_gate_pass_with_their_card_moves_the_check(rig: Rig) -> None:
    zhou = await rig.resident_id("周国强")
    await rig.scheduler.sweep()
    rig.at(hours=6)
    passed = await rig.send(rig.gate("door.access_granted", card_no=ZHOU_CARD))
    assert passed.alerts_opened == []
    # The sign of life moved the clock at once (not only when the old one fired).
    moved = await rig.timer(f"welfare:welfare_check:{zhou}")
    assert moved.due_at == T0 + timedelta(hours=18) and moved.fired_at is None

    await rig.tick(hours=12)
    raised = await _welfare_alerts(rig)
    assert zhou not in raised and len(raised) == 3  # the others were not seen
    await rig.tick(hours=17, minutes=59)
    assert zhou not in await _welfare_alerts(rig)
    await rig.tick(hours=18)
    assert zhou in await _welfare_alerts(rig)


async def test_a_welfare_title_says_when_they_were_last_seen_in_local_time(rig: Rig) -> None:
    doc = _defaults()
    _rule(doc, "welfare_check")["title"] = {
        "zh-CN": "{who}最后活动：{last_seen}",
        "en": "{who} last seen {last_seen}",
    }
    await _store(rig.db, doc, 1)
    zhou, wu = await rig.resident_id("周国强"), await rig.resident_id("吴美芳")
    await rig.scheduler.sweep()
    rig.at(hours=6)
    await rig.send(rig.gate("door.access_granted", card_no=ZHOU_CARD))
    await rig.tick(hours=18)
    raised = await _welfare_alerts(rig)
    # T0 + 6 h is 08:00 UTC: 16:00 in the community's zone (Asia/Shanghai), with its date.
    assert raised[zhou].titles == {
        "zh-CN": "周国强最后活动：2026年3月2日 16:00",
        "en": "周国强 last seen Mar 2, 2026 16:00",
    }
    assert raised[zhou].summary == raised[zhou].titles["zh-CN"]
    # Never seen at all: in words.
    assert raised[wu].titles["zh-CN"].endswith("最后活动：从未出现")
    assert raised[wu].titles["en"].endswith(" last seen never seen")


async def test_a_card_nobody_registered_is_no_sign_of_life(rig: Rig) -> None:
    zhou = await rig.resident_id("周国强")
    await rig.scheduler.sweep()
    rig.at(hours=6)
    await rig.send(rig.gate("door.access_granted", card_no="1234567890"))
    await rig.tick(hours=12)
    assert zhou in await _welfare_alerts(rig)


async def test_rising_steps_move_the_check_but_a_first_count_does_not(rig: Rig) -> None:
    wu = await rig.resident_id("吴美芳")
    await rig.scheduler.sweep()
    rig.at(hours=1)
    await rig.send(rig.watch(WU, "wristband.heartbeat", steps=1200))  # a baseline only
    rig.at(hours=2)
    await rig.send(rig.watch(WU, "wristband.heartbeat", steps=1200))  # not moving
    unmoved = await rig.timer(f"welfare:welfare_check:{wu}")
    assert unmoved.due_at == T0 + timedelta(hours=12)
    await rig.tick(hours=12)
    assert wu in await _welfare_alerts(rig)


async def test_rising_steps_are_a_sign_of_life(rig: Rig) -> None:
    wu = await rig.resident_id("吴美芳")
    await rig.scheduler.sweep()
    rig.at(hours=1)
    await rig.send(rig.watch(WU, "wristband.heartbeat", steps=1200))
    rig.at(hours=4)
    await rig.send(rig.watch(WU, "wristband.heartbeat", steps=1350))
    moved = await rig.timer(f"welfare:welfare_check:{wu}")
    assert moved.due_at == T0 + timedelta(hours=16)
    await rig.tick(hours=12)
    assert wu not in await _welfare_alerts(rig)
    await rig.tick(hours=15, minutes=59)
    assert wu not in await _welfare_alerts(rig)
    await rig.tick(hours=16)
    assert wu in await _welfare_alerts(rig)


async def test_their_lock_opened_is_a_sign_of_life(rig: Rig) -> None:
    zhou = await rig.resident_id("周国强")
    await rig.scheduler.sweep()
    rig.at(hours=3)
    await rig.send(rig.device(ZHOU_LOCK, DeviceFamily.LOCK, "lock.unlocked", method="fingerprint"))
    await rig.tick(hours=12)
    assert zhou not in await _welfare_alerts(rig)
    await rig.tick(hours=15)
    assert zhou in await _welfare_alerts(rig)


async def test_a_sign_of_life_clears_the_open_check_and_restarts_the_clock(rig: Rig) -> None:
    zhou = await rig.resident_id("周国强")
    await rig.scheduler.sweep()
    await rig.tick(hours=12)
    alert = (await _welfare_alerts(rig))[zhou]

    rig.at(hours=13)
    seen = await rig.send(rig.gate("door.access_granted", card_no=ZHOU_CARD))
    assert seen.alerts_cleared == [alert.id]
    assert zhou not in await _welfare_alerts(rig)

    await rig.tick(hours=24, minutes=59)
    assert zhou not in await _welfare_alerts(rig)
    await rig.tick(hours=25)
    again = (await _welfare_alerts(rig))[zhou]
    assert again.id != alert.id  # a new check...
    # ...joining the first check's ticket, still open (nobody resolved it), not a second one.
    assert await rig.tickets_of(again.id) == []
    assert len(await rig.tickets_of(alert.id)) == 1


async def test_a_late_delivered_old_sign_of_life_changes_nothing(rig: Rig) -> None:
    """A gate pass from before the check's window, delivered late (an edge outbox catching up).

    It is no sign of life within the last 12 hours: the open check stays open,
    and no second check (with a second ticket) is raised for the same silence.
    """
    zhou = await rig.resident_id("周国强")
    await rig.scheduler.sweep()
    await rig.tick(hours=12)
    alert = (await _welfare_alerts(rig))[zhou]

    rig.at(hours=13)
    late = device_event(
        GATE_NORTH,
        DeviceFamily.DOOR_ACCESS,
        "door.access_granted",
        {"card_no": ZHOU_CARD},
        received_at=T0 - timedelta(hours=1),
    )
    outcome = await rig.send(late)
    assert outcome.alerts_cleared == []
    await rig.tick(hours=13, minutes=1)
    await rig.tick(hours=14)
    checks = [a for a in await rig.alerts("welfare.no_sign_of_life") if a.resident_id == zhou]
    assert [(a.id, a.status) for a in checks] == [(alert.id, "open")]
    assert len(await rig.tickets_of(alert.id)) == 1


async def test_a_late_delivered_sign_within_the_window_clears_the_check(rig: Rig) -> None:
    zhou = await rig.resident_id("周国强")
    await rig.scheduler.sweep()
    await rig.tick(hours=12)
    alert = (await _welfare_alerts(rig))[zhou]
    rig.at(hours=13)
    late = device_event(
        GATE_NORTH,
        DeviceFamily.DOOR_ACCESS,
        "door.access_granted",
        {"card_no": ZHOU_CARD},
        received_at=T0 + timedelta(hours=6),
    )
    assert (await rig.send(late)).alerts_cleared == [alert.id]
    await rig.tick(hours=17, minutes=59)
    assert zhou not in await _welfare_alerts(rig)
    await rig.tick(hours=18)
    assert zhou in await _welfare_alerts(rig)


async def test_a_resident_seen_before_the_hub_started_is_checked_from_then(rig: Rig) -> None:
    """The first sweep starts the clock at the last sign of life already known."""
    zhou = await rig.resident_id("周国强")
    rig.at(hours=-4)
    await rig.send(rig.gate("door.access_granted", card_no=ZHOU_CARD))
    rig.at(hours=0)
    async with rig.db.write() as conn:  # a clock that was never armed (the hub was not running)
        await conn.execute(timers.delete().where(timers.c.key.like("welfare:%")))
    await rig.scheduler.sweep()
    await rig.tick(hours=8)
    assert zhou in await _welfare_alerts(rig)


async def test_sun_lihua_lives_with_her_daughter_and_is_never_checked(rig: Rig) -> None:
    sun = await rig.resident_id("孙丽华")
    await rig.scheduler.sweep()
    # Her household's lock opens (a sign of life for her and her daughter) ...
    rig.at(hours=1)
    await rig.send(rig.device(SUN_LOCK, DeviceFamily.LOCK, "lock.unlocked", method="password"))
    # ... her wristband's steps rise ...
    rig.at(hours=2)
    await rig.send(rig.watch(SUN, "wristband.heartbeat", steps=10))
    rig.at(hours=3)
    await rig.send(rig.watch(SUN, "wristband.heartbeat", steps=20))
    for hours in (12, 24, 48, 72):
        await rig.tick(hours=hours)
    found = await rig.alerts("welfare.no_sign_of_life")
    assert found and all(a.resident_id != sun for a in found)
    async with rig.db.read() as conn:
        keys = (await conn.execute(sa.select(timers.c.key))).scalars().all()
    assert not [k for k in keys if k.startswith("welfare:") and k.endswith(f":{sun}")]


# ---------------------------------------------------------------------------
# 9. Silent (duress) alarms


async def test_a_duress_alarm_is_silent_confidential_and_for_staff_only(rig: Rig) -> None:
    outcome = await rig.send(rig.device(SUN_LOCK, DeviceFamily.LOCK, "lock.duress", user_id=7))
    (alert_id,) = outcome.alerts_opened
    (alert,) = await rig.alerts("lock.duress")
    assert alert.id == alert_id and alert.silent is True and alert.severity == "critical"
    (ticket,) = await rig.tickets_of(alert_id)
    assert ticket.confidential is True and ticket.category == "security_duress"

    assert outcome.notifications, "staff must hear of a duress alarm"
    async with rig.db.read() as conn:
        roles = dict((await conn.execute(sa.select(users.c.id, users.c.role))).all())
    staff_roles = {Role.COMMUNITY_STAFF}  # property managers never see a duress alarm
    for note in outcome.notifications:
        assert note.silent, note
        assert set(note.recipients.roles) <= staff_roles, note
        assert {Role(roles[u]) for u in note.recipients.user_ids} <= staff_roles | {Role.ADMIN}
        assert note.contacts == ()  # no family member is phoned about a duress code
    opened = [n for n in outcome.notifications if n.kind == "alert.opened"]
    assert opened and Role.COMMUNITY_STAFF in opened[0].recipients.roles


# ---------------------------------------------------------------------------
# 10. Fire risk at a charging pile


async def _ids(db: Database, *usernames: str) -> set[int]:
    return {await user_id_of(db, name) for name in usernames}


@pytest.mark.parametrize(
    ("local_hour", "primary"), [(10, "vol.li"), (22, "vol.chen"), (3, "vol.chen")]
)
async def test_a_pile_over_temperature_reaches_managers_and_everyone_on_duty(
    rig: Rig, local_hour: int, primary: str
) -> None:
    rig.at(hours=local_hour - 10)  # T0 is 10:00 local
    outcome = await rig.send(
        rig.device(EBIKE_GRID1, DeviceFamily.CHARGER, "charger.overtemperature", temperature_c=92)
    )
    (alert_id,) = outcome.alerts_opened
    (note,) = [n for n in outcome.notifications if n.kind == "alert.opened"]
    assert note.alert_id == alert_id and note.severity == "critical" and not note.silent
    assert set(note.recipients.user_ids) == await _ids(rig.db, primary, "vol.zhao", "staff")
    assert len(note.recipients.user_ids) == 3
    assert Role.PROPERTY_MANAGER in note.recipients.roles
    assert note.recipients.community_id == await rig.community_id()
    assert note.title.startswith("火灾隐患：") and note.titles["zh-CN"] == note.title
    assert note.titles["en"].startswith("FIRE RISK")
    (ticket,) = await rig.tickets_of(alert_id)
    assert ticket.category == "fire_safety" and ticket.priority == "urgent"


async def test_smoke_at_a_pile_in_grid_two_reaches_that_grids_duty(rig: Rig) -> None:
    outcome = await rig.send(rig.device(EBIKE_GRID2, DeviceFamily.CHARGER, "charger.smoke"))
    (note,) = [n for n in outcome.notifications if n.kind == "alert.opened"]
    assert set(note.recipients.user_ids) == await _ids(rig.db, "vol.wang", "vol.zhao", "staff")
    assert Role.PROPERTY_MANAGER in note.recipients.roles


# ---------------------------------------------------------------------------
# 11. A due timer fires exactly once, however many hubs tick


class GatedDatabase(Database):
    """A real database handle whose first read waits for the other handle's (a barrier).

    Two schedulers on two such handles (two hub processes) then both have read
    the same due timer before either of them claims it: the race the claim must
    win exactly once.
    """

    def __init__(self, url: str, barrier: asyncio.Barrier) -> None:
        opened = Database.open(url)
        super().__init__(opened.engine, opened.write_engine)
        self._barrier: asyncio.Barrier | None = barrier

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with super().read() as conn:
            yield conn
        barrier, self._barrier = self._barrier, None
        if barrier is not None:  # the first read only: the scheduler's look for due timers
            await barrier.wait()


async def test_two_schedulers_fire_a_due_timer_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}"
    seeded = await open_seeded_db(tmp_path)
    clock = FakeClock(T0)
    setup = Rig(seeded, clock)
    await setup.send(setup.heart_rate(ZHOU, 140))
    await seeded.close()

    barrier = asyncio.Barrier(2)
    first, second = GatedDatabase(url, barrier), GatedDatabase(url, barrier)
    try:
        a = Scheduler(first, lambda _: None, kinds=timer_kinds(), clock=clock, name="hub-a")
        b = Scheduler(second, lambda _: None, kinds=timer_kinds(), clock=clock, name="hub-b")
        await a.sweep()
        await b.sweep()
        clock.at = T0 + timedelta(minutes=10)
        fired = await asyncio.wait_for(asyncio.gather(a.tick(), b.tick()), 30)
        assert sorted(fired) == [0, 1]
        assert a.stats.failed == b.stats.failed == 0
        assert a.stats.skipped + b.stats.skipped == 1  # the loser saw the timer and lost the claim

        rig = Rig(first, clock)
        (alert,) = await rig.alerts("wristband.heart_rate_high")
        assert alert.event_count == 1  # not raised twice (a second raise would attach)
        assert len(await rig.tickets_of(alert.id)) == 1
        timer = await rig.timer(f"cond:heart_rate_high:watch:{ZHOU}")
        assert timer.fired_by == ("hub-a" if fired[0] else "hub-b")
    finally:
        await first.close()
        await second.close()


# ---------------------------------------------------------------------------
# The stored document is what the engine runs


async def _community(conn: AsyncConnection) -> int:
    return int((await conn.execute(sa.select(communities.c.id))).scalar_one())


async def _user(conn: AsyncConnection, username: str) -> int:
    return int(
        (await conn.execute(sa.select(users.c.id).where(users.c.username == username))).scalar_one()
    )


async def _store(db: Database, doc: dict[str, Any], version: int) -> None:
    async with db.write() as conn:
        stored = await replace_rules(
            conn,
            await _community(conn),
            RulesDocument.model_validate(doc),
            expected_version=version - 1,
            user_id=await _user(conn, "staff"),
            now=T0,
        )
    assert stored == version


async def test_a_stored_document_replaces_the_defaults_for_the_engine(rig: Rig) -> None:
    doc = _defaults()
    _rule(doc, "heart_rate_high")["above"] = 110
    await _store(rig.db, doc, 1)
    await rig.send(rig.heart_rate(ZHOU, 115))
    await rig.tick(minutes=10)
    assert len(await rig.active("wristband.heart_rate_high")) == 1


async def test_documents_of_two_databases_are_never_mixed_up(tmp_path: Path) -> None:
    """Two stores (two test databases, or two tenants of one process) each at version 1."""
    dbs = [await open_seeded_db(tmp_path / name) for name in ("one", "two")]
    try:
        for db, above in zip(dbs, (110, 150), strict=True):
            doc = _defaults()
            _rule(doc, "heart_rate_high")["above"] = above
            await _store(db, doc, 1)
        for db, above in zip(dbs, (110, 150), strict=True):
            async with db.read() as conn:
                running = await rules_for(conn, await _community(conn))
            rule = running.rule("heart_rate_high")
            assert rule is not None and getattr(rule, "above", None) == above
    finally:
        for db in dbs:
            await db.close()


# ---------------------------------------------------------------------------
# Titles: a bad template never stops an alarm


async def _store_unchecked(db: Database, doc: dict[str, Any]) -> None:
    """Written as it is, as a document stored before its titles were checked could be."""
    async with db.write() as conn:
        await conn.execute(
            community_rules.insert().values(
                community_id=await _community(conn),
                document=doc,
                version=1,
                updated_at=T0,
                updated_by=await _user(conn, "staff"),
            )
        )


async def test_a_bad_title_stored_before_titles_were_checked_still_opens_alert_and_ticket(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    doc = _defaults()
    _rule(doc, "fall")["title"] = "Fall {who"  # str.format raised ValueError on it
    _rule(doc, "sos")["title"] = "SOS {who:>99999}"  # and padded this to 99999 characters
    _rule(doc, "heart_rate_high")["title"] = "High {value!r:{who}}"
    await _store_unchecked(rig.db, doc)

    for kind, rule_id in (("wristband.fall", "fall"), ("wristband.sos", "sos")):
        outcome = await rig.send(rig.watch(ZHOU, kind))
        assert len(outcome.alerts_opened) == 1 and len(outcome.tickets_opened) == 1
        (alert,) = await rig.alerts(kind)
        # The default template's title in each language: what, who and where.
        assert alert.summary.startswith(f"{what(kind, 'zh-CN')}：周国强")
        assert alert.summary.endswith("，朝阳花园社区 · 2号楼 · 1单元 · 202室")
        assert alert.titles["en"].startswith(f"{what(kind, 'en')}: 周国强")
        assert alert.titles["en"].endswith(" at 朝阳花园社区2号楼1单元202室")
        (ticket,) = await rig.tickets_of(alert.id)
        assert ticket.title == alert.summary and ticket.titles == alert.titles
        assert f"rule {rule_id!r}: bad title template" in caplog.text

    # The timer path too: the scheduler's handler raises nothing and the alarm is raised.
    await rig.send(rig.heart_rate(ZHOU, 130))
    await rig.tick(minutes=10)
    (alert,) = await rig.active("wristband.heart_rate_high")
    assert "周国强" in alert.summary and len(await rig.tickets_of(alert.id)) == 1


async def test_a_rendered_title_is_clipped_to_its_bound(rig: Rig) -> None:
    doc = _defaults()
    _rule(doc, "sos")["title"] = "{who} {where} " * 14  # each under 200, rendered far over
    await _store(rig.db, doc, 1)
    outcome = await rig.send(rig.watch(ZHOU, "wristband.sos"))
    (alert,) = await rig.alerts("wristband.sos")
    (ticket,) = await rig.tickets_of(alert.id)
    assert len(alert.summary) == TITLE_MAX and alert.summary.startswith("周国强 ")
    assert ticket.title == alert.summary
    assert {n.title for n in outcome.notifications} == {alert.summary}
