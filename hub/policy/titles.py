"""Alarm title templates: what a community may write, and how a title is made from one.

A rule's ``title`` is text with placeholders in braces, ``"Fall detected: {who} at
{where}"``, or one such text per language (``{"zh-CN": "跌倒报警：{who}，{where}",
"en": ...}``, hub.policy.document); each language's is checked and rendered alike.
A template may name only the fields its rule type is given (below), as plain
names: no format spec or conversion (``{who:>10}``, ``{who!r}``), no attribute or
index access (``{who.x}``, ``{who[0]}``), no positional fields (``{0}``, ``{}``),
balanced braces (``{{`` and ``}}`` are literal braces). That is
checked when a document is saved (hub.policy.document). str.format would have taken
all of it, raised on the next alarm for a lone brace, and padded ``{who:>99999}``
to 99999 characters.

:func:`render` does not use str.format: it substitutes plain names only and
clips the title to :data:`TITLE_MAX`, and raises :class:`TitleError` on anything
else (a template stored before these checks); the caller then falls back to a
safe title instead of failing the alarm.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from string import Formatter

from hub.i18n.catalogs import N_

TITLE_MAX = 200  # the tickets.title column; alert summaries and notifications share it

# Every rule's title may use these.
COMMON_FIELDS: dict[str, str] = {
    "what": "the alarm, as the event-kind vocabulary describes it",
    "who": "the resident the device belongs to (the device's name when it has none)",
    "where": "the household's address (“unknown location” when the device is unplaced)",
    "device": "the device's name",
}
# And each rule type its own.
TYPE_FIELDS: dict[str, dict[str, str]] = {
    "event": {},
    "threshold": {"value": "the reading beyond the limit"},
    "count": {"count": "how many events were counted in the window"},
    "held": {},
    "offline": {"reason": "why the edge reported the device unreachable"},
    "welfare": {"last_seen": "the last sign of life (the community's local time), or “never seen”"},
}

# A rule without a title of its own, and a rule whose stored template is bad, get these.
DEFAULT_TITLES: dict[str, str] = {
    "zh-CN": "{what}：{who}，{where}",
    "en": "{what}: {who} at {where}",
}
DEFAULT_TITLE = DEFAULT_TITLES["en"]
# A welfare alarm's ``{last_seen}`` for a resident never seen (marked for the catalog).
NEVER_SEEN = N_("never seen")

# Bidirectional overrides and isolates reorder what is shown (spoofing a title or a name).
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]+")


class TitleError(ValueError):
    pass


def text_problem(text: str) -> str | None:
    """Why ``text`` is no single line of plain text to show people (None: it is)."""
    if not text.strip():
        return "it is blank"
    for char in text:
        if char in _BIDI or unicodedata.category(char) == "Cc":
            return f"it holds the control character U+{ord(char):04X}"
    return None


def _pieces(template: str) -> list[tuple[str, str | None]]:
    """(literal text, field name or None) in order; TitleError on what is not allowed."""
    pieces: list[tuple[str, str | None]] = []
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as exc:
        raise TitleError(f"unbalanced brace ({exc}); write {{{{ or }}}} for a brace") from None
    for literal, name, spec, conversion in parsed:
        if name is None:
            pieces.append((literal, None))
            continue
        if conversion is not None:
            raise TitleError(f"{{{name}!{conversion}}}: no conversion is allowed")
        if spec:
            raise TitleError(f"{{{name}:{spec}}}: no format spec is allowed")
        if any(c in name for c in ".[]"):
            raise TitleError(f"{{{name}}}: no attribute or index access is allowed")
        pieces.append((literal, name))
    return pieces


def fields_for(rule_type: str) -> dict[str, str]:
    """The fields a title of ``rule_type`` may use, with what each holds."""
    return {**COMMON_FIELDS, **TYPE_FIELDS.get(rule_type, {})}


def check(template: str, allowed: Mapping[str, str]) -> str | None:
    """Why ``template`` is no valid title for a rule given ``allowed`` (None: it is)."""
    problem = text_problem(template)
    if problem is not None:
        return problem
    try:
        pieces = _pieces(template)
    except TitleError as exc:
        return str(exc)
    for _, name in pieces:
        if name is not None and name not in allowed:
            known = ", ".join(f"{{{f}}}" for f in allowed)
            return f"unknown field {{{name}}}; this rule's title may use {known}"
    return None


def clip(text: str, limit: int = TITLE_MAX) -> str:
    """One line of at most ``limit`` characters (control characters become spaces)."""
    text = _CONTROLS.sub(" ", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(template: str, fields: Mapping[str, str]) -> str:
    """The title, clipped to TITLE_MAX; TitleError if the template is not a valid one.

    A plain name not in ``fields`` stays visible as it is written (a template stored
    before names were checked); it cannot fail or grow the title.
    """
    out: list[str] = []
    size = 0
    for literal, name in _pieces(template):
        out.append(literal)
        size += len(literal)
        if name is not None:
            # Each value clipped first: a long one (an edge's reason) costs no more than this.
            value = fields.get(name)
            text = clip(value, TITLE_MAX + 1) if value is not None else "{" + name + "}"
            out.append(text)
            size += len(text)
        if size > TITLE_MAX:
            break
    return clip("".join(out))
