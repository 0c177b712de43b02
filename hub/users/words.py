"""Roles in words, in a reader's language (the codes stay for machines)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Final

from hub.i18n.catalogs import NP_, Label, label, pgettext
from hub.users.models import Role

# The same words as the pages' (pages.po, context "role").
ROLE_WORDS: Final[Mapping[str, Label]] = {
    Role.ADMIN: NP_("role", "administrator"),
    Role.PROPERTY_MANAGER: NP_("role", "property manager"),
    Role.COMMUNITY_STAFF: NP_("role", "community staff"),
    Role.VOLUNTEER: NP_("role", "volunteer"),
    Role.RESIDENT: NP_("role", "resident"),
}


def role_words(role: Role) -> Callable[[str], str]:
    """The role as a value of a message: said in the reader's language."""
    return lambda tag: label(ROLE_WORDS, role, tag)


def roles_words(roles: Iterable[Role]) -> Callable[[str], str]:
    """Several roles, listed as the reader's language lists them (、 / , )."""
    listed = tuple(roles)

    def say(tag: str) -> str:
        return pgettext(tag, "list separator", ", ").join(label(ROLE_WORDS, r, tag) for r in listed)

    return say
