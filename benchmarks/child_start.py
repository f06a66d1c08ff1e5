"""What a crawl child costs to start: a new interpreter against a fork of the zygote.

Runs the same small crawl (one feed of the local fixture world, every article already
stored after the first run, so each run is mostly the child's start and its listing
fetch) N times as a new interpreter (`scheduler.children.Child`) and N times forked by
the zygote (`ForkedChild`, scheduler/zygote.py), interleaved, and prints per run the wall
time and the CPU the whole machine spent (from /proc/stat: the child and every process
it starts, the writer included; so run it on a quiet machine).

    python benchmarks/child_start.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storywatch.demo.config import demo_config_toml
from storywatch.demo.server import FixtureServer
from storywatch.scheduler.children import Child, ForkedChild, crawl_command
from storywatch.scheduler.zygote import start_zygote


def busy_seconds() -> float:
    """CPU seconds the machine has spent on anything but idling, since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / 100.0  # USER_HZ is 100 on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    zygote = start_zygote()
    if zygote is None:
        sys.exit("no zygote on this platform")
    figures: dict[str, dict[str, list[float]]] = {
        "new interpreter": {"wall": [], "cpu": []}, "forked": {"wall": [], "cpu": []}}
    with FixtureServer() as server, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "storywatch.toml"
        config.write_text(demo_config_toml(server.base_url, f"sqlite:///{tmp}/s.db",
                                           discovery={}), encoding="utf-8")
        command = crawl_command(["world-rss"], config_path=config, log_level="ERROR",
                                log_format="text")
        Child(command).wait(300)  # the first run stores the articles; not measured
        for _ in range(args.runs):
            for kind in figures:
                cpu, started = busy_seconds(), time.monotonic()
                child = Child(command) if kind == "new interpreter" else \
                    ForkedChild(zygote, command)
                code = child.wait(300)
                if code != 0:
                    sys.exit(f"{kind}: the crawl exited with {code}: {child.stderr_tail}")
                figures[kind]["wall"].append(time.monotonic() - started)
                figures[kind]["cpu"].append(busy_seconds() - cpu)
    zygote.close()
    for kind, f in figures.items():
        print(json.dumps({"child": kind, "runs": args.runs,
                          "wall_s_median": round(statistics.median(f["wall"]), 2),
                          "machine_cpu_s_median": round(statistics.median(f["cpu"]), 2)}))


if __name__ == "__main__":
    main()
