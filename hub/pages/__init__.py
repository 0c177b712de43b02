"""The server-rendered pages: Jinja2 templates over one base template and one stylesheet.

The reports (``hub.reports.render``) and the residents' QR report form
(``api.routes.report_form``) are rendered here; the people's script pages are
files in api/static. Every page links the one stylesheet, api/static/app.css,
by a path relative to the page (so the hub works wherever it is mounted), or,
written to a file by the command line, carries that same stylesheet inline.

Autoescape is on: a value from the database cannot become markup. The words a
person reads are in the templates, wrapped in ``_()`` (Jinja's i18n extension,
with null translations until the message catalogs come), or, for the few made
in Python, marked with :func:`hub.pages.text.N_`.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

_ENV = Environment(
    loader=PackageLoader("hub.pages", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.install_null_translations(newstyle=True)  # type: ignore[attr-defined]

LANG = "en"


def render(
    template: str, *, static_root: str = "/", stylesheet: str | None = None, **context: Any
) -> str:
    """A page from its template. ``static_root`` leads from the page's address to the
    app's root (``../`` for ``/report/T``); ``stylesheet``, the stylesheet's text, is put
    in the page instead of linked, for a page saved as a file."""
    page = _ENV.get_template(template).render(
        lang=LANG,
        static_root=static_root,
        inline_stylesheet=Markup(stylesheet) if stylesheet is not None else None,
        **context,
    )
    return page if page.endswith("\n") else page + "\n"
