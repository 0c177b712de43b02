"""GET /api/v1/reports/daily and /weekly: HTML or JSON, for the right people only."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from hub.storage.db import Database
from tests.api.conftest import Login
from tests.hub.test_reports import WEEK, Scenario, copy_database, prepare_template

DAY = "2026-11-02"  # the Monday of WEEK


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Scenario]:
    directory = tmp_path_factory.mktemp("reports-api-template")
    return directory, prepare_template(directory)


@pytest.fixture
async def api_db(template: tuple[Path, Scenario], tmp_path: Path) -> AsyncIterator[Database]:
    """The seeded demo community with the report scenario (overrides tests/api/conftest.py)."""
    database = Database.open(copy_database(template[0], tmp_path))
    yield database
    await database.close()


@pytest.fixture
def scenario(template: tuple[Path, Scenario]) -> Scenario:
    return template[1]


def bar_count(svg: str) -> int:
    return len(re.findall(r'<rect class="bar"', svg))


def svgs(page: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", page, flags=re.S)


async def test_staff_read_their_daily_digest_as_a_page(
    client: httpx.AsyncClient, login: Login, scenario: Scenario
) -> None:
    response = await client.get(
        "/api/v1/reports/daily",
        params={"community_id": scenario.community_id, "date": DAY},
        headers=await login("staff"),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    (chart,) = svgs(page)
    assert bar_count(chart) == 5
    # The community's language (Chinese), dates as it writes them.
    assert '<html lang="zh-CN"' in page and "<title>日报 2026年11月2日 · " in page
    assert "2026年11月2日 (星期一)" in page and "每小时新增告警（按类型）" in page


async def test_a_reader_who_chose_english_gets_the_digest_in_english(
    client: httpx.AsyncClient, login: Login, scenario: Scenario
) -> None:
    headers = await login("staff")
    chose = await client.patch("/api/v1/auth/me", headers=headers, json={"locale": "en"})
    assert chose.status_code == 200, chose.text
    response = await client.get(
        "/api/v1/reports/daily",
        params={"community_id": scenario.community_id, "date": DAY},
        headers=headers | {"Accept-Language": "zh-CN"},  # the profile's choice wins
    )
    page = response.text
    assert '<html lang="en"' in page and "<title>Daily digest Nov 2, 2026 · " in page
    assert "Nov 2, 2026 (Monday)" in page and "Alerts opened per hour, by kind" in page


async def test_the_daily_digest_as_json(
    client: httpx.AsyncClient, login: Login, scenario: Scenario
) -> None:
    response = await client.get(
        "/api/v1/reports/daily",
        params={"community_id": scenario.community_id, "date": DAY, "format": "json"},
        headers=await login("staff"),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    report = response.json()
    assert report["report"] == "daily_digest"
    assert report["window"]["label"] == DAY and report["window"]["timezone"] == "Asia/Shanghai"
    assert report["window"]["start"].startswith("2026-11-01T16:00:00")
    assert (report["alerts_total"], report["alerts_silent"]) == (5, 1)
    assert (report["tickets_registered"], report["tickets_closed"], report["tickets_open"]) == (
        4,
        2,
        3,
    )
    t = scenario.tickets
    assert [o["id"] for o in report["overdue"]] == [t["T3"], t["T4"], t["T2"]]
    assert report["overdue"][0]["confidential"] is True


async def test_a_property_managers_digest_leaves_out_elderly_care_and_duress(
    client: httpx.AsyncClient, login: Login, scenario: Scenario
) -> None:
    params = {"community_id": scenario.community_id, "format": "json"}
    manager = await login("manager")
    daily = await client.get(
        "/api/v1/reports/daily", params={**params, "date": DAY}, headers=manager
    )
    assert daily.status_code == 200, daily.text
    report = daily.json()
    # Of Monday's SOS, SOS, fall, low battery and duress alarms, only the low battery is
    # the property's; every ticket of the scenario is elderly care.
    assert (report["alerts_total"], report["alerts_silent"]) == (1, 0)
    assert (report["tickets_registered"], report["tickets_open"], report["overdue"]) == (0, 0, [])
    weekly = await client.get(
        "/api/v1/reports/weekly", params={**params, "week": WEEK}, headers=manager
    )
    assert [d["alerts_total"] for d in weekly.json()["days"]] == [1, 0, 1, 0, 0, 0, 0]


async def test_the_weekly_bulletin_as_a_page_and_as_json(
    client: httpx.AsyncClient, login: Login, scenario: Scenario
) -> None:
    headers = await login("staff")
    params = {"community_id": str(scenario.community_id), "week": WEEK}
    page = await client.get("/api/v1/reports/weekly", params=params, headers=headers)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    alerts_chart, tickets_chart = svgs(page.text)
    assert bar_count(alerts_chart) == 7 and bar_count(tickets_chart) == 5
    data = await client.get(
        "/api/v1/reports/weekly", params={**params, "format": "json"}, headers=headers
    )
    report = data.json()
    assert report["report"] == "weekly_bulletin" and report["window"]["label"] == WEEK
    assert [d["alerts_total"] for d in report["days"]] == [5, 1, 1, 0, 0, 0, 1]
    assert report["closure_rate"] == {"numerator": 3, "denominator": 5, "rate": 0.6}
    assert report["on_time_rate"]["rate"] == 0.25
    assert report["rating"] == {"count": 2, "mean": 4.0}
    assert [p["points"] for p in report["top_points"]] == [22, 20, 5]


async def test_staff_may_leave_out_their_community_and_get_today_so_far(
    client: httpx.AsyncClient, login: Login, scenario: Scenario
) -> None:
    for path in ("/api/v1/reports/daily", "/api/v1/reports/weekly"):
        response = await client.get(path, params={"format": "json"}, headers=await login("staff"))
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["community"]["id"] == scenario.community_id
        assert report["window"]["partial"] is True


async def test_admins_read_any_community_but_must_name_it(
    client: httpx.AsyncClient, login: Login, scenario: Scenario
) -> None:
    headers = await login("admin")
    for community in (scenario.community_id, scenario.other_community_id):
        response = await client.get(
            "/api/v1/reports/weekly",
            params={"community_id": community, "week": WEEK, "format": "json"},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["community"]["id"] == community
    missing = await client.get("/api/v1/reports/daily", params={"date": DAY}, headers=headers)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["query", "community_id"]
    assert "admins must say which community" in missing.json()["detail"][0]["msg"]
    unknown = await client.get(
        "/api/v1/reports/daily", params={"community_id": 999, "date": DAY}, headers=headers
    )
    assert unknown.status_code == 404 and unknown.json()["detail"] == "没有编号为 999 的社区"


async def test_staff_of_another_community_are_refused(
    client: httpx.AsyncClient, login: Login, scenario: Scenario
) -> None:
    ours = await client.get(
        "/api/v1/reports/daily",
        params={"community_id": scenario.other_community_id, "date": DAY},
        headers=await login("staff"),
    )
    own, other = scenario.community_id, scenario.other_community_id
    # The community's language (Chinese) unless the reader asks for another; the role in words.
    assert ours.status_code == 403
    assert ours.json()["detail"] == f"社区工作人员只能查看本社区（{own}），不能查看社区 {other}"
    english = await client.get(
        "/api/v1/reports/daily",
        params={"community_id": other, "date": DAY},
        headers={**await login("staff"), "Accept-Language": "en"},
    )
    assert english.json()["detail"] == (
        f"role community staff sees its own community only ({own}), not community {other}"
    )
    theirs = await client.get(
        "/api/v1/reports/weekly",
        params={"community_id": own, "week": WEEK},
        headers={**await login("staff.harbour"), "Accept-Language": "en"},
    )
    assert theirs.status_code == 403 and "own community" in theirs.json()["detail"]


@pytest.mark.parametrize("username", ["vol.li", "vol.zhao", "resident.sun"])
@pytest.mark.parametrize("path", ["/api/v1/reports/daily", "/api/v1/reports/weekly"])
async def test_volunteers_and_residents_are_refused(
    client: httpx.AsyncClient, login: Login, scenario: Scenario, username: str, path: str
) -> None:
    response = await client.get(
        path, params={"community_id": scenario.community_id}, headers=await login(username)
    )
    assert response.status_code == 403
    # Roles in words, in the reader's language: the community's (Chinese), or English asked.
    chinese, english = (
        ("居民", "resident") if username.startswith("resident") else ("志愿者", "volunteer")
    )
    assert response.json()["detail"] == (
        f"{chinese}无权执行此操作，需要以下角色之一：管理员、社区工作人员、物业经理"
    )
    asked = await client.get(
        path,
        params={"community_id": scenario.community_id},
        headers={**await login(username), "Accept-Language": "en-GB,en;q=0.8"},
    )
    assert asked.json()["detail"] == (
        f"role {english} may not do this; needs one of administrator, community staff, "
        "property manager"
    )


async def test_reports_need_a_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/reports/daily", params={"community_id": 1})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("path", "params", "field", "message"),
    [
        ("daily", {"date": "2026-13-01"}, "date", "not a calendar date"),
        ("daily", {"date": "2026-02-30"}, "date", "day is out of range for month"),
        ("daily", {"date": "yesterday"}, "date", "must look like YYYY-MM-DD"),
        ("daily", {"date": "2099-01-01"}, "date", "2099-01-01 has not begun yet"),
        ("weekly", {"week": "2026-47"}, "week", "ISO week like 2026-W47"),
        ("weekly", {"week": "2025-W53"}, "week", "2025 has ISO weeks W01 to W52"),
        ("weekly", {"week": "2099-W01"}, "week", "2099-W01 has not begun yet"),
        ("weekly", {"format": "pdf"}, "format", "'html' or 'json'"),
        ("daily", {"community_id": "0"}, "community_id", "greater than 0"),
        ("daily", {"community_id": "one"}, "community_id", "valid integer"),
    ],
)
async def test_bad_inputs_are_422_with_the_reason(
    client: httpx.AsyncClient,
    login: Login,
    path: str,
    params: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = await client.get(
        f"/api/v1/reports/{path}",
        params={"community_id": "1", **params},
        headers={**await login("staff"), "Accept-Language": "en"},
    )
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", field]
    assert message in error["msg"]


async def test_a_bad_week_is_said_in_the_reader_s_language(
    client: httpx.AsyncClient, login: Login
) -> None:
    response = await client.get(
        "/api/v1/reports/weekly",
        params={"community_id": "1", "week": "2025-W53"},
        headers=await login("staff"),  # no language asked: the community's, Chinese
    )
    (error,) = response.json()["detail"]
    assert error["msg"] == "2025 年的 ISO 周为 W01 至 W52，收到的是 W53"


async def test_the_reports_are_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for name in ("daily", "weekly"):
        operation = paths[f"/api/v1/reports/{name}"]["get"]
        content = operation["responses"]["200"]["content"]
        assert "text/html" in content
        assert content["application/json"]["schema"]["$ref"].endswith(
            "DailyDigest" if name == "daily" else "WeeklyBulletin"
        )
        assert {p["name"] for p in operation["parameters"]} >= {"community_id", "format"}
