"""The lookup service: what a SIEM asks, one HTTP request per log event.

``supervisor`` runs ``worker`` processes on one port; each builds a ``runtime`` (database,
memory ``cache``, upstream, background work) and answers with ``http_server`` + ``app`` over
the lookup rules in ``service``. See ``docs/architecture.md`` for the whole map.
"""
