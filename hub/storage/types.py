"""Column types, kept here under their old name for the migrations (hub/schema/types.py)."""

from hub.schema.types import UtcDateTime

__all__ = ["UtcDateTime"]
