"""Our own thin RDAP layer: IANA bootstrap, response parsing, and a polite async client.

The client (and with it aiohttp) is imported on first use, so that commands which never
query RDAP, and the configuration module, start without it.
"""

from typing import TYPE_CHECKING, Any

from domain_stats.registry.rdap.bootstrap import Bootstrap
from domain_stats.registry.rdap.errors import RdapError
from domain_stats.registry.rdap.parse import parse_domain_response

if TYPE_CHECKING:
    from domain_stats.registry.rdap.client import RdapClient, RdapLimits

__all__ = ["Bootstrap", "RdapClient", "RdapError", "RdapLimits", "parse_domain_response"]


def __getattr__(name: str) -> Any:
    if name in ("RdapClient", "RdapLimits"):
        from domain_stats.registry.rdap import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
