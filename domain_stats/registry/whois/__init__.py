"""WHOIS (port 43) for the registries the RDAP bootstrap does not cover.

:mod:`.servers` says which server answers for a TLD, :mod:`.parse` reads an answer (pure, no
I/O; :mod:`.rules` is its data, :mod:`.dates` its date forms), :mod:`.client` asks the server
on the same scheduler as RDAP.
"""

from domain_stats.registry.whois.errors import WhoisError
from domain_stats.registry.whois.parse import parse_whois_answer
from domain_stats.registry.whois.servers import WhoisServer, WhoisServers

__all__ = ["WhoisError", "WhoisServer", "WhoisServers", "parse_whois_answer"]
