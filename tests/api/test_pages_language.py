"""The people's pages in their reader's language, without a browser.

A page answers in the language ``?lang=`` names, else the ``chub_lang`` cookie's, else
the browser's (Accept-Language), else the first community's (zh-CN in the demo); it
carries that language, the community's zone and the scripts' catalog as a JSON data
block. The browser tests (tests/browser/test_languages.py) run the scripts.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

PAGES = ("/login", "/inbox", "/dashboard", "/charging", "/docs")
CONFIG = re.compile(r'<script type="application/json" id="chub-config">(.*?)</script>', re.S)


def config_of(html: str) -> dict[str, Any]:
    found = CONFIG.search(html)
    assert found, "the page carries no config block"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def lang_of(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', html)
    assert found, "the page names no language"
    return found.group(1)


@pytest.mark.parametrize("path", PAGES)
async def test_a_page_speaks_the_community_language_by_default(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-language"] == "zh-CN"
    html = response.text
    assert lang_of(html) == "zh-CN"
    config = config_of(html)
    assert config["language"] == "zh-CN"
    assert config["timezone"] == "Asia/Shanghai"
    # The scripts' words come along, in Chinese; the page's own words are Chinese too.
    assert config["catalog"]["Log out"] == "退出登录"
    assert config["catalog"]["day\u0004Today %(time)s"] == "今天 %(time)s"
    assert "社区" in re.search(r"<title>(.*?)</title>", html, re.S).group(1)  # type: ignore[union-attr]
    assert '<button type="button" class="secondary" data-lang="en" lang="en"' in html


@pytest.mark.parametrize(
    ("headers", "cookies", "query", "expected"),
    [
        ({"Accept-Language": "en-US,en;q=0.9"}, {}, "", "en"),
        ({"Accept-Language": "zh-TW,en;q=0.5"}, {}, "", "en"),  # Traditional is not offered
        ({"Accept-Language": "fr-FR"}, {}, "", "zh-CN"),  # the community's
        ({"Accept-Language": "zh-CN"}, {"chub_lang": "en"}, "", "en"),  # the switch's cookie
        ({"Accept-Language": "en"}, {"chub_lang": "zh-CN"}, "", "zh-CN"),
        ({"Accept-Language": "zh-CN"}, {"chub_lang": "zh-CN"}, "?lang=en", "en"),
        ({"Accept-Language": "en"}, {"chub_lang": "klingon"}, "", "en"),  # a bad cookie: ignored
    ],
    ids=["browser-en", "browser-zh-TW", "browser-fr", "cookie-en", "cookie-zh", "query", "bad"],
)
async def test_the_page_language_follows_query_cookie_browser(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    cookies: dict[str, str],
    query: str,
    expected: str,
) -> None:
    client.cookies.clear()
    for name, value in cookies.items():
        client.cookies.set(name, value)
    html = (await client.get(f"/login{query}", headers=headers)).text
    client.cookies.clear()
    assert lang_of(html) == expected
    config = config_of(html)
    assert config["language"] == expected
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)  # type: ignore[union-attr]
    if expected == "en":
        assert title == "Log in · Community Hub"
        assert config["catalog"]["Log out"] == "Log out"
        assert config["catalog"]["%(n)s device"] == {
            "one": "%(n)s device",
            "other": "%(n)s devices",
        }
    else:
        assert "登录" in title
        assert config["catalog"]["%(n)s device"] == {"other": "%(n)s 台设备"}


async def test_the_config_block_cannot_be_closed_by_its_content(client: httpx.AsyncClient) -> None:
    # The catalog goes in as JSON with <, > and & escaped: no text in it ends the block.
    html = (await client.get("/dashboard")).text
    block = CONFIG.search(html)
    assert block is not None and "<" not in block.group(1) and ">" not in block.group(1)
