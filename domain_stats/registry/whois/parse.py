"""Read a WHOIS answer: the creation (and expiry) date, or why there is none. No I/O.

An answer is bytes in whatever encoding the registry uses: ISO-2022-JP when the answer has
its escapes, else UTF-8, else Latin-1, which reads any bytes; the labels and
dates we need are ASCII in every one of them, so a wrong guess costs only the words around.

The outcome, in this order:

1. a creation date under one of :data:`~.rules.CREATED_LABELS`: the answer (a "before ..."
   bound is answered as that date: the domain is at least that old, which is what the age
   rules need);
2. a limit text: :class:`WhoisRateLimited`; a not-found text: :class:`WhoisNotFound`;
3. a creation label whose value is no date we can read: :class:`WhoisBadResponse`;
4. an answer that names the domain but carries no creation date: :class:`WhoisNoDate`;
5. anything else (empty, another domain, noise): :class:`WhoisBadResponse`.

Parsing takes time linear in the answer's size, whatever its bytes: a registry (or anything
answering on port 43) is outside input. Labels are found by one scan of the lower-cased text
for any label (no anchoring pattern that could backtrack over a run of blanks); each hit is
kept when only blanks or ``[`` stand between it and the start of its line (at most
:data:`MAX_INDENT` characters), and its value is read from at most :data:`MAX_LINE`
characters after it. At most :data:`MAX_LABEL_HITS` hits are looked at, and a date is read
from at most :data:`MAX_VALUE` characters.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator

import idna

from domain_stats.registry.registration import ORIGIN_WHOIS, Registration
from domain_stats.registry.whois.dates import DayOrder, WhoisDate, parse_whois_date
from domain_stats.registry.whois.errors import WhoisBadResponse, WhoisNoDate, WhoisNotFound, WhoisRateLimited
from domain_stats.registry.whois.rules import CREATED_LABELS, EXPIRES_LABELS, LIMIT_TEXTS, NOT_FOUND_TEXTS, rule_for

__all__ = ["MAX_INDENT", "MAX_LABEL_HITS", "MAX_LINE", "MAX_VALUE", "decode_answer", "parse_whois_answer"]

#: A label counts when at most this many blanks (or a ``[``) stand before it on its line.
MAX_INDENT = 16
#: How far after a label its value is looked for (the rest of a longer line is never read).
MAX_LINE = 1024
#: The longest value read as a date (real ones are under 50 characters).
MAX_VALUE = 100
#: Label hits looked at per kind of label (real answers have a handful; a hostile one, millions).
MAX_LABEL_HITS = 4096


def _label_pattern(labels: Iterable[str]) -> re.Pattern[str]:
    """Any label (lower case, the longest first), followed by what may follow a label; unanchored, so
    the scan is one pass that skips to each label's first letter."""
    alternatives = "|".join(re.escape(label.lower()) for label in sorted(labels, key=len, reverse=True))
    return re.compile(rf"(?:{alternatives})(?=[\s:.\]]|\Z)")


_CREATED = _label_pattern(CREATED_LABELS)
_EXPIRES = _label_pattern(EXPIRES_LABELS)


def decode_answer(raw: bytes) -> str:
    """The answer as text, whatever its encoding; never fails."""
    if b"\x1b$" in raw:  # ISO-2022-JP is 7-bit: it would pass for UTF-8
        with contextlib.suppress(UnicodeDecodeError):
            return raw.decode("iso-2022-jp")
    with contextlib.suppress(UnicodeDecodeError):
        return raw.decode("utf-8")
    return raw.decode("latin-1")


def parse_whois_answer(raw: bytes, domain: str, tld: str) -> Registration:
    """Dates of ``domain`` from its registry's answer; raises a :class:`WhoisError` subclass."""
    text = decode_answer(raw).lower()
    order = rule_for(tld).day_order
    created, unreadable = _first_date(_labelled_values(_CREATED, text), order)
    if created is not None:
        expires, _ = _first_date(_labelled_values(_EXPIRES, text), order)
        return Registration(created.epoch, None if expires is None else expires.epoch, ORIGIN_WHOIS)
    lowered = " ".join(text.split())
    if any(phrase in lowered for phrase in LIMIT_TEXTS):
        raise WhoisRateLimited(f"the server refused: {_quote(text)}")
    if any(phrase in lowered for phrase in NOT_FOUND_TEXTS):
        raise WhoisNotFound(f"the registry has no record of {domain}")
    if unreadable is not None:
        raise WhoisBadResponse(f"unreadable creation date {unreadable!r}")
    if _names(lowered, domain):
        raise WhoisNoDate(f"the registry publishes no creation date for {domain}")
    raise WhoisBadResponse(f"not an answer about {domain}: {_quote(text)}")


def _labelled_values(pattern: re.Pattern[str], text: str) -> Iterator[str]:
    """The value of each line that starts with a label, in order: what follows the label on its own
    line (an empty "creation date:" must not take the next line's date), without the ``:``, dots,
    ``]`` and blanks between."""
    for hits, match in enumerate(pattern.finditer(text)):
        if hits >= MAX_LABEL_HITS:
            return
        start, end = match.span()
        before = text[max(0, start - MAX_INDENT - 1) : start]
        newline = before.rfind("\n")
        if newline >= 0:
            before = before[newline + 1 :]
        elif start > MAX_INDENT:
            continue  # too far from the start of its line: a word in a sentence
        if before.strip(" \t[\r"):
            continue
        stop = text.find("\n", end, end + MAX_LINE)
        line = text[end : stop if stop >= 0 else end + MAX_LINE]
        yield line.lstrip(" \t:.]")[:MAX_VALUE].strip()


def _first_date(values: Iterable[str], order: DayOrder | None) -> tuple[WhoisDate | None, str | None]:
    """The first labelled line whose value is a date; else the first labelled value that looks like
    one but cannot be read (a value without digits is another use of the word: "Registered until
    cancelled")."""
    unreadable = None
    for value in values:
        date = parse_whois_date(value, order)
        if date is not None:
            return date, None
        if unreadable is None and any(c.isdigit() for c in value):
            unreadable = value[:80]
    return None, unreadable


def _names(lowered: str, domain: str) -> bool:
    if domain in lowered:
        return True
    if "xn--" in domain:
        with contextlib.suppress(idna.IDNAError, UnicodeError):
            return idna.decode(domain) in lowered
    return False


def _quote(text: str) -> str:
    words = " ".join(text.split())
    return repr(words[:120] + ("..." if len(words) > 120 else ""))
