"""Process-wide CPU settings for training and benchmarks."""
from __future__ import annotations

import ctypes
import sys


def keep_freed_memory() -> bool:
    """Have glibc keep freed memory for reuse instead of unmapping every large block: otherwise
    each fresh tensor of more than 32 MB is paged in anew, which dominates large CPU batches.
    Returns whether it could (glibc only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD: serve blocks up to 1 GiB from the heap
    libc.mallopt(-1, (1 << 31) - 1)  # M_TRIM_THRESHOLD: never give the heap's top back
    return True
