"""Which WHOIS server answers for a TLD: the packaged map, checked against the corpus, and overrides."""

from __future__ import annotations

import pytest

from domain_stats.registry.rdap.bootstrap import Bootstrap
from domain_stats.registry.whois.servers import WhoisServer, WhoisServers, parse_server
from tests.registry.whois.corpus import SHARED_CORPUS, entries

#: Corpus TLDs the packaged map has no server for: the map's source lists none (the samples do
#: not say which server answered). .mo and .aq are answered NO-SERVER until someone adds one.
KNOWN_GAPS = {"aq", "mo"}


def test_longest_suffix_wins() -> None:
    servers = WhoisServers.packaged()
    assert servers.server_for("example.co.ca") == WhoisServer("whois.co.ca")
    assert servers.server_for("example.ca") == WhoisServer("whois.cira.ca")
    assert servers.server_for("example.priv.at") == WhoisServer("whois.nic.priv.at")
    assert servers.server_for("example.com") == WhoisServer("whois.verisign-grs.com")
    assert servers.server_for("example.br.com") == WhoisServer("whois.centralnic.net")
    assert servers.server_for("example.de") == WhoisServer("whois.denic.de")
    assert servers.server_for("example.invalid") is None


@pytest.mark.skipif(not entries(SHARED_CORPUS), reason="../shared/whois-corpus is not present")
def test_every_corpus_tld_without_rdap_has_a_server() -> None:
    rdap = Bootstrap.packaged()
    servers = WhoisServers.packaged()
    missing = {
        e.tld
        for e in entries(SHARED_CORPUS)
        if rdap.server_for(e.domain) is None and servers.server_for(e.domain) is None
    }
    assert missing == KNOWN_GAPS


def test_overrides_add_replace_and_remove() -> None:
    servers = WhoisServers.configured({"DE.": "127.0.0.1:4343", "tv": "", "test": "[::1]:43"})
    assert servers.server_for("example.de") == WhoisServer("127.0.0.1", 4343)
    assert servers.server_for("example.tv") is None
    assert servers.server_for("example.test") == WhoisServer("::1", 43)
    assert servers.server_for("example.it") == WhoisServer("whois.nic.it")


def test_without_the_packaged_map_only_overrides_are_asked() -> None:
    servers = WhoisServers.configured({"de": "127.0.0.1:4343"}, packaged=False)
    assert len(servers) == 1
    assert servers.server_for("example.com") is None


@pytest.mark.parametrize(
    ("text", "server"),
    [
        ("whois.nic.it", WhoisServer("whois.nic.it")),
        ("WHOIS.NIC.IT:4343", WhoisServer("whois.nic.it", 4343)),
        ("[2001:db8::1]:4343", WhoisServer("2001:db8::1", 4343)),
        ("[2001:db8::1]", WhoisServer("2001:db8::1")),
        ("2001:db8::1", WhoisServer("2001:db8::1")),
    ],
)
def test_server_forms(text: str, server: WhoisServer) -> None:
    assert parse_server(text) == server
    assert parse_server(str(server)) == server


@pytest.mark.parametrize("text", ["", "a b", "host:0", "host:99999", "host:http", "[::1]x", "[::1]:"])
def test_bad_server_forms(text: str) -> None:
    with pytest.raises(ValueError):
        parse_server(text)
