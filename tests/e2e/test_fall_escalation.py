"""Issue 5 end to end on a real broker: a fall frame at the edge → alert → the volunteer on
duty hears it live → no acceptance → the backup hears it → accepts → resolves → staff
verify and close → the backup's points.

The community's rules are edited through the API (a 5-second acknowledgement
timeout on the first step) so the escalation happens within the test.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from community_hub_tools.sim.watch import SimulatedWatch, send_once
from tests.support.brokers import MosquittoProcess
from tests.support.hubdata import user_id_of, volunteer_on_duty_for
from tests.support.sse import open_stream
from tests.support.stack import running_stack, stack_settings

pytestmark = pytest.mark.e2e

SUN = "8800000101"  # grid 1; vol.zhao is the backup there around the clock
BACKUP = "vol.zhao"


async def test_a_fall_escalates_to_the_backup_who_closes_it_and_earns_points(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack, httpx.AsyncClient(timeout=10) as client:
        api = stack.api_url
        staff = await stack.login(client, "staff")
        community = (await client.get(f"{api}/api/v1/auth/me", headers=staff)).json()[
            "community_id"
        ]
        current = (
            await client.get(f"{api}/api/v1/communities/{community}/rules", headers=staff)
        ).json()
        document = current["document"]
        document["escalation_chains"]["elderly_urgent"] = [
            {"notify": "primary", "ack_timeout_s": 5},
            {"notify": "backup", "ack_timeout_s": 600},
        ]
        stored = await client.put(
            f"{api}/api/v1/communities/{community}/rules",
            headers=staff,
            json={"expected_version": current["version"], "document": document},
        )
        assert stored.status_code == 200, stored.text

        primary = await volunteer_on_duty_for(stack.hub.db, SUN, datetime.now(UTC))
        assert primary != BACKUP
        primary_headers = await stack.login(client, primary)
        backup_headers = await stack.login(client, BACKUP)
        primary_live = await open_stream(client, api, primary_headers["Authorization"][7:])
        backup_live = await open_stream(client, api, backup_headers["Authorization"][7:])

        await send_once(
            "127.0.0.1",
            stack.edge_settings.watch_port,
            SimulatedWatch(SUN).alarm("fall"),
            expect_reply=True,
        )
        first = await primary_live.next_notification("ticket.assigned", timeout_s=10)
        assert first["device_kind"] == "wristband.fall"
        ticket_id = first["ticket_id"]

        # The primary does nothing; after 5 s the backup is given the ticket.
        second = await backup_live.next_notification("ticket.assigned", timeout_s=20)
        # Why, in the backup's language (the community's) and in every other for machines.
        assert second["ticket_id"] == ticket_id and second["body"] == "5秒钟内无人接单"
        assert second["bodies"]["en"] == "no acceptance within 5 seconds"
        taken = await client.post(
            f"{api}/api/v1/tickets/{ticket_id}/transitions",
            headers=primary_headers,
            json={"action": "accept"},
        )
        assert taken.status_code in (403, 404), "the primary no longer holds the ticket"

        for action, body in (
            ("accept", {}),
            ("start", {"note": "on site: she fell in the kitchen, conscious"}),
            (
                "resolve",
                {"note": "helped her up, daughter called, no injury", "disposition": "genuine"},
            ),
        ):
            step = await client.post(
                f"{api}/api/v1/tickets/{ticket_id}/transitions",
                headers=backup_headers,
                json={"action": action, **body},
            )
            assert step.status_code == 200, step.text
        for action in ("verify", "close"):
            step = await client.post(
                f"{api}/api/v1/tickets/{ticket_id}/transitions",
                headers=staff,
                json={"action": action},
            )
            assert step.status_code == 200, step.text

        ticket = (await client.get(f"{api}/api/v1/tickets/{ticket_id}", headers=staff)).json()
        assert ticket["status"] == "closed"
        actions = [entry["action"] for entry in ticket["log"]]
        assert actions.index("dispatched") < actions.index("escalated") < actions.index("accept")
        alert = (
            await client.get(f"{api}/api/v1/alerts/{ticket['alert_id']}", headers=staff)
        ).json()
        assert alert["status"] == "acknowledged"

        points = (await client.get(f"{api}/api/v1/points/me", headers=backup_headers)).json()
        assert points["balance"] == document["categories"]["elderly_fall"]["points"]
        [entry] = points["history"]["items"]
        assert entry["ticket_id"] == ticket_id and entry["reason"] == "closure"
        nothing = (await client.get(f"{api}/api/v1/points/me", headers=primary_headers)).json()
        assert nothing["balance"] == 0
        assert await user_id_of(stack.hub.db, BACKUP) == ticket["assignee_id"]
