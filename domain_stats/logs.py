"""One logging setup for every process (the CLI, and each server worker): plain lines on stderr."""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["LEVELS", "log_config"]

#: ``log_detail`` -> level: 0 warnings and errors, 1 start-up and upstream problems, 2 every lookup.
LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}


def log_config(log_detail: int) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict; the HTTP server's own loggers write the same way."""
    level = LEVELS[log_detail]
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "plain"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "_granian": {"handlers": ["stderr"], "level": level, "propagate": False},
            "granian.access": {"handlers": ["stderr"], "level": logging.WARNING, "propagate": False},
        },
    }
