"""The server-rendered pages: Jinja2 templates over one base template and one stylesheet.

The reports (``hub.reports.render``) and the residents' QR report form
(``api.routes.report_form``) are rendered here, and so are the people's pages
(``app/``, ``api.routes.pages``), whose scripts are in api/static. Every page links
the one stylesheet, api/static/app.css, by a path relative to the page (so the hub
works wherever it is mounted), or, written to a file by the command line, carries
that same stylesheet inline.

Autoescape is on: a value from the database cannot become markup. The words a
person reads are in the templates, wrapped in ``_()`` (Jinja's i18n extension,
with the message catalogs of hub.i18n), or, for the few made in Python, marked
with :func:`hub.i18n.catalogs.N_` and translated where they are shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from hub.i18n.catalogs import Domain, translations
from hub.i18n.locales import DEFAULT, SUPPORTED, supported

# Each language named in itself: a reader who cannot read the page can still find theirs.
_NAMES = {"zh-CN": "中文", "en": "English"}


@dataclass(frozen=True)
class LanguageLink:
    tag: str
    name: str
    href: str
    current: bool


def language_links(current: str, query: Mapping[str, str]) -> list[LanguageLink]:
    """The page's language switch: this same address (its other parameters kept) in each
    language, by ``?lang=``."""
    kept = {k: v for k, v in query.items() if k != "lang"}
    return [
        LanguageLink(tag, _NAMES[tag], "?" + urlencode({**kept, "lang": tag}), tag == current)
        for tag in SUPPORTED
    ]


@cache
def _environment(language: str, domain: Domain) -> Environment:
    """One environment per language and catalog domain: gettext is bound at install."""
    env = Environment(
        loader=PackageLoader("hub.pages", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(  # type: ignore[attr-defined]
        translations(language, domain), newstyle=True
    )
    return env


def render(
    template: str,
    *,
    language: str = DEFAULT,
    domain: Domain = "messages",
    static_root: str = "/",
    stylesheet: str | None = None,
    language_links: Sequence[LanguageLink] = (),
    **context: Any,
) -> str:
    """A page from its template, in ``language``. ``static_root`` leads from the page's
    address to the app's root (``../`` for ``/report/T``); ``stylesheet``, the
    stylesheet's text, is put in the page instead of linked, for a page saved as a file.
    The people's pages (``app/``) take their words from the ``pages`` catalog."""
    language = supported(language) or DEFAULT
    page = (
        _environment(language, domain)
        .get_template(template)
        .render(
            lang=language,
            static_root=static_root,
            inline_stylesheet=Markup(stylesheet) if stylesheet is not None else None,
            language_links=language_links,
            **context,
        )
    )
    return page if page.endswith("\n") else page + "\n"
