"""What a channel raises when a vendor did not take a message.

Any exception from ``notify`` makes the outbox try the channel again later (with
back-off). ``permanent`` tells the operator (and the outcome table) that trying again
cannot help until someone acts: bad credentials, a robot removed from its group, a
template the vendor has not approved. The outbox still retries it, so a fixed setting
delivers what waited; a permanent failure that concerns one recipient only (a phone
number the vendor refuses) is recorded for that person and not raised.
"""

from __future__ import annotations


class ChannelError(RuntimeError):
    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def vendor_reason(code: object, message: object) -> str:
    """The vendor's code and message, short enough for the outcome table (500)."""
    return f"{code}: {message}"[:480]
