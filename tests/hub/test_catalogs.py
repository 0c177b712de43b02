"""The message catalogs are complete: every marked string is in every language's .po
file, translated, not fuzzy, with the same placeholders as its message id.

A new string a person reads, marked but not yet run through ``scripts/i18n`` or not yet
translated, fails here: the page would otherwise show English (or a placeholder the
translation lost would raise when filled).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from hub.i18n.catalogs import DOMAINS, Domain, po_path
from hub.i18n.locales import SUPPORTED, babel_name

ROOT = Path(__file__).resolve().parents[2]
# %(name)s with gettext's flags, width and precision: %(mean).1f, %(n)d, %(s)s.
PERCENT = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrs]")
# {name} in rule-title strings (hub.policy.titles); {{ and }} are literal braces.
BRACES = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")

CASES = [(domain, tag) for domain in DOMAINS for tag in SUPPORTED]


def _read(domain: Domain, tag: str) -> Catalog:
    with po_path(tag, domain).open("rb") as fp:
        return read_po(fp, locale=babel_name(tag), domain=domain)


def _messages(catalog: Catalog) -> Iterator[Message]:
    return (m for m in catalog if m.id)  # the header has an empty id


def _ids(message: Message) -> tuple[str, ...]:
    found = message.id if isinstance(message.id, tuple | list) else (message.id,)
    return tuple(str(i) for i in found)


def _strings(message: Message) -> tuple[str, ...]:
    found = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return tuple(str(s) if s else "" for s in found)


def _names(pattern: re.Pattern[str], texts: tuple[str, ...]) -> set[str]:
    return {name for text in texts for name in pattern.findall(text)}


def _label(message: Message) -> str:
    return f"{message.context + ' | ' if message.context else ''}{_ids(message)[0]!r}"


@pytest.mark.parametrize(("domain", "tag"), CASES)
def test_every_message_is_translated_and_none_is_fuzzy(domain: Domain, tag: str) -> None:
    catalog = _read(domain, tag)
    untranslated = [_label(m) for m in _messages(catalog) if not all(_strings(m))]
    fuzzy = [_label(m) for m in _messages(catalog) if m.fuzzy]
    assert untranslated == []
    assert fuzzy == []


@pytest.mark.parametrize(("domain", "tag"), CASES)
def test_a_translation_keeps_its_message_ids_placeholders(domain: Domain, tag: str) -> None:
    wrong = []
    for message in _messages(catalog := _read(domain, tag)):
        for pattern in (PERCENT, BRACES):
            # A plural's forms may each leave out the count the other says (one: "an
            # alert"), but together they name what the ids name, and no form adds one.
            wanted = _names(pattern, _ids(message))
            forms = _strings(message)
            said = _names(pattern, forms)
            extra = {n for form in forms for n in pattern.findall(form)} - wanted
            if said != wanted or extra:
                wrong.append((_label(message), sorted(wanted), sorted(said)))
    assert wrong == [], catalog.locale


@pytest.mark.parametrize(("domain", "tag"), CASES)
def test_plural_messages_have_every_form_of_their_language(domain: Domain, tag: str) -> None:
    catalog = _read(domain, tag)
    wrong = [
        (_label(m), len(_strings(m)))
        for m in _messages(catalog)
        if m.pluralizable and len(_strings(m)) != catalog.num_plurals
    ]
    assert wrong == []
    assert catalog.num_plurals == (1 if tag.startswith("zh") else 2)


def _extraction() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chub_i18n_script", ROOT / "scripts/i18n.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("domain", "tag"), CASES)
def test_every_marked_string_is_in_the_catalog(domain: Domain, tag: str) -> None:
    """What scripts/i18n would extract now is already in the .po file: a string added
    without running it (and translating) fails here, not on a person's screen."""
    extracted = _extraction().extract(domain)
    catalog = _read(domain, tag)
    missing = [
        _label(m) for m in _messages(extracted) if catalog.get(m.id, context=m.context) is None
    ]
    assert missing == []


def test_the_checks_catch_what_they_are_for() -> None:
    """The placeholder check sees a lost and an invented placeholder, and braces too."""
    assert _names(PERCENT, ("%(mean).1f / 5", "%(n)s of %(d)s")) == {"mean", "n", "d"}
    assert _names(PERCENT, ("100% sure",)) == set()
    assert _names(BRACES, ("{what}: {who} at {{where}}",)) == {"what", "who"}
