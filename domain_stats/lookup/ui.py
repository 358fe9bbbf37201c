"""The status page (``/ui``): HTML drawn on the server, charts as inline SVG, no script at all.

Two views: the overview (``/ui``: totals, lookups a minute and memory-cache efficiency over the
last hours, upstream health per server, the latest community alerts) and the day's first
contacts (``/ui/contacts``: newest first, NEW only on request, searchable with ``?q=``). Every
value that came from outside (a domain, an upstream's pause reason) is HTML-escaped, and the
page is served with a Content-Security-Policy that allows no script, so a hostile name in a log
cannot run in the analyst's browser. Pure functions of the figures: the runtime gathers them.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from domain_stats.dates import format_date
from domain_stats.lookup.answer import NEW, AnswerFormatter, Facts
from domain_stats.lookup.metrics import upstream_servers
from domain_stats.storage import Contact

__all__ = ["CONTACTS_LIMIT", "HEADERS", "contacts_page", "overview_page"]

CONTACTS_LIMIT = 500
#: The page's own headers: HTML, and no script, frame or outside resource of any kind.
HEADERS = (
    b"content-type: text/html; charset=utf-8\r\n"
    b"content-security-policy: default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    b"frame-ancestors 'none'\r\n"
    b"x-content-type-options: nosniff\r\n"
    b"cache-control: no-store\r\n"
)

_STYLE = """
body{font:14px system-ui,sans-serif;margin:0;color:#1d2733;background:#f4f6f8}
header{background:#1d2733;color:#fff;padding:10px 20px;display:flex;gap:24px;align-items:center}
header a{color:#cfe3ff;text-decoration:none}header a.on{color:#fff;font-weight:600}
main{padding:16px 20px}section{background:#fff;border-radius:6px;padding:12px 16px;margin-bottom:16px}
h1{font-size:18px;margin:0}h2{font-size:15px;margin:0 0 8px}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{background:#fff;border-radius:6px;padding:10px 16px;min-width:140px}
.card b{display:block;font-size:22px}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e3e8ee}th{font-weight:600}
.new{color:#b42318;font-weight:600}.paused{color:#b42318}.ok{color:#067647}.muted{color:#667085}
svg{background:#fafbfc;border:1px solid #e3e8ee}form{margin-bottom:10px}
"""


def _page(title: str, active: str, body: str) -> bytes:
    links = "".join(
        f'<a href="{href}"{" class=on" if name == active else ""}>{name}</a>'
        for name, href in (("Overview", "/ui"), ("First contacts", "/ui/contacts"))
    )
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><header><h1>domain-stats</h1>{links}</header>"
        f"<main>{body}</main></body></html>"
    ).encode()


def overview_page(figures: list[dict[str, Any]], now: float) -> bytes:
    """Totals, charts, upstream health and community alerts, from every worker's figures."""
    lookups = sum(sum(f["lookups"].values()) for f in figures)
    hits = sum(f["lookups"]["memory"] for f in figures)
    cards = [
        ("Lookups", f"{lookups:,}"),
        ("Memory cache hits", f"{hits / lookups:.1%}" if lookups else "-"),
        ("First contacts", f"{sum(f['counters']['first_contacts'] for f in figures):,}"),
        ("NEW answers", f"{sum(f['counters']['new_answers'] for f in figures):,}"),
        ("Workers", str(len(figures))),
    ]
    minutes = _activity(figures)
    body = (
        "<div class=cards id=totals>"
        + "".join(f"<div class=card>{html.escape(label)}<b>{value}</b></div>" for label, value in cards)
        + "</div><section id=lookup-rate><h2>Lookups a minute</h2>"
        + _chart([(m, counts[0]) for m, counts in minutes], now, unit="lookups")
        + "</section><section id=cache-efficiency><h2>Memory cache hits, % of lookups a minute</h2>"
        + _chart([(m, 100 * c[1] / c[0]) for m, c in minutes if c[0]], now, unit="%", top=100)
        + "</section><section id=upstream><h2>Upstream servers</h2>"
        + _upstream_table(figures)
        + "</section><section id=community><h2>Alerts from the community (latest first)</h2>"
        + _once_table(figures)
        + "</section>"
    )
    return _page("domain-stats status", "Overview", body)


def _activity(figures: list[dict[str, Any]]) -> list[tuple[int, list[int]]]:
    """Lookups and memory-cache hits per minute, summed over the workers, oldest first."""
    minutes: dict[int, list[int]] = {}
    for f in figures:
        for minute, (lookups, hits) in f.get("activity", {}).items():
            bucket = minutes.setdefault(int(minute), [0, 0])
            bucket[0] += lookups
            bucket[1] += hits
    return sorted(minutes.items())


def _chart(points: list[tuple[int, float]], now: float, *, unit: str, top: float | None = None) -> str:
    """Bars, one a minute, from the first minute with figures to now (an SVG, drawn here)."""
    width, height = 720, 160
    if not points:
        empty = '<text x=10 y=80 fill="#667085">no lookups yet</text>'
        return f"<svg width={width} height={height} data-points=0>{empty}</svg>"
    first, last = points[0][0], max(int(now // 60), points[-1][0])
    span = max(last - first + 1, 10)
    peak = top or max(value for _, value in points) or 1
    bar = width / span
    bars = "".join(
        f'<rect x="{(minute - first) * bar:.1f}" y="{height - 20 - (height - 30) * value / peak:.1f}" '
        f'width="{max(bar - 1, 1):.1f}" height="{(height - 30) * value / peak:.1f}" fill="#2e90fa">'
        f"<title>{value:,.0f} {unit}</title></rect>"
        for minute, value in points
    )
    label = f'<text x=4 y=12 font-size=11 fill="#667085">{peak:,.0f} {unit}</text>'
    axis = f'<text x=4 y={height - 4} font-size=11 fill="#667085">{span} minutes, now at the right</text>'
    return f"<svg width={width} height={height} data-points={len(points)}>{label}{bars}{axis}</svg>"


_UPSTREAM_COUNTS = ("requests", "rate_limited", "failures", "pauses")


def _upstream_table(figures: list[dict[str, Any]]) -> str:
    servers = upstream_servers(figures)
    if not servers:
        return "<p class=muted>No upstream server asked yet.</p>"
    rows = []
    for server, stats in sorted(servers.items()):
        paused = [s for s in stats if s.get("paused")]
        state = (
            f"<span class=paused>paused: {html.escape(paused[0].get('pause_reason', ''))}</span>"
            if paused
            else "<span class=ok>healthy</span>"
        )
        queued = _total(s.get("queued", {}) for s in stats)
        rows.append(
            f"<tr><td>{html.escape(server)}</td><td>{state}</td>"
            + "".join(f"<td>{sum(s.get(key, 0) for s in stats):,}</td>" for key in _UPSTREAM_COUNTS)
            + f"<td>{html.escape(', '.join(f'{k} {v}' for k, v in queued.items() if v) or '0')}</td></tr>"
        )
    names = ("server", "state", "requests", "429s", "failures", "pauses", "queued")
    head = "<tr>" + "".join(f"<th>{name}</th>" for name in names) + "</tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _total(queues: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for queue in queues:
        for priority, length in queue.items():
            total[priority] = total.get(priority, 0) + length
    return total


def _once_table(figures: list[dict[str, Any]]) -> str:
    alerts = sorted((tuple(a) for f in figures for a in f.get("recent_once", [])), reverse=True)
    if not alerts:
        return "<p class=muted>None since the service started.</p>"
    rows = "".join(
        f"<tr><td>{format_date(when)}</td><td>{html.escape(domain)}</td><td>{html.escape(alert)}</td></tr>"
        for when, domain, alert in alerts[:50]
    )
    return f"<table><tr><th>when (UTC)</th><th>domain</th><th>alert</th></tr>{rows}</table>"


def contacts_page(
    contacts: list[Contact], *, formatter: AnswerFormatter, now: float, query: str, only_new: bool, since: float
) -> bytes:
    """The day's first contacts, newest first, with each domain's age and category."""
    rows = []
    for contact in contacts:
        facts = Facts(contact.created, None, contact.origin or "", contact.seen_by_isc, contact.seen_by_you)
        answer = formatter.render(facts, now=now)
        age = f"{(now - contact.created) / 86400:,.0f} days" if contact.created is not None else "unknown"
        category = f"<span class=new>{NEW}</span>" if answer.category == NEW else html.escape(answer.category)
        rows.append(
            f"<tr class=contact><td>{html.escape(answer.seen_by_you)}</td>"
            f"<td class=domain>{html.escape(contact.domain)}</td>"
            f"<td>{html.escape(answer.seen_by_web)}</td><td>{age}</td><td>{category}</td>"
            f"<td>{html.escape(answer.seen_by_isc)}</td></tr>"
        )
    toggle = urlencode({"q": query, **({} if only_new else {"new": "1"})})
    form = (
        f'<form method=get action="/ui/contacts"><input name=q value="{html.escape(query, quote=True)}" '
        f'placeholder="part of a domain" aria-label="search"> '
        + ("<input type=hidden name=new value=1>" if only_new else "")
        + f'<button type=submit>Search</button> <a href="/ui/contacts?{html.escape(toggle)}">'
        f"{'all first contacts' if only_new else 'NEW domains only'}</a></form>"
    )
    what = "NEW domains first contacted" if only_new else "First contacts"
    heading = f"{what} since {html.escape(formatter.date(since))}"
    if query:
        heading += f", containing “{html.escape(query)}”"
    table = (
        "<table id=contacts><tr><th>first contact</th><th>domain</th><th>registered</th><th>age</th>"
        f"<th>category</th><th>seen_by_isc</th></tr>{''.join(rows)}</table>"
        if rows
        else "<p class=muted id=contacts>No first contacts match.</p>"
    )
    more = f"<p class=muted>The newest {CONTACTS_LIMIT} are shown.</p>" if len(contacts) >= CONTACTS_LIMIT else ""
    body = f"<section><h2>{heading}</h2>{form}{table}{more}</section>"
    return _page("domain-stats first contacts", "First contacts", body)
