"""One exception root for everything domain-stats raises on purpose.

``UserError`` is the branch a person can act on (a bad configuration key, a busy port, a feed
that cannot be read, a central server that refuses this client): commands print its message
as one line and exit non-zero, without a traceback. The other branches are handled where they
happen (an upstream failure becomes an ERROR answer, a bad request a 4xx); an exception that
is not a :class:`DomainStatsError` is a bug and is logged with its traceback.
"""

from __future__ import annotations

__all__ = ["DomainStatsError", "UserError"]


class DomainStatsError(Exception):
    """Anything domain-stats raises on purpose."""


class UserError(DomainStatsError):
    """Something the user can fix; the message says what, in one line, and is shown as it is."""
