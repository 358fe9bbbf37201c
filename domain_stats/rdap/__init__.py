"""Our own thin RDAP layer: IANA bootstrap, response parsing, and a polite async client."""

from domain_stats.rdap.bootstrap import Bootstrap
from domain_stats.rdap.client import RdapClient, RdapLimits
from domain_stats.rdap.errors import RdapError
from domain_stats.rdap.parse import RdapDates, parse_domain_response

__all__ = ["Bootstrap", "RdapClient", "RdapDates", "RdapError", "RdapLimits", "parse_domain_response"]
