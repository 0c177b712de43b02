"""Tickets as a reader reads them: the title, the category and the priority in their
language.

A ticket made from words (an alarm's rule, a category's label) keeps its title in
every language (``titles``); ``title`` is the community's language's, for machines
and for tickets made before titles were kept per language, which are shown as stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.i18n.catalogs import NP_, Label, label
from hub.policy.document import RulesDocument
from hub.policy.service import rules_for
from hub.tickets.models import TicketPublic


def title_in(titles: dict[str, str] | None, stored: str, language: str) -> str:
    """The title a reader of ``language`` reads: theirs if kept, else the stored one."""
    return (titles or {}).get(language) or stored


PRIORITY_WORDS: Final[Mapping[str, Label]] = {
    "normal": NP_("ticket priority", "Normal"),
    "urgent": NP_("ticket priority", "Urgent"),
}


def priority_label(priority: str, language: str) -> str:
    """A ticket's priority as a label, capitalised like its state's (Normal, Dispatched)."""
    return label(PRIORITY_WORDS, priority, language)


async def for_reader(conn: AsyncConnection, found: Iterable[TicketPublic], language: str) -> None:
    """Set each ticket's ``title``, ``category_label`` and ``priority_label`` in
    ``language`` (in place)."""
    documents: dict[int | None, RulesDocument] = {}
    for ticket in found:
        ticket.title = title_in(ticket.titles, ticket.title, language)
        ticket.priority_label = priority_label(ticket.priority, language)
        rules = documents.get(ticket.community_id)
        if rules is None:
            rules = documents[ticket.community_id] = await rules_for(conn, ticket.community_id)
        category = rules.category(ticket.category)
        ticket.category_label = (
            category.label_in(language) if category is not None else ticket.category
        )
