from __future__ import annotations

import json
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from publicsuffixlist import PublicSuffixList

from domain_stats.names import MAX_INPUT_CHARS, InvalidName, NameReducer
from tests.support.shared import SHARED


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
        ("ＥＸＡＭＰＬＥ．ＣＯＭ", "example.com"),  # noqa: RUF001 - UTS-46 maps full-width forms
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
    [
        "",
        ".",
        "10.0.0.1",
        "::1",
        "[::1]",
        "a..b.com",
        ".example.com",
        "x" * 64 + ".com",
        "a." * 127 + "com",
        "foo.notatld",
        "co.uk",
        "uk",
        "ex_ample.com",
        "-bad.com",
        "bad-.com",
        "host:8080",
        "xn--zz.com",
        "☃.com",
        "exa mple.com",
        "example.com/path",
    ],
)
def test_rejects_what_is_not_a_domain(names: NameReducer, raw: str) -> None:
    with pytest.raises(InvalidName):
        names.reduce(raw)


@pytest.mark.parametrize(
    "raw", ["printer.local", "LOCALHOST", "x.y.internal", "1.0.0.127.in-addr.arpa", "nas.home.arpa"]
)
def test_prohibited_by_default(names: NameReducer, raw: str) -> None:
    result = names.reduce(raw)
    assert result.prohibited and result.domain is None


def test_operator_zones_and_merged_lists() -> None:
    names = NameReducer(["corp.example.com"])
    assert names.reduce("wiki.corp.example.com").prohibited
    assert names.reduce("www.example.com").domain == "example.com"
    names.add_prohibited([".Partner.Example.Net."])
    assert names.reduce("a.partner.example.net").prohibited


def _oracle_names() -> list[str]:
    names = [
        "example.com",
        "www.example.com",
        "example.co.uk",
        "co.uk",
        "uk",
        "www.ck",
        "foo.ck",
        "a.foo.ck",
        "city.kawasaki.jp",
        "x.city.kawasaki.jp",
        "kawasaki.jp",
        "a.b.kawasaki.jp",
        "github.io",
        "x.github.io",
        "blogspot.com",
        "a.blogspot.com",
        "example.notatld",
        "amazonaws.com",
        "s3.amazonaws.com",
        "gov.uk",
        "example.gov.uk",
        "example.jp",
        "example.tokyo.jp",
        "tokyo.jp",
        "example.ac.jp",
        "bar.com.au",
    ]
    top1m = SHARED / "data" / "top1m.import"
    if top1m.exists():
        names += [row["domain"] for row in json.loads(top1m.read_text())]
    return names


@pytest.mark.parametrize("only_icann", [True, False])
def test_shortcut_agrees_with_the_public_suffix_list(only_icann: bool) -> None:
    """registered_domain takes a shortcut for label.tld; the library's own walk is the oracle."""
    names = NameReducer(prohibited=(), only_icann=only_icann)
    psl = PublicSuffixList(only_icann=only_icann, accept_unknown=False)
    for name in _oracle_names():
        try:
            ours = names.registered_domain(name)
        except InvalidName:
            ours = None
        assert ours == psl.privatesuffix(name), name


def test_input_longer_than_any_name_is_refused_before_any_work() -> None:
    reducer = NameReducer()
    padded = " " * 4_000_000 + "www.example.com"
    with pytest.raises(InvalidName, match="longer than any domain name"):
        reducer.reduce(padded)
    assert reducer.reduce(" " * 40 + "www.example.com. ").domain == "example.com"  # a little padding is fine
    assert len("a." * 126 + "com") <= MAX_INPUT_CHARS  # the longest real name is within the limit


def test_what_the_memo_remembers_is_bounded_in_bytes() -> None:
    """Distinct names, each as long as input may be: the memo forgets before it grows large."""
    reducer = NameReducer()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(60_000):
            reducer.reduce(f"{i}.example.com".rjust(MAX_INPUT_CHARS))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 12 * 1024 * 1024  # 60,000 x 317 characters would be 19 MB of keys alone


SHARED_REDUCER = NameReducer()  # building one reads the whole Public Suffix List


@settings(max_examples=500, deadline=None)
@given(raw=st.text(max_size=400))
def test_any_text_is_a_name_or_an_invalid_name(raw: str) -> None:
    reducer = SHARED_REDUCER
    try:
        name = reducer.reduce(raw)
    except InvalidName as err:
        assert str(err)  # a reason the operator can read
        return
    if name.prohibited:
        assert name.domain is None
    else:
        assert name.domain is not None and name.domain.isascii() and name.domain == name.domain.lower()
        assert len(name.domain) <= 253 and reducer.reduce(name.domain).domain == name.domain  # already reduced
