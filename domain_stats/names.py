"""Turn whatever a log line calls a host into the registered domain we keep facts about.

Everything here is pure: no I/O, no clock. A name is either reduced to its registered
domain (``www.mail.example.co.uk`` -> ``example.co.uk``), recognised as prohibited (answered
locally, never sent upstream), or rejected with a reason a SOC engineer can act on.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import NamedTuple

import idna
from publicsuffixlist import PSLFILE, PublicSuffixList, encode_idn

from domain_stats.errors import DomainStatsError

__all__ = ["DEFAULT_PROHIBITED", "MAX_INPUT_CHARS", "InvalidName", "Name", "NameReducer", "too_long"]

MAX_NAME_OCTETS = 253
MAX_LABEL_OCTETS = 63

DEFAULT_PROHIBITED: tuple[str, ...] = ("local", "localhost", "internal", "arpa", "home.arpa", "lan", "corp")

# Labels above the registered domain may carry underscores (``_ldap._tcp.dc.example.com``
# is a real DNS query); the registered domain itself must be strict LDH.
_HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\Z")
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z")
_PLAIN_ASCII = re.compile(r"[a-z0-9._-]+\Z")
# A whole name that needs no further checks: LDH labels (underscores above the last two),
# at most 63 octets each. Anything else takes the slow path, which names the problem.
_FAST_NAME = re.compile(r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?\Z")
_MEMO_SIZE = 65536
#: Most characters of input taken as a name: the longest name (253) with room for padding, a
#: trailing dot and the like. Anything longer is refused before any work is done on it.
MAX_INPUT_CHARS = MAX_NAME_OCTETS + 64
#: Most characters of input remembered by the memo, all keys together (a few MB).
_MEMO_CHARS = 4 * 1024 * 1024


class InvalidName(DomainStatsError):
    """The request is not a domain name; the message says why, in words for the operator."""


class Name(NamedTuple):
    """A reduced name: ``domain`` is the registered domain, or ``None`` when prohibited."""

    domain: str | None
    prohibited: bool = False


def too_long(raw: str) -> str:
    """Why a name longer than ``MAX_INPUT_CHARS`` is refused before any other work (the reason in
    its ``INVALID-NAME`` answer; enrich answers such names without sending them)."""
    return f"{len(raw)} characters is longer than any domain name ({MAX_NAME_OCTETS} at most)"


class NameReducer:
    """Reduces host names with the Public Suffix List and the prohibited-suffix list.

    ``only_icann`` (the default) uses the ICANN section of the PSL, so ``x.github.io``
    reduces to ``github.io``; with the private section it stays ``x.github.io``.
    """

    def __init__(self, prohibited: Iterable[str] = DEFAULT_PROHIBITED, *, only_icann: bool = True) -> None:
        self._psl = PublicSuffixList(only_icann=only_icann, accept_unknown=False)
        self._with_child_rules = _suffixes_with_child_rules(only_icann)
        self._flat: dict[str, bool] = {}  # suffix -> "a public suffix with no rule below it"
        self._prohibited: frozenset[str] = frozenset()
        self._memo: dict[str, Name] = {}  # host name as asked -> result; logs repeat names a lot
        self._memo_chars = 0  # what the memo's keys hold, bounded by _MEMO_CHARS
        self._open_parents: dict[str, bool] = {}  # suffix -> "label.suffix is registered, not prohibited"
        self.add_prohibited(prohibited)

    @property
    def prohibited(self) -> frozenset[str]:
        return self._prohibited

    def add_prohibited(self, suffixes: Iterable[str]) -> None:
        """Merge more suffixes (e.g. the central server's list) into the prohibited set."""
        cleaned = {s.strip().strip(".").lower() for s in suffixes}
        self._prohibited = self._prohibited | {s for s in cleaned if s}
        self._memo.clear()
        self._memo_chars = 0
        self._open_parents.clear()

    def set_prohibited(self, suffixes: Iterable[str]) -> None:
        """Replace the prohibited set (the central server's operators may shorten its list too)."""
        self._prohibited = frozenset()
        self.add_prohibited(suffixes)

    def reduce(self, raw: str) -> Name:
        """Return the registered domain for ``raw``; raise :class:`InvalidName` when it is not a name."""
        name = self._memo.get(raw)
        if name is None:
            domain = self.registered_domain(raw)
            name = Name(domain, domain is None)
            if len(self._memo) >= _MEMO_SIZE or self._memo_chars >= _MEMO_CHARS:
                self._memo.clear()
                self._memo_chars = 0
            self._memo[raw] = name
            self._memo_chars += len(raw)
        return name

    def is_registered_domain(self, name: str) -> bool:
        """Is ``name`` itself a registered domain, lower-case A-label, not prohibited?

        What bulk loads (feeds, the starter set) ask of millions of names: one dict lookup for the
        parent and one regex for the label in the common ``label.suffix`` case, the full
        :meth:`registered_domain` otherwise.
        """
        label, _, parent = name.partition(".")
        if (
            self.open_suffix(parent)
            and len(label) <= MAX_LABEL_OCTETS
            and not label.startswith("xn--")
            and _LDH_LABEL.match(label)
        ):
            return name not in self._prohibited
        try:
            return self.registered_domain(name) == name
        except InvalidName:
            return False

    def open_suffix(self, suffix: str) -> bool:
        """Is every ``label.suffix`` (an LDH label) a registered domain outside the prohibited zones?"""
        usable = self._open_parents.get(suffix)
        if usable is None:
            usable = bool(suffix) and not self._is_prohibited(suffix) and self._is_flat(suffix)
            if len(self._open_parents) >= _MEMO_SIZE:
                self._open_parents.clear()
            self._open_parents[suffix] = usable
        return usable

    def registered_domain(self, raw: str) -> str | None:
        """:meth:`reduce` without the memo (bulk imports see each name once): None when prohibited."""
        if len(raw) > MAX_INPUT_CHARS:
            raise InvalidName(too_long(raw))
        lowered = raw.lower()
        if len(lowered) <= MAX_NAME_OCTETS and "xn--" not in lowered and _FAST_NAME.match(lowered):
            host = lowered[:-1] if lowered.endswith(".") else lowered
            if host.rpartition(".")[2].isdigit() and _looks_like_ip(host):
                raise InvalidName(f"{host!r} is an IP address, not a domain name")
            if self._is_prohibited(host):
                return None
            # The common case, "label.tld" with nothing special under the TLD, without a PSL walk.
            label, _, parent = host.partition(".")
            if parent and "_" not in label and self._is_flat(parent):
                return host
        else:
            host = _to_ascii(raw)
        if self._is_prohibited(host):
            return None
        registered = self._psl.privatesuffix(host)
        if registered is None:
            if self._psl.is_public(host):
                raise InvalidName(f"{host!r} is a public suffix, not a registered domain")
            raise InvalidName(f"unknown top-level domain {host.rpartition('.')[2]!r}")
        if "_" in registered:
            for label in registered.split("."):
                if not _LDH_LABEL.match(label):
                    raise InvalidName(f"label {label!r} is not a valid domain label")
        return registered

    def _is_flat(self, suffix: str) -> bool:
        """Is ``suffix`` public with no PSL rule below it? Then every ``label.suffix`` is registered."""
        flat = self._flat.get(suffix)
        if flat is None:
            flat = suffix not in self._with_child_rules and self._psl.is_public(suffix)
            if len(self._flat) >= _MEMO_SIZE:
                self._flat.clear()
            self._flat[suffix] = flat
        return flat

    def _is_prohibited(self, host: str) -> bool:
        if host in self._prohibited:
            return True
        dot = host.find(".")
        while dot != -1:
            if host[dot + 1 :] in self._prohibited:
                return True
            dot = host.find(".", dot + 1)
        return False


def _to_ascii(raw: str) -> str:
    """Lower-case A-label form of ``raw`` with structural checks; the fast path skips IDNA."""
    name = raw.strip()
    if name.endswith("."):
        name = name[:-1]
    if not name:
        raise InvalidName("empty name")
    if _looks_like_ip(name):
        raise InvalidName(f"{name!r} is an IP address, not a domain name")
    name = name.lower()
    if not _PLAIN_ASCII.match(name):
        name = _idna_encode(name)
    if len(name) > MAX_NAME_OCTETS:
        raise InvalidName(f"name is {len(name)} octets long; the limit is {MAX_NAME_OCTETS}")
    for label in name.split("."):
        if not label:
            raise InvalidName("empty label (two dots in a row, or a leading dot)")
        if len(label) > MAX_LABEL_OCTETS:
            raise InvalidName(f"label of {len(label)} octets; the limit is {MAX_LABEL_OCTETS}")
        if not _HOST_LABEL.match(label):
            raise InvalidName(f"label {label!r} has characters a host name cannot have")
        if label.startswith("xn--"):
            try:
                idna.ulabel(label)
            except (idna.IDNAError, UnicodeError) as err:
                raise InvalidName(f"label {label!r} is not valid punycode: {err}") from None
    return name


def _idna_encode(name: str) -> str:
    """IDNA 2008 with UTS-46 mapping, label by label so one bad label names itself."""
    try:
        mapped = idna.uts46_remap(name, std3_rules=False, transitional=False)
    except (idna.IDNAError, UnicodeError) as err:
        raise InvalidName(f"IDNA rejects {name!r}: {err}") from None
    out = []
    for label in mapped.split("."):
        if label.isascii():
            out.append(label)
            continue
        try:
            out.append(idna.alabel(label).decode("ascii"))
        except (idna.IDNAError, UnicodeError) as err:
            raise InvalidName(f"IDNA rejects label {label!r}: {err}") from None
    return ".".join(out)


def _looks_like_ip(name: str) -> bool:
    candidate = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    if not (candidate[-1:].isdigit() or ":" in candidate):
        return False
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


def _suffixes_with_child_rules(only_icann: bool) -> frozenset[str]:
    """Suffixes under which the Public Suffix List has a rule (``uk`` for ``co.uk``, ``ck`` for
    ``*.ck``), read from the list publicsuffixlist itself uses."""
    parents: set[str] = set()
    icann = False
    with open(PSLFILE, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line.startswith("// ===BEGIN ICANN DOMAINS==="):
                icann = True
            elif line.startswith("// ===END ICANN DOMAINS==="):
                icann = False
            elif line and not line.startswith("//") and (icann or not only_icann):
                rule = line.split()[0].lstrip("!").lower()
                parent = rule[2:] if rule.startswith("*.") else rule.partition(".")[2]
                if parent:
                    parents.add(parent)
                    if not parent.isascii():
                        parents.add(encode_idn(parent))
    return frozenset(parents)
