"""The pages' catalog (domain ``pages``) is complete and up to date.

Every string the page templates and scripts mark is in both languages' pages.po (so
``scripts/i18n`` was run after the last change), every one has its Chinese, and a
message's placeholders are the same in each language: a page fills them by name.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from hub.i18n.catalogs import catalog, page_catalog
from hub.i18n.locales import SUPPORTED

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _extractor() -> ModuleType:
    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _texts(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, (tuple, list)) else [str(value or "")]


def test_every_marked_string_of_the_pages_is_in_the_catalogs() -> None:
    marked = {(m.context, m.id) for m in _extractor().extract("pages") if m.id}
    assert len(marked) > 100  # the extractor found the templates and the scripts
    for tag in SUPPORTED:
        stored = {(m.context, m.id) for m in catalog(tag, "pages") if m.id}
        assert marked - stored == set(), f"run scripts/i18n: new strings missing in {tag}"


@pytest.mark.parametrize("tag", SUPPORTED)
def test_every_page_message_is_translated_with_its_placeholders(tag: str) -> None:
    for message in catalog(tag, "pages"):
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        ids = _texts(message.id)
        strings = _texts(message.string)
        assert all(strings), f"{tag}: {message.id!r} has no translation"
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) == wanted, f"{tag}: {message.id!r} → {text!r}"


def test_the_chinese_page_catalog_uses_the_staff_words() -> None:
    words = page_catalog("zh-CN")
    assert words["action\x04Dispatch"] == "派单"
    assert words["action\x04Accept"] == "接单"
    assert words["action\x04Return"] == "退回"
    assert words["action\x04Close"] == "结单"
    assert words["Log out"] == "退出登录"
    assert words["%(n)s alert"] == {"other": "%(n)s条报警"}
