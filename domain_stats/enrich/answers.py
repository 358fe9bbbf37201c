"""Where enrich gets its answers: a running service (``POST /batch``) or a data directory.

Asking the running service is the normal way: its first contacts are the service's, so a
name that enrich sees first is not a first contact again when the SIEM asks. ``--data``
opens the data directory in this process, as ``domain-stats lookup`` does, for a host where
no service runs (it must not run beside a service on SQLite: one writer at a time).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
import orjson

from domain_stats.errors import UserError
from domain_stats.lookup.answer import invalid_name_answer
from domain_stats.lookup.app import MAX_BATCH_NAMES
from domain_stats.names import MAX_INPUT_CHARS, too_long

if TYPE_CHECKING:
    from domain_stats.lookup.runtime import Runtime

__all__ = ["AnswerSource", "DataDirAnswers", "ServiceAnswers"]

log = logging.getLogger(__name__)

_RETRY_MAX_SECONDS = 30.0
#: Largest request body sent (the service takes 4 MiB): names of escaped control bytes grow six-fold.
MAX_REQUEST_BYTES = 1 << 20


class _TooLarge(Exception):
    """The service answered 413: the request is split, or its one name answered here."""


class AnswerSource(Protocol):
    async def answers(self, names: list[str]) -> list[dict[str, Any]]:
        """One answer (the five fields) per name, in order."""
        ...

    async def close(self) -> None: ...


class ServiceAnswers:
    """Asks the service at ``url`` with ``POST /batch``, at most :data:`MAX_BATCH_NAMES` a request.

    ``keep_trying`` (``--follow``): a service that cannot be reached (restarting, say) is asked
    again, waiting longer each time up to 30 s, instead of ending the run.
    """

    def __init__(self, url: str, *, timeout: float = 120.0, keep_trying: bool = False) -> None:
        self.url = url.rstrip("/") + "/batch"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._keep_trying = keep_trying
        self._session: aiohttp.ClientSession | None = None

    async def answers(self, names: list[str]) -> list[dict[str, Any]]:
        """Names longer than any domain name are answered here, as the service would (INVALID-NAME),
        never sent; the rest go in requests of at most MAX_BATCH_NAMES names and MAX_REQUEST_BYTES."""
        if names and max(map(len, names)) > MAX_INPUT_CHARS:
            return await self._with_local_answers(names)
        found: list[dict[str, Any]] = []
        for start in range(0, len(names), MAX_BATCH_NAMES):
            found.extend(await self._sized(names[start : start + MAX_BATCH_NAMES]))
        return found

    async def _with_local_answers(self, names: list[str]) -> list[dict[str, Any]]:
        sent = [name for name in names if len(name) <= MAX_INPUT_CHARS]
        answered = iter(await self.answers(sent))
        return [
            next(answered) if len(name) <= MAX_INPUT_CHARS else invalid_name_answer(too_long(name)).as_dict()
            for name in names
        ]

    async def _sized(self, names: list[str]) -> list[dict[str, Any]]:
        """One request, or halves of it while its body is too large for the service."""
        body = orjson.dumps(names)
        if len(body) > MAX_REQUEST_BYTES and len(names) > 1:
            half = len(names) // 2
            return [*await self._sized(names[:half]), *await self._sized(names[half:])]
        try:
            return await self._batch(names, body)
        except _TooLarge:
            if len(names) == 1:
                return [invalid_name_answer("too large for the service to take").as_dict()]
            half = len(names) // 2
            return [*await self._sized(names[:half]), *await self._sized(names[half:])]

    async def _batch(self, names: list[str], body: bytes) -> list[dict[str, Any]]:
        wait = 1.0
        while True:
            try:
                return await self._ask(names, body)
            except (aiohttp.ClientConnectionError, TimeoutError) as err:
                problem = f"cannot reach domain-stats at {self.url}: {err or type(err).__name__}"
                if not self._keep_trying:
                    raise UserError(f"{problem}; start it with 'domain-stats serve', or use --data") from None
            log.warning("%s; asking again in %.0f s", problem, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, _RETRY_MAX_SECONDS)

    async def _ask(self, names: list[str], body: bytes) -> list[dict[str, Any]]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        headers = {"content-type": "application/json"}
        async with self._session.post(self.url, data=body, headers=headers) as response:
            payload = await response.read()
            if response.status == 413:
                raise _TooLarge
            if response.status != 200:
                raise UserError(f"domain-stats at {self.url} answered {response.status}: {payload[:200]!r}")
        try:
            answers = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise UserError(f"domain-stats at {self.url} did not answer JSON") from None
        if not isinstance(answers, list) or len(answers) != len(names):
            raise UserError(f"domain-stats at {self.url} answered {len(names)} names with something else")
        return answers

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class DataDirAnswers:
    """Looks names up in this process, over the data directory (the ``lookup`` command's way)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @classmethod
    async def open(cls, data_dir: Path) -> DataDirAnswers:
        from domain_stats.lookup.cli import command_settings
        from domain_stats.lookup.runtime import Runtime

        settings = command_settings(data_dir)
        return cls(await Runtime.start(settings, data_dir, refresh_bootstrap=False, primary=False))

    async def answers(self, names: list[str]) -> list[dict[str, Any]]:
        return [orjson.loads(body) for _status, body in await self._runtime.service.lookup_many(names)]

    async def close(self) -> None:
        await self._runtime.close()
