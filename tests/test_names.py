from __future__ import annotations

import pytest

from domain_stats.names import InvalidName, NameReducer


@pytest.fixture(scope="module")
def names() -> NameReducer:
    return NameReducer()


@pytest.mark.parametrize(
    ("raw", "domain"),
    [
        ("www.mail.example.co.uk", "example.co.uk"),
        ("WWW.Example.COM.", "example.com"),
        ("  example.com  ", "example.com"),
        ("bücher.example.com", "example.com"),
        ("www.Bücher.com", "xn--bcher-kva.com"),
        ("xn--bcher-kva.com", "xn--bcher-kva.com"),
        ("faß.de", "xn--fa-hia.de"),  # IDNA 2008, not the 2003 "fass.de"
        ("ＥＸＡＭＰＬＥ．ＣＯＭ", "example.com"),  # UTS-46 maps full-width forms
        ("_ldap._tcp.dc.example.com", "example.com"),
        ("x.github.io", "github.io"),  # ICANN section only by default
    ],
)
def test_reduces_to_registered_domain(names: NameReducer, raw: str, domain: str) -> None:
    assert names.reduce(raw).domain == domain


def test_private_section_on_request() -> None:
    assert NameReducer(only_icann=False).reduce("x.github.io").domain == "x.github.io"


@pytest.mark.parametrize(
    "raw",
    ["", ".", "10.0.0.1", "::1", "[::1]", "a..b.com", ".example.com", "x" * 64 + ".com",
     "a." * 127 + "com", "foo.notatld", "co.uk", "uk", "ex_ample.com", "-bad.com", "bad-.com",
     "host:8080", "xn--zz.com", "☃.com", "exa mple.com", "example.com/path"],
)
def test_rejects_what_is_not_a_domain(names: NameReducer, raw: str) -> None:
    with pytest.raises(InvalidName):
        names.reduce(raw)


@pytest.mark.parametrize("raw", ["printer.local", "LOCALHOST", "x.y.internal", "1.0.0.127.in-addr.arpa", "nas.home.arpa"])
def test_prohibited_by_default(names: NameReducer, raw: str) -> None:
    result = names.reduce(raw)
    assert result.prohibited and result.domain is None


def test_operator_zones_and_merged_lists() -> None:
    names = NameReducer(["corp.example.com"])
    assert names.reduce("wiki.corp.example.com").prohibited
    assert names.reduce("www.example.com").domain == "example.com"
    names.add_prohibited([".Partner.Example.Net."])
    assert names.reduce("a.partner.example.net").prohibited
