"""The languages the product speaks, and which one a reader gets.

Tags are BCP 47 as browsers send them (``zh-CN``, ``en``); Babel's names
(``zh_CN``) stay inside this package.
"""

from __future__ import annotations

from babel import Locale

# Simplified Chinese first: the communities this product serves. English is complete too.
SUPPORTED: tuple[str, ...] = ("zh-CN", "en")
DEFAULT = "zh-CN"
# Accept-Language values are short; a longer one is hostile, and parsing it costs.
_MAX_HEADER = 512


def babel_name(tag: str) -> str:
    """``zh-CN`` → ``zh_CN``: the folder and Babel name of a supported tag."""
    return tag.replace("-", "_")


def babel_locale(tag: str) -> Locale:
    return Locale.parse(babel_name(tag))


def supported(tag: str | None) -> str | None:
    """The supported tag ``tag`` asks for, or None: ``zh``, ``zh-Hans``, ``zh-Hans-CN``,
    ``zh_cn`` and ``zh-SG`` are all Simplified Chinese; ``en-GB`` is English.
    Traditional Chinese (``zh-TW``, ``zh-HK``, ``zh-Hant``) is not offered as Simplified."""
    if not tag:
        return None
    parts = tag.strip().replace("_", "-").lower().split("-")
    if parts[0] == "zh":
        rest = set(parts[1:])
        if rest & {"hant", "tw", "hk", "mo"}:
            return None
        return "zh-CN"
    if parts[0] == "en":
        return "en"
    return None


def _weighted(accept_language: str) -> list[tuple[float, int, str]]:
    """Accept-Language ranges as (-q, position, range), best first; bad pieces skipped."""
    ranges: list[tuple[float, int, str]] = []
    for position, piece in enumerate(accept_language[:_MAX_HEADER].split(",")):
        name, _, params = piece.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        if name and q > 0:
            ranges.append((-q, position, name.strip()))
    return sorted(ranges)


def from_browser(accept_language: str | None) -> str | None:
    """The best supported language of an Accept-Language header, or None."""
    if not accept_language:
        return None
    for _, _, name in _weighted(accept_language):
        found = supported(name)
        if found is not None:
            return found
    return None


def choose(*, profile: str | None, accept_language: str | None, community: str | None) -> str:
    """A reader's language: their profile's, else their browser's, else their community's."""
    return supported(profile) or from_browser(accept_language) or supported(community) or DEFAULT


def check(tag: str) -> str:
    """``tag`` as a supported tag; ValueError naming the supported ones otherwise."""
    found = supported(tag)
    if found is None or found != tag:
        raise ValueError(f"unsupported language {tag!r}; use one of {', '.join(SUPPORTED)}")
    return found
