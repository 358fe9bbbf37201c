"""The registry engine: asks registries (RDAP, WHOIS) when a domain was registered.

One room for everything upstream of the two servers: ``engine.py`` picks the protocol per TLD,
``rdap/`` and ``whois/`` speak them, ``scheduler.py`` keeps one line per registry server,
``singleflight.py`` asks once per domain however many wait, ``registration.py`` holds the
result type and the error root, and ``settings.py`` the engine's own settings model. The
engine takes plain values (that model, a data directory); it never imports the servers, their
settings files or storage (import contracts in ``pyproject.toml``).
"""
