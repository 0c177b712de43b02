"""Roles in words, in a reader's language (the codes stay for machines)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from hub.i18n.catalogs import pgettext
from hub.users.models import Role

# The same words as the pages' (pages.po, context "role").
_WORDS: dict[Role, Callable[[str], str]] = {
    Role.ADMIN: lambda tag: pgettext(tag, "role", "administrator"),
    Role.PROPERTY_MANAGER: lambda tag: pgettext(tag, "role", "property manager"),
    Role.COMMUNITY_STAFF: lambda tag: pgettext(tag, "role", "community staff"),
    Role.VOLUNTEER: lambda tag: pgettext(tag, "role", "volunteer"),
    Role.RESIDENT: lambda tag: pgettext(tag, "role", "resident"),
}


def role_words(role: Role) -> Callable[[str], str]:
    """The role as a value of a message: said in the reader's language."""
    return _WORDS[role]


def roles_words(roles: Iterable[Role]) -> Callable[[str], str]:
    """Several roles, listed as the reader's language lists them (、 / , )."""
    listed = tuple(roles)

    def say(tag: str) -> str:
        return pgettext(tag, "list separator", ", ").join(_WORDS[r](tag) for r in listed)

    return say
