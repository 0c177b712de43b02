"""Extract the marked strings of both domains and merge them into every language's .po.

``messages``: Python (``N_``, ``NP_``, ``gettext``, ``ngettext``, ``pgettext`` and the
module-qualified ``i18n.*`` calls) and the server-rendered templates. ``pages``: the
people's page templates and their scripts (``_``, ``ngettext``, ``pgettext`` in JS).
English is the source language: its msgstr is filled from the msgid where empty, so
the English catalog is complete by construction and can still be edited.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.i18n.catalogs import DOMAINS, po_path  # noqa: E402
from hub.i18n.locales import SUPPORTED, babel_name  # noqa: E402

KEYWORDS = {
    "_": None,
    "N_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
}
# Python callers pass the language first: gettext(tag, message), pgettext(tag, ctx, msg).
PY_KEYWORDS = {
    "N_": None,
    "NP_": ((1, "c"), 2),
    "gettext": (2,),
    "ngettext": (2, 3),
    "pgettext": ((2, "c"), 3),
}
TEMPLATE_OPTIONS = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}

SOURCES: dict[str, list[tuple[str, list[tuple[str, str]], dict[str, object]]]] = {
    "messages": [
        ("hub", [("**.py", "python")], PY_KEYWORDS),
        ("api", [("**.py", "python")], PY_KEYWORDS),
        (
            "hub/pages/templates",
            [
                ("reports/**.html", "jinja2"),
                ("report_form/**.html", "jinja2"),
                ("base.html", "jinja2"),
            ],
            KEYWORDS,
        ),
    ],
    "pages": [
        ("hub/pages/templates", [("app/**.html", "jinja2")], KEYWORDS),
        ("api/static", [("**.js", "javascript")], KEYWORDS),
    ],
}


def extract(domain: str) -> Catalog:
    template = Catalog(domain=domain, project="Community Hub", msgid_bugs_address=None)
    for folder, method_map, keywords in SOURCES[domain]:
        options = {
            pattern: TEMPLATE_OPTIONS for pattern, method in method_map if method == "jinja2"
        }
        found = extract_from_dir(
            ROOT / folder,
            method_map,
            options_map=options,
            keywords=keywords,  # type: ignore[arg-type]
            comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True,
        )
        for filename, lineno, message, comments, context in found:
            template.add(
                message,
                None,
                [(f"{folder}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return template


def update(domain: str, template: Catalog) -> None:
    for tag in SUPPORTED:
        path = po_path(tag, domain)  # type: ignore[arg-type]
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as fp:
                catalog = read_po(fp, locale=babel_name(tag), domain=domain)
        else:
            catalog = Catalog(locale=babel_name(tag), domain=domain, project="Community Hub")
        created = catalog.creation_date
        catalog.update(template, no_fuzzy_matching=True)
        # Keep the header's date and leave line numbers out: a re-extraction then
        # changes a .po only where a message changed, and parallel work merges.
        catalog.creation_date = created
        if tag == "en":
            for message in catalog:
                if message.id and not _translated(message.string):
                    message.string = message.id
        catalog.obsolete.clear()
        with path.open("wb") as fp:
            write_po(
                fp,
                catalog,
                width=100,
                sort_output=False,
                include_previous=False,
                include_lineno=False,
            )
        untranslated = [m.id for m in catalog if m.id and not _translated(m.string)]
        print(
            f"{path.relative_to(ROOT)}: {len(catalog)} messages, {len(untranslated)} to translate"
        )


def _translated(string: object) -> bool:
    if isinstance(string, tuple):
        return all(string)
    return bool(string)


def main() -> int:
    for domain in DOMAINS:
        update(domain, extract(domain))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
