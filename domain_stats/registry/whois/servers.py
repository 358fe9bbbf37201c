"""Which WHOIS server answers for a TLD: a packaged map, overridden per TLD in the configuration.

The packaged ``data/whois-servers.tsv`` lists TLDs and multi-label suffixes (``co.ca``,
``priv.at``) with their port-43 host, from the ``whois`` client's server list (its header
names the source and commit); the longest matching suffix wins. ``whois_servers`` in the
configuration adds or replaces a TLD's server (``host[:port]``), or removes it (empty), so an
isolated network and the tests point at their own servers. IANA publishes no machine-readable
WHOIS bootstrap, so the map changes with releases of domain-stats, not in the background.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

__all__ = ["WHOIS_PORT", "WhoisServer", "WhoisServers", "parse_server"]

WHOIS_PORT = 43


@dataclass(frozen=True, slots=True)
class WhoisServer:
    host: str
    port: int = WHOIS_PORT

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == WHOIS_PORT else f"{host}:{self.port}"


def parse_server(value: str) -> WhoisServer:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; raises ValueError with the reason."""
    value = value.strip()
    port = WHOIS_PORT
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{value!r}: expected [address]:port")
            port = _port(rest[1:], value)
    elif value.count(":") == 1:
        host, port_text = value.split(":")
        port = _port(port_text, value)
    else:
        host = value
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"{value!r} is not a host[:port]")
    return WhoisServer(host.lower(), port)


def _port(text: str, value: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{value!r}: the port must be 1-65535")
    return int(text)


class WhoisServers:
    """Suffix -> server; :meth:`server_for` picks the longest suffix of a domain that has one."""

    def __init__(self, servers: Mapping[str, WhoisServer]) -> None:
        self._servers = dict(servers)

    def __len__(self) -> int:
        return len(self._servers)

    @property
    def suffixes(self) -> frozenset[str]:
        return frozenset(self._servers)

    def server_for(self, domain: str) -> WhoisServer | None:
        labels = domain.lower().rstrip(".").split(".")
        for start in range(1, len(labels)):
            server = self._servers.get(".".join(labels[start:]))
            if server is not None:
                return server
        return None

    @classmethod
    def packaged(cls) -> WhoisServers:
        text = resources.files("domain_stats").joinpath("data/whois-servers.tsv").read_text(encoding="utf-8")
        return cls(dict(read_server_list(text)))

    @classmethod
    def configured(cls, overrides: Mapping[str, str], *, packaged: bool = True) -> WhoisServers:
        """The packaged map (unless ``packaged`` is false) with ``whois_servers`` applied."""
        servers = dict(cls.packaged()._servers) if packaged else {}
        for suffix, value in overrides.items():
            suffix = suffix.strip().strip(".").lower()
            if value.strip():
                servers[suffix] = parse_server(value)
            else:
                servers.pop(suffix, None)
        return cls(servers)


def read_server_list(text: str) -> list[tuple[str, WhoisServer]]:
    """The rows of a ``tld<TAB>server[<TAB>source]`` file; ``#`` comments and the header skipped."""
    rows = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("tld\t"):
            continue
        suffix, server, *_ = line.split("\t")
        rows.append((suffix.strip().lower(), parse_server(server)))
    return rows
