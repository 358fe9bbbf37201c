"""``domain-stats`` and ``python -m domain_stats``.

Light on purpose: a worker process started by ``spawn`` (``enrich --jobs``) imports the main
module again before it does anything, and the command line's modules take about 0.6 s to import;
this module imports them only when it runs the command.
"""

from __future__ import annotations

__all__ = ["run"]


def run() -> None:
    from domain_stats.cli import main

    main()


if __name__ == "__main__":
    run()
