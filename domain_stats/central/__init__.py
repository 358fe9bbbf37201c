"""The community (central) server: ``domain-stats central serve DIR`` and its admin commands.

:mod:`~domain_stats.central_protocol` is the wire format it shares with ``mode: isc`` clients.
"""
