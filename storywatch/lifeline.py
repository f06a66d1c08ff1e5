"""Processes that must not outlive the process that started them.

A crawl child of a cluster worker, the worker's zygote, and a crawl's forked writer would
each go on alone if their parent were killed with -9: a crawl nobody records, a zygote
nobody uses, a writer blocked for ever on a queue whose other end it holds itself (a
forked process inherits both ends of its pipes, so it never reads end-of-file). On Linux
the kernel can send them SIGKILL when their parent dies (PR_SET_PDEATHSIG); elsewhere
nothing is done.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(expected_parent: int | None = None) -> None:
    """SIGKILL this process when its parent dies; exit now if the parent has died already
    (that is, if `expected_parent` is no longer this process's parent)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)  # the parent died before prctl
