"""Words a page shows that are made in Python rather than written in a template."""

from __future__ import annotations


def N_(message: str) -> str:  # the usual name of gettext's no-op marker
    """Marks a string for the message catalog; it is translated where it is shown."""
    return message
