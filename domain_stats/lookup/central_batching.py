"""Names waiting for the central server go to it together: one ``query_many`` instead of many ``query``.

A burst of new names in ``mode: central`` used to be one request per name. Names asked within
:data:`WINDOW_SECONDS` of each other (up to ``MAX_QUERY_MANY``) now travel in one
``query_many``; each asker gets its own name's answer (or error) back, exactly what ``query``
would have given it. A server that answers ``query_many`` with 400 (an older server, which
does not know the command) is asked with ``query`` from then on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from domain_stats.central_protocol import MAX_QUERY_MANY

__all__ = ["WINDOW_SECONDS", "Asker", "Coalescer"]

#: How long the first name of a batch waits for others to join it.
WINDOW_SECONDS = 0.002


class Asker(Protocol):
    """What the coalescer needs of the central-server client."""

    async def query(self, domain: str) -> Any: ...

    async def query_many(self, domains: list[str]) -> list[Any]: ...


class Coalescer:
    """``older(err)``: is ``err`` the 400 of a server that does not know ``query_many``?"""

    def __init__(self, client: Asker, older: Callable[[Exception], bool]) -> None:
        self.client = client
        self._older = older
        #: False once the server answered ``query_many`` with 400: it is an older server.
        self.many = True
        self._pending: list[tuple[str, asyncio.Future[Any]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self.batches = 0

    async def query(self, domain: str) -> Any:
        """What :meth:`CentralClient.query` returns for ``domain`` (or raises), asked together with others."""
        if not self.many:
            return await self.client.query(domain)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((domain, future))
        if len(self._pending) >= MAX_QUERY_MANY:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(WINDOW_SECONDS, self._flush)
        result = await future
        if isinstance(result, Exception):
            raise result
        return result

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[str, asyncio.Future[Any]]]) -> None:
        try:
            results = await self._ask([domain for domain, _ in batch])
        except Exception as err:  # the request failed: every name in it did
            results = [err] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _ask(self, domains: list[str]) -> list[Any]:
        if len(domains) > 1 and self.many:
            try:
                self.batches += 1
                return await self.client.query_many(domains)
            except Exception as err:
                if not self._older(err):
                    raise
                self.many = False  # an older server: one name a request from now on
        return list(await asyncio.gather(*(self._one(domain) for domain in domains)))

    async def _one(self, domain: str) -> Any:
        try:
            return await self.client.query(domain)
        except Exception as err:
            return err

    def stats(self) -> dict[str, Any]:
        return {"query_many": self.batches, "query_many_supported": self.many}
