"""One exception root for everything domain-stats raises on purpose.

``UserError`` is the branch a person can act on (a bad configuration key, a busy port, a feed
that cannot be read, a central server that refuses this client): commands print its message
as one line and exit non-zero, without a traceback. ``RuntimeFailure`` is what failed under
a running program (a database that is down, a full disk): not the user's mistake, so a
lookup answers it as an error token, but a command still shows it as one line. The other branches are handled where they
happen (an upstream failure becomes an ERROR answer, a bad request a 4xx); an exception that
is not a :class:`DomainStatsError` is a bug and is logged with its traceback.
"""

from __future__ import annotations

__all__ = ["ConfigError", "DomainStatsError", "RuntimeFailure", "UserError"]


class DomainStatsError(Exception):
    """Anything domain-stats raises on purpose."""


class UserError(DomainStatsError):
    """Something the user can fix; the message says what, in one line, and is shown as it is."""


class ConfigError(UserError):
    """The configuration cannot be used; the message names the key and the file."""


class RuntimeFailure(DomainStatsError):
    """Something the program depends on failed while it ran (a database, a disk); the message says what."""
