"""``domain-stats enrich``: logs in, the same events with a ``domain_stats`` object out.

:mod:`.formats` reads one line of a log format (no I/O), :mod:`.reading` reads lines from a
file, gzip or stdin and follows a growing log, :mod:`.answers` asks the running service (or
a data directory), :mod:`.pipeline` joins them block by block, :mod:`.cli` is the command.
"""
