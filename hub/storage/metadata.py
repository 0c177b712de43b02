"""The shared MetaData, kept here under its old name for the migrations (hub/schema/base.py)."""

from hub.schema.base import metadata

__all__ = ["metadata"]
