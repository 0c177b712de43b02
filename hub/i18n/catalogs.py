"""The message catalogs: gettext .po files, read once per process.

Two domains, one .po file each per language under ``locales/<lang>/LC_MESSAGES/``:

- ``messages``: what Python and the server-rendered templates (reports, the QR
  report form) say: titles, statuses, event kinds, error reasons;
- ``pages``: the people's pages (login, inbox, dashboard, charging) and their
  scripts. A page gets its part as JSON (:func:`page_catalog`).

Message ids are the English text; placeholders are ``%(name)s``. The .po files are
read directly (no compiled .mo in the tree): a few hundred messages take
milliseconds. ``scripts/i18n`` extracts new strings and updates the files.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Literal, NamedTuple

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from hub.i18n.locales import SUPPORTED, babel_locale, babel_name, supported

Domain = Literal["messages", "pages"]
DOMAINS: tuple[Domain, ...] = ("messages", "pages")
LOCALES_DIR = Path(__file__).resolve().parent / "locales"


def po_path(tag: str, domain: Domain) -> Path:
    return LOCALES_DIR / babel_name(tag) / "LC_MESSAGES" / f"{domain}.po"


@cache
def catalog(tag: str, domain: Domain) -> Catalog:
    """The parsed .po file of a supported language and domain (an empty one if absent)."""
    path = po_path(tag, domain)
    if not path.exists():
        return Catalog(locale=babel_locale(tag), domain=domain)
    with path.open("rb") as fp:
        return read_po(fp, locale=babel_name(tag), domain=domain)


@cache
def translations(tag: str, domain: Domain = "messages") -> Translations:
    """gettext translations of ``tag`` (any tag; unsupported ones get the default's)."""
    tag = supported(tag) or SUPPORTED[0]
    buffer = io.BytesIO()
    write_mo(buffer, catalog(tag, domain), use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=domain)


def gettext(tag: str, message: str, /, **params: object) -> str:
    """``message`` in ``tag``'s language, with ``%(name)s`` placeholders filled."""
    text = translations(tag).gettext(message)
    return text % params if params else text


def ngettext(tag: str, singular: str, plural: str, n: int, /, **params: object) -> str:
    text: str = translations(tag).ngettext(singular, plural, n)
    return text % {"n": n, **params}


def pgettext(tag: str, context: str, message: str, /, **params: object) -> str:
    text = str(translations(tag).pgettext(context, message))
    return text % params if params else text


@cache
def N_(message: str) -> str:  # the usual name of gettext's no-op marker
    """Marks a string for the message catalog; it is translated where it is shown."""
    return message


class Label(NamedTuple):
    """A message bound to its context, kept to be said later in a reader's language."""

    context: str
    message: str


def NP_(context: str, message: str) -> Label:
    """Marks a context-bound message for the catalog (extracted like ``pgettext``)."""
    return Label(context, message)


def label(table: Mapping[str, Label], code: str, tag: str) -> str:
    """The words of ``code`` in ``tag``'s language from a table of marked labels; the
    code itself when the table has none (a community's own code is shown as written)."""
    found = table.get(code)
    return str(code) if found is None else pgettext(tag, found.context, found.message)


@cache
def page_catalog(tag: str) -> dict[str, str | dict[str, str]]:
    """The pages' messages of ``tag`` for their scripts: id → text, or for a plural
    message id → {CLDR plural category: text} (the scripts pick with Intl.PluralRules).
    A context-bound message's key is ``context\\u0004id``, as gettext writes it."""
    tag = supported(tag) or SUPPORTED[0]
    categories = _plural_categories(tag)
    out: dict[str, str | dict[str, str]] = {}
    for message in catalog(tag, "pages"):
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple):
            forms = message.string if isinstance(message.string, tuple) else ()
            if not all(forms):
                continue
            key = str(message.id[0])
            out[_key(message.context, key)] = dict(zip(categories, forms, strict=False))
        elif message.string:
            out[_key(message.context, str(message.id))] = str(message.string)
    return out


def _key(context: str | None, message_id: str) -> str:
    return f"{context}\x04{message_id}" if context else message_id


def _plural_categories(tag: str) -> tuple[str, ...]:
    # The gettext plural forms of our languages, in CLDR's names: Chinese has one form,
    # English two (n == 1, otherwise).
    return ("other",) if tag.startswith("zh") else ("one", "other")
