"""Where an update feed comes from: an HTTP(S) base URL (a feed host, or the central server's
``/feed``) or a local directory. Files are streamed to disk while their SHA-256 is computed,
so a feed file of any size costs a few chunks of memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from domain_stats.feed.format import INDEX_NAME, FeedError, FeedIndex

__all__ = ["DEFAULT_MAX_FILE_BYTES", "DirectoryFeed", "FeedSource", "HttpFeed", "Progress", "open_feed"]

_CHUNK = 256 * 1024
_MAX_INDEX_BYTES = 4 * 1024 * 1024
#: Largest feed file taken by default, counted as it is written (after any gzip decoding): a
#: million-line file is about 60 MB, so this is generous, and a never-ending body stops here.
DEFAULT_MAX_FILE_BYTES = 1024 * 1024 * 1024

Progress = Callable[[int], None]  # bytes received since the last call


class FeedSource(Protocol):
    location: str

    async def index(self) -> FeedIndex: ...

    async def fetch(self, name: str, dest: Path, progress: Progress | None = None) -> str:
        """Copy feed file ``name`` to ``dest``; returns its SHA-256 (hex). FeedError if it cannot."""
        ...

    async def close(self) -> None: ...


class DirectoryFeed:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.location = str(self.path)

    async def index(self) -> FeedIndex:
        try:
            data = await asyncio.to_thread((self.path / INDEX_NAME).read_bytes)
        except OSError as err:
            raise FeedError(f"cannot read {self.path / INDEX_NAME}: {err.strerror}") from None
        return FeedIndex.parse(data)

    async def fetch(self, name: str, dest: Path, progress: Progress | None = None) -> str:
        return await asyncio.to_thread(self._copy, self.path / name, dest, progress)

    @staticmethod
    def _copy(source: Path, dest: Path, progress: Progress | None) -> str:
        digest = hashlib.sha256()
        try:
            with open(source, "rb") as src, open(dest, "wb") as out:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    if progress is not None:
                        progress(len(chunk))
        except OSError as err:
            raise FeedError(f"cannot read {source}: {err.strerror}") from None
        return digest.hexdigest()

    async def close(self) -> None:
        return None


class HttpFeed:
    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 300.0,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    ) -> None:
        import aiohttp

        self.max_file_bytes = max_file_bytes
        self.base = base_url.rstrip("/") + "/"
        self.location = base_url
        self._errors = (aiohttp.ClientError, TimeoutError, OSError)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ssl_context if ssl_context is not None else True),
            headers=headers or {},
            timeout=aiohttp.ClientTimeout(total=timeout, sock_read=60),
        )

    async def index(self) -> FeedIndex:
        try:
            async with self._session.get(self.base + INDEX_NAME) as resp:
                if resp.status != 200:
                    raise FeedError(f"{self.base}{INDEX_NAME}: HTTP {resp.status}")
                # read(n) returns what is buffered, not n bytes: gather chunks up to the limit.
                data = bytearray()
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    data += chunk
                    if len(data) > _MAX_INDEX_BYTES:
                        break
        except self._errors as err:
            raise FeedError(f"cannot download {self.base}{INDEX_NAME}: {err or type(err).__name__}") from None
        if len(data) > _MAX_INDEX_BYTES:
            raise FeedError(f"{self.base}{INDEX_NAME} is larger than {_MAX_INDEX_BYTES} bytes")
        return FeedIndex.parse(bytes(data))

    async def fetch(self, name: str, dest: Path, progress: Progress | None = None) -> str:
        digest = hashlib.sha256()
        url = self.base + name
        too_large = f"{name} is larger than {self.max_file_bytes} bytes (feed_max_file_mb); nothing applied"
        try:
            out = await asyncio.to_thread(open, dest, "wb")
            try:
                async with self._session.get(url) as resp:
                    if resp.status != 200:
                        raise FeedError(f"download of {name} failed: HTTP {resp.status}")
                    if (resp.content_length or 0) > self.max_file_bytes:  # said up front: not downloaded at all
                        raise FeedError(too_large)
                    size = 0
                    async for chunk in resp.content.iter_chunked(_CHUNK):  # decoded, if the body is gzip
                        size += len(chunk)
                        if size > self.max_file_bytes:
                            raise FeedError(too_large)
                        digest.update(chunk)
                        await asyncio.to_thread(out.write, chunk)
                        if progress is not None:
                            progress(len(chunk))
            finally:
                await asyncio.to_thread(out.close)
        except self._errors as err:
            raise FeedError(f"download of {name} failed: {err or type(err).__name__}") from None
        return digest.hexdigest()

    async def close(self) -> None:
        await self._session.close()


def open_feed(
    location: str,
    *,
    headers: dict[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> FeedSource:
    """An HTTP(S) base URL or a directory."""
    if location.startswith(("http://", "https://")):
        return HttpFeed(location, headers=headers, ssl_context=ssl_context, max_file_bytes=max_file_bytes)
    path = Path(location).expanduser()
    if not path.is_dir():
        raise FeedError(f"{location} is neither an http(s) URL nor a directory")
    return DirectoryFeed(path)
