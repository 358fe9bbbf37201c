"""The central server's rules, in plain Python: who is asking, and what to answer them.

The HTTP layer (:mod:`domain_stats.central.app`) only parses and authenticates; tests and
the app drive :class:`CentralService` the same way. Unknown domains are resolved with the
lookup service's own registry engine (RDAP, WHOIS where a TLD has no RDAP); the community's
first contact is recorded once a domain has a good answer, so ``ISC-FIRST-CONTACT`` reaches
exactly one client that can use it (a registry failure is not anyone's first contact). As in
the lookup service, no query waits long in a registry server's line (``RDAP-QUEUED`` or
``WHOIS-QUEUED``, not cached, while the query goes on) and an expired registration is
answered as stored while it is refreshed in the background.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from domain_stats.alerts import ISC_FIRST_CONTACT, PROHIBITED_TLD
from domain_stats.central.keys import hash_key
from domain_stats.central.policy import Policy
from domain_stats.central.store import CentralStore, Known
from domain_stats.central_protocol import (
    TTL_NO_EXPIRY,
    TTL_NOT_CACHED,
    TTL_PERMANENT,
    ConfigAnswer,
    ProtocolError,
    QueryAnswer,
    QueryError,
    StatusAnswer,
    StatusReport,
    check_domain_text,
)
from domain_stats.names import DEFAULT_PROHIBITED, InvalidName, NameReducer
from domain_stats.registry.engine import Registries
from domain_stats.registry.registration import ORIGIN_CENTRAL, NoRegistryServer, Registration, RegistryError
from domain_stats.registry.scheduler import Job, Priority
from domain_stats.registry.singleflight import Queued, SingleFlight

__all__ = ["CentralService"]

log = logging.getLogger(__name__)


class CentralService:
    def __init__(
        self,
        *,
        store: CentralStore,
        registries: Registries,
        names: NameReducer,
        registry_error_ttl_hours: float,
        queue_wait_seconds: float = 1.0,
        line_max: int = 20_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._line_max = line_max
        self.registries = registries
        self.names = names
        self._error_ttl_hours = registry_error_ttl_hours
        self._clock = clock
        self._queue_wait = queue_wait_seconds
        self._inflight: SingleFlight[str, Registration] = SingleFlight()  # one registry query per domain
        self._refreshing: SingleFlight[str, None] = SingleFlight()
        self._applied_prohibited: tuple[str, ...] | None = None

    async def client_for(self, api_key: str) -> str | None:
        """The client an API key belongs to, or None for a missing, unknown or revoked key."""
        if not api_key:
            return None
        return await self.store.client_for_key(hash_key(api_key))

    async def policy(self) -> Policy:
        policy = Policy.from_stored(await self.store.policy_values())
        if policy.prohibited_tlds != self._applied_prohibited:
            self.names.set_prohibited([*DEFAULT_PROHIBITED, *policy.prohibited_tlds])
            self._applied_prohibited = policy.prohibited_tlds
        return policy

    async def config(self) -> ConfigAnswer:
        return (await self.policy()).config_answer()

    async def status(self, client: str, report: StatusReport, address: str) -> StatusAnswer:
        policy = await self.policy()
        denied = await self.store.record_status(client, report, address, self._clock())
        return StatusAnswer(policy.status_interval, denied)

    async def query(self, client: str, raw: str) -> QueryAnswer | QueryError:
        """Facts about ``raw``'s registered domain, recording the community's first contact."""
        (answer,) = await self.query_many(client, [raw])
        if isinstance(answer, ProtocolError):
            raise answer
        return answer

    async def query_many(self, client: str, raws: list[Any]) -> list[QueryAnswer | QueryError | ProtocolError]:
        """What :meth:`query` answers for each name, in order (a bad name's :class:`ProtocolError` in its
        place): the stored facts read and the first contacts recorded in set-based statements, the
        unknown domains resolved together."""
        await self.policy()
        answers: list[QueryAnswer | QueryError | ProtocolError | None] = [None] * len(raws)
        wanted: dict[str, list[int]] = {}
        for i, raw in enumerate(raws):
            try:
                domain = self.names.reduce(check_domain_text(raw)).domain
            except ProtocolError as err:
                answers[i] = err
                continue
            except InvalidName as err:
                answers[i] = ProtocolError(f"domain: {err}")
                continue
            if domain is None:
                answers[i] = QueryError(TTL_PERMANENT, (PROHIBITED_TLD,))
            else:
                wanted.setdefault(domain, []).append(i)
        domains = sorted(wanted)  # one lock order for concurrent batches
        known = await self.store.known_many(domains)
        facts = dict(zip(domains, await asyncio.gather(*(self._facts(d, known[d]) for d in domains)), strict=True))
        good = [d for d in domains if not isinstance(facts[d], QueryError)]
        seen = await self.store.record_queries(good, client, self._clock())
        for domain, places in wanted.items():
            found = facts[domain]
            if isinstance(found, QueryError):
                for i in places:
                    answers[i] = found
                continue
            when, first = seen[domain]
            for n, i in enumerate(places):
                alerts = ((ISC_FIRST_CONTACT,) if first and n == 0 else ()) + known[domain].alerts
                answers[i] = QueryAnswer(found[0], found[1], float(when), alerts)
        return [answer for answer in answers if answer is not None]

    async def _facts(self, domain: str, known: Known) -> tuple[float, float | None] | QueryError:
        """``(created, expires)`` of ``domain``: stored, or resolved now (an error answer if not)."""
        if known.created is None:
            if len(self._inflight) >= self._line_max and domain not in self._inflight:
                # The line is full: answered as queued, not kept (the member asks again).
                return QueryError(TTL_NOT_CACHED, (self.registries.queued_alert(domain), *known.alerts))
            try:
                found, _ = await self._inflight.run(
                    domain, lambda job: self._resolve_and_store(domain, job), wait=self._queue_wait
                )
            except Queued:
                return QueryError(TTL_NOT_CACHED, (self.registries.queued_alert(domain), *known.alerts))
            except RegistryError as err:
                return QueryError(self.error_ttl(err), (err.alert, *known.alerts))
            return found.created, found.expires
        if self._needs_refresh(known.expires, known.updated, self._clock()):
            # Stale beats waiting: the stored facts stand while the refresh runs in the background.
            self._refreshing.submit(domain, lambda job: self._refresh(domain, job), Priority.REFRESH)
        return float(known.created), None if known.expires is None else float(known.expires)

    def _needs_refresh(self, expires: float | None, updated: float | None, now: float) -> bool:
        """An expired registration is asked again, at most once per error TTL (lapsed domains stay lapsed)."""
        if expires is None or expires > now:
            return False
        return updated is None or now - updated >= self._error_ttl_hours * 3600

    def error_ttl(self, err: RegistryError) -> int:
        """How long clients may cache a registry failure, in the protocol's terms.

        The registry's own lasting answer (not found, no creation date published): the
        configured RDAP error TTL, in whole hours. No server for the TLD: no expiry (it will
        not change soon) but evictable. Anything else is transient (a timeout, a failing or
        rate-limiting registry): not cached, so clients ask again and get the answer as soon
        as the registry does; the engine's pauses keep the registry from being hammered.
        """
        if isinstance(err, NoRegistryServer):
            return TTL_NO_EXPIRY
        if err.settled:
            return math.ceil(self._error_ttl_hours) if self._error_ttl_hours > 0 else TTL_NOT_CACHED
        return TTL_NOT_CACHED

    async def _resolve_and_store(self, domain: str, job: Job) -> Registration:
        # A query that read the database just before another one's resolution was stored (and left
        # the single flight) would otherwise ask RDAP a second time; so would another server instance.
        known = await self.store.known(domain)
        if known.created is not None and not self._needs_refresh(known.expires, known.updated, self._clock()):
            expires = None if known.expires is None else float(known.expires)
            return Registration(float(known.created), expires, ORIGIN_CENTRAL)
        found = await self.registries.lookup(domain, job)
        await self.store.save_registration(domain, found.created, found.expires, self._clock())
        return found

    async def _refresh(self, domain: str, job: Job) -> None:
        try:
            await self._resolve_and_store(domain, job)
        except RegistryError as err:
            log.info("refresh of expired %s failed (%s); its stored facts stand", domain, err.alert)
            # Not asked again before the error TTL: ``updated`` says when it was last tried.
            known = await self.store.known(domain)
            if known.created is not None:
                await self.store.save_registration(domain, known.created, known.expires, self._clock())

    async def close(self) -> None:
        await self._inflight.cancel_all()
        await self._refreshing.cancel_all()
