"""The crawl's processes give large freed blocks back to the system
(storywatch/spiders/malloc.py), where glibc's default would keep them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from storywatch.spiders.malloc import on_glibc

pytestmark = pytest.mark.skipif(not on_glibc(), reason="glibc's malloc only")

# A crawl in miniature: one large block freed (a big page), then page-sized blocks, each
# followed by a smaller one that stays (what the process keeps between pages; 40 KB, too
# big for the holes the interpreter's start left, so it lands above its page), then the
# pages freed. Prints how many MiB stayed resident (the blocks kept are 8 MiB).
_PAGES = """
import os, sys
from storywatch.spiders.malloc import keep_large_blocks_returnable, let_large_blocks_stay, tuned
if sys.argv[1] in ("fixed", "raised"):
    assert keep_large_blocks_returnable() and tuned()
if sys.argv[1] == "raised":  # the writer, forked from a tuned crawl process
    let_large_blocks_stay()
    assert not tuned()
def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
big = b"x" * (8 << 20)
del big
before = resident()
pages, kept = [], []
for _ in range(200):
    pages.append(b"p" * (1 << 20))
    kept.append(b"k" * 40000)
del pages
print((resident() - before) >> 20)
"""


def _kept_mib(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", _PAGES, mode], env=env, check=True,
                          capture_output=True, text=True, timeout=60)
    return int(done.stdout)


def test_freed_pages_go_back_to_the_system_once_the_thresholds_are_fixed() -> None:
    # glibc's default, the behaviour this works around: after the 8 MiB block, the 1 MiB
    # pages come from the heap and the small blocks between them pin it.
    assert _kept_mib("default") >= 150
    assert _kept_mib("fixed") <= 20


def test_the_writer_raises_them_again_for_its_arrays() -> None:
    """The judge's arrays reused from the heap, as under glibc's default (mapping each
    afresh cost a third of the judging speed): the pages stay, as by default."""
    assert _kept_mib("raised") >= 150


def test_a_users_own_malloc_setting_stands() -> None:
    script = ("from storywatch.spiders.malloc import keep_large_blocks_returnable, tuned\n"
              "print(keep_large_blocks_returnable(), tuned())")
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    done = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "False"]
