"""The hub's refusals, one family: what a person did that the hub will not do, and why.

Domains raise these (or their own subclasses, which name the thing refused); the API
maps the family to HTTP once (api/errors.py): NotFound 404, Forbidden 403, Conflict
409, InvalidInput 422 naming its field. The message is a sentence for a person. Each
also is the builtin exception of its kind, so older ``except LookupError`` still holds.
"""

from __future__ import annotations


class HubError(Exception):
    """A request the hub refuses; ``str()`` says why, for a person."""


class NotFound(HubError, LookupError):
    """No such thing, or the caller may not see it: not told apart."""


class Forbidden(HubError, PermissionError):
    """The caller's role, or their relation to the thing, does not allow this."""


class Conflict(HubError, RuntimeError):
    """Not allowed in the current state, or changed by someone else meanwhile."""


class InvalidInput(HubError, ValueError):
    """An input is missing or wrong; ``field`` names it (``where``: body, query, path)."""

    def __init__(self, field: str, message: str, *, where: str = "body") -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.where = field, message, where
