"""Keep freed memory for the next block instead of handing it back to the kernel (glibc only).

Each block of a log makes and frees a few buffers of several megabytes (the block, its lines,
its JSON texts). glibc returns such buffers to the kernel when they are freed (``munmap``, or
trimming the top of the heap) and the next block faults the same amount in again: a million
lines of Zeek TSV cost about a million page faults, two seconds of system time out of six.
With a fixed mmap threshold and a high trim threshold the memory is reused instead (measured:
a quarter of the page faults, a third of the system time). This process sets them with
``mallopt``; the worker processes it starts read them from the environment, as glibc does at
start-up.
"""

from __future__ import annotations

import ctypes
import os
import platform

__all__ = ["keep_freed_memory"]

_MMAP_THRESHOLD = 32 << 20  # glibc's largest
_TRIM_THRESHOLD = 128 << 20
_TOP_PAD = 16 << 20
# mallopt's parameter numbers (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3


def keep_freed_memory() -> bool:
    """Tune this process and the processes it starts from now on; False where libc is not glibc."""
    if platform.libc_ver()[0] != "glibc":
        return False
    settings = {
        _M_MMAP_THRESHOLD: ("MALLOC_MMAP_THRESHOLD_", _MMAP_THRESHOLD),
        _M_TRIM_THRESHOLD: ("MALLOC_TRIM_THRESHOLD_", _TRIM_THRESHOLD),
        _M_TOP_PAD: ("MALLOC_TOP_PAD_", _TOP_PAD),
    }
    libc = ctypes.CDLL(None)
    for parameter, (variable, value) in settings.items():
        libc.mallopt(parameter, value)
        os.environ.setdefault(variable, str(value))  # a value the user set wins
    return True
