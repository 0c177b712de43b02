"""The hub's refusals, one family: what a person did that the hub will not do, and why.

Domains raise these (or their own subclasses, which name the thing refused); the API
maps the family to HTTP once (api/errors.py): NotFound 404, Forbidden 403, Conflict
409, InvalidInput 422 naming its field. The message is a sentence for a person. Each
also is the builtin exception of its kind, so older ``except LookupError`` still holds.

A refusal's message is a catalog message id with ``%(name)s`` placeholders and its
values apart (``Conflict(N_("port %(port)s is already reserved"), port=2)``): ``str()``
is the English, for logs; :meth:`HubError.for_reader` says it in a reader's language,
a time in their community's zone, and a value that is itself words (a :data:`Words`,
e.g. a ticket state's label) in their language. A message made whole by an f-string
still works: it has no catalog entry and reads in English.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hub.i18n.said import Words as Words
from hub.i18n.said import say as say
from hub.i18n.said import shown as shown


def _english(message: str, params: Mapping[str, object]) -> str:
    return say(message, params, "en", ZoneInfo("UTC"), datetime.now(UTC)) if params else message


class HubError(Exception):
    """A request the hub refuses; ``str()`` says why, for a person (in English)."""

    def __init__(self, message: str = "", /, **params: object) -> None:
        self.message_id, self.params = message, params
        super().__init__(_english(message, params))

    def for_reader(self, tag: str, zone: ZoneInfo, now: datetime | None = None) -> str:
        """Why, in ``tag``'s language, times in ``zone``."""
        return say(self.message_id, self.params, tag, zone, now)


class NotAuthenticated(HubError, PermissionError):
    """No valid login: the API answers 401 and asks for a bearer token."""


class NotFound(HubError, LookupError):
    """No such thing, or the caller may not see it: not told apart."""


class Forbidden(HubError, PermissionError):
    """The caller's role, or their relation to the thing, does not allow this."""


class Conflict(HubError, RuntimeError):
    """Not allowed in the current state, or changed by someone else meanwhile."""


class InvalidInput(HubError, ValueError):
    """An input is missing or wrong; ``field`` names it (``where``: body, query, path)."""

    def __init__(self, field: str, message: str, *, where: str = "body", **params: object) -> None:
        HubError.__init__(self, message, **params)
        self.args = (f"{field}: {self.message}",)
        self.field, self.where = field, where

    @property
    def message(self) -> str:
        """What is wrong with the field, in English."""
        return _english(self.message_id, self.params)
