"""Several instances on one PostgreSQL, and PostgreSQL going away and coming back."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain_stats.alerts import DATABASE_UNAVAILABLE, YOUR_FIRST_CONTACT
from tests.support.postgres import fresh_schema_url, postgres_unavailable
from tests.support.rdap_server import RdapTestServer, write_bootstrap
from tests.support.services import RunningService, start_service, write_config


@pytest.fixture
def shared_postgres(request: pytest.FixtureRequest) -> str:
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    return fresh_schema_url(request)


async def test_three_instances_give_exactly_one_first_contact_per_domain(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer, shared_postgres: str
) -> None:
    domains = [f"shared-{i}.com" for i in range(200)]
    for domain in domains:
        rdap_server.add_domain(domain, "2010-01-01T00:00:00Z", "2040-01-01T00:00:00Z")
    instances = []
    for n in range(3):
        directory = tmp_path / f"instance{n}"
        write_config(
            directory,
            rdap_bootstrap=str(bootstrap_file),
            rdap_bootstrap_refresh_url="",
            database_url=shared_postgres,
            rdap_server_rate=500,  # about first contacts, not the registry's line
            upstream_queue_wait_seconds=30,
        )
        instances.append(await start_service(directory))
    try:
        asks = [(instance, f"h{k}.{domain}") for domain in domains for instance in instances for k in range(2)]
        answers = await asyncio.gather(*(instance.lookup(name) for instance, name in asks))
        first = Counter(
            name.split(".", 1)[1]
            for (_, name), answer in zip(asks, answers, strict=True)
            if YOUR_FIRST_CONTACT in answer["alerts"]
        )
        assert sum(first.values()) == 200
        assert set(first.values()) == {1}
        seen = {}
        for (_, name), answer in zip(asks, answers, strict=True):
            seen.setdefault(name.split(".", 1)[1], set()).add(answer["seen_by_you"])
        assert all(len(dates) == 1 for dates in seen.values())  # one organisation, one first contact
        assert all(answer["seen_by_web"] == "2010-01-01 00:00:00" for answer in answers)
    finally:
        for instance in instances:
            await instance.stop()


# ---- a PostgreSQL server of the test's own, to stop and start ----

_BIN = Path("/usr/lib/postgresql/15/bin")


class PrivatePostgres:
    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="ds-pg-"))
        shutil.chown(self.home, "postgres")
        self.data = self.home / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._as_postgres(str(_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-l", str(self.home / "log"), "start"
        )

    def stop(self) -> None:
        self._as_postgres(str(_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def kill(self) -> None:
        """Killed, not stopped: connections die mid-conversation (``-m immediate``)."""
        self._as_postgres(str(_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if os.geteuid() != 0 or not (_BIN / "initdb").exists() or shutil.which("runuser") is None:
        pytest.skip("starting a private PostgreSQL needs root, runuser and PostgreSQL 15's initdb")
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


async def test_database_outage_answers_error_promptly_and_recovers_without_restart(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer, private_postgres: PrivatePostgres
) -> None:
    for name in ("before.com", "during.com", "cached.com"):
        rdap_server.add_domain(name, "2011-01-01T00:00:00Z", "2041-01-01T00:00:00Z")
    directory = tmp_path / "instance"
    write_config(
        directory, rdap_bootstrap=str(bootstrap_file), rdap_bootstrap_refresh_url="", database_url=private_postgres.url
    )
    service = await start_service(directory)
    try:
        assert (await service.lookup("before.com"))["alerts"] == [YOUR_FIRST_CONTACT]
        await service.lookup("cached.com")

        await asyncio.to_thread(private_postgres.stop)
        down = await service.lookup("during.com")  # answered (the test's timeout would catch a hang)
        assert (down["seen_by_web"], down["alerts"]) == ("ERROR", [DATABASE_UNAVAILABLE])
        assert (await service.lookup("cached.com"))["seen_by_web"] == "2011-01-01 00:00:00"  # memory still answers
        _, health = await service.get("/health")
        assert health == {"status": "ok"}

        await asyncio.to_thread(private_postgres.start)
        back = await service.lookup("during.com")
        assert (back["seen_by_web"], back["alerts"]) == ("2011-01-01 00:00:00", [YOUR_FIRST_CONTACT])
        assert (await service.lookup("before.com"))["alerts"] == []  # nothing lost
        stored = await service.service.storage.get("before.com")
        assert stored.registration is not None and stored.seen_by_you is not None
    finally:
        await service.stop()


async def no_registry_service(tmp_path: Path, rdap_server: RdapTestServer, database_url: str) -> RunningService:
    """A service whose names under .de have no registry (NO-SERVER at once): a lookup of one is the
    database's work alone."""
    bootstrap = write_bootstrap(tmp_path / "bootstrap.json", rdap_server.url, without=("de",))
    directory = tmp_path / "instance"
    write_config(
        directory,
        rdap_bootstrap=str(bootstrap),
        rdap_bootstrap_refresh_url="",
        whois_packaged_map=False,
        database_url=database_url,
    )
    return await start_service(directory)


async def test_a_killed_database_is_database_unavailable_never_a_500(
    tmp_path: Path, rdap_server: RdapTestServer, private_postgres: PrivatePostgres
) -> None:
    """Killed under load: asyncpg raised InternalClientError from pool.release, answered 500."""
    service = await no_registry_service(tmp_path, rdap_server, private_postgres.url)
    try:
        statuses: list[int] = []

        async def keep_asking(worker: int) -> None:
            for n in range(60):
                async with service.client.get(f"{service.url}/w{worker}-{n}.de") as resp:
                    statuses.append(resp.status)
                    answer = await resp.json()
                assert answer["seen_by_web"] == "ERROR"  # NO-SERVER, or DATABASE-UNAVAILABLE

        askers = [asyncio.ensure_future(keep_asking(w)) for w in range(20)]
        await asyncio.to_thread(private_postgres.kill)
        await asyncio.gather(*askers)
    finally:
        await service.stop()
        await asyncio.to_thread(private_postgres.start)
    assert set(statuses) == {200}


async def test_two_large_batches_of_new_names_on_a_healthy_database_all_get_their_first_contact(
    tmp_path: Path, rdap_server: RdapTestServer, shared_postgres: str
) -> None:
    """Two concurrent /batch of 10,000 new names: the database work goes in groups, so none waits for
    a pool connection past its patience (once: 80% DATABASE-UNAVAILABLE, first contacts lost)."""
    service = await no_registry_service(tmp_path, rdap_server, shared_postgres)
    try:
        batches = [[f"big{b}-{n}.de" for n in range(10_000)] for b in range(2)]
        answers = await asyncio.gather(*(service.batch(names) for names in batches))
        again = await service.batch(batches[0][:100])
    finally:
        await service.stop()
    alerts = Counter(alert for batch in answers for answer in batch for alert in answer["alerts"])
    assert alerts[DATABASE_UNAVAILABLE] == 0
    assert alerts[YOUR_FIRST_CONTACT] == 20_000
    assert all(YOUR_FIRST_CONTACT not in answer["alerts"] for answer in again)
    assert rdap_server.requests == []
