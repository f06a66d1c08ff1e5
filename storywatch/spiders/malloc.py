"""glibc's malloc told to give large freed blocks back to the system, in the crawl's
processes.

A crawl allocates and frees large blocks all the time: response bodies, decoded page
text, lxml's trees, batches of items on their way to the writer. glibc serves a block of
128 KiB or more from a mapping of its own, returned when freed, but it raises that
threshold to the size of every such block freed (up to 32 MiB), and the heap's trim
threshold with it. After the first few large pages, blocks of a page's size come from the
heap, where one small block still in use above them keeps the memory freed below from
going back: a process's resident memory then settles at what it once needed at most, and
is no longer returned. Fixing both thresholds at glibc's starting value keeps every large
block in a mapping of its own and trims the heap's top past 128 KiB.

Used by the crawl process (the reactor's responses) and the extraction workers (pages,
trees), where it lowered the process tree's peak PSS (benchmarks/crawl_real.py, 2,000
real pages with a topic; the figures are in the README's crawl table) at no cost to
extraction's speed (benchmarks/extraction_real.py). Set before the processes that
inherit it are forked, never after: glibc consolidates its free lists on every mallopt
call, and in a forked child that wrote to the pages it shares with its parent (each
extraction worker grew by 50 MB when its initializer made the call).

The writer, forked from the crawl process, inherits the thresholds and raises them to
the ceiling glibc's own adjustment would reach (`let_large_blocks_stay`): judging
allocates numpy arrays above 128 KiB, each then cost a fresh mapping and its page
faults, and `classify_throughput.py` judged 86-92 items/s against 123-148 with glibc's
default (129 with the raised thresholds).

No library exposes mallopt, so ctypes calls it. glibc only: musl, macOS and Windows have
neither the call nor the same growth, and are left as they are. The environment
variables MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ do the same, but only for
processes started after they are set; when a user has set either, that choice stands.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform

log = logging.getLogger(__name__)

# glibc's starting thresholds (malloc/malloc.c: DEFAULT_MMAP_THRESHOLD_MIN, and the trim
# threshold's default), kept fixed instead of growing with the blocks freed.
THRESHOLD = 128 * 1024
# The ceiling of glibc's adjustment on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX), and
# the trim threshold it sets beside it (twice the mmap threshold).
CEILING = 32 * 1024 * 1024
_M_TRIM_THRESHOLD = -1  # glibc's <malloc.h>
_M_MMAP_THRESHOLD = -3

_tuned = False


def keep_large_blocks_returnable() -> bool:
    """Fix glibc's mmap and trim thresholds for this process and the processes it forks
    from now on. Returns whether they are fixed (by this call or an earlier one)."""
    global _tuned
    if _tuned:
        return True
    if not on_glibc():
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False  # the user's own setting, applied by glibc at start
    _tuned = _set_thresholds(THRESHOLD, THRESHOLD)
    return _tuned


def let_large_blocks_stay() -> None:
    """In a process that inherited the fixed thresholds and allocates large arrays often
    (the writer's judge): the thresholds glibc's own adjustment would reach, so that such
    arrays are reused from the heap instead of mapped afresh each time."""
    global _tuned
    if _tuned and _set_thresholds(CEILING, 2 * CEILING):
        _tuned = False


def on_glibc() -> bool:
    """Whether this process's malloc is glibc's, the only one this module speaks to."""
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def _set_thresholds(mmap: int, trim: int) -> bool:
    try:
        # The process's own symbols: the interpreter is linked against libc.
        # (ctypes.util.find_library would run `ldconfig -p` in a subprocess to find it.)
        libc = ctypes.CDLL(None)
        return (libc.mallopt(_M_MMAP_THRESHOLD, mmap) == 1
                and libc.mallopt(_M_TRIM_THRESHOLD, trim) == 1)
    except (OSError, AttributeError) as exc:
        log.debug("malloc thresholds left as they are: %s", exc)
        return False


def tuned() -> bool:
    """Whether this process runs with the thresholds fixed low (a forked child inherits
    them, and this flag with them)."""
    return _tuned
