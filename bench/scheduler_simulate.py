"""Benchmark: time of Scheduler.select per request at 100, 1,000 and 10,000 hosts.

Default filters and RAMWeigher; requests of mixed flavors, some with an AZ, a few hosts
disabled or full so the filters reject something. Prints median and p95 per request and how
cost grows against host count. Run: .venv/bin/python bench/scheduler_simulate.py [N_REQUESTS]
"""
from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.scheduler import Flavor, HostState, RequestSpec, Scheduler  # noqa: E402

SIZES = (100, 1_000, 10_000)
FLAVORS = [Flavor(vcpus=1, memory_mb=1024, root_gb=10), Flavor(vcpus=2, memory_mb=4096, root_gb=40),
           Flavor(vcpus=4, memory_mb=8192, root_gb=80, swap_mb=2048),
           Flavor(vcpus=8, memory_mb=32768, root_gb=160, ephemeral_gb=100)]


def make_hosts(n: int, rnd: random.Random) -> list[HostState]:
    hosts = []
    for i in range(n):
        mem = rnd.choice((65536, 131072, 262144))
        disk = rnd.choice((1000, 2000, 4000))
        hosts.append(HostState(
            name=f"host{i:05d}", az=f"az{i % 3}", vcpus=rnd.choice((16, 32, 64)),
            vcpus_used=rnd.randint(0, 200), memory_mb=mem,
            memory_mb_used=rnd.randint(0, int(mem * 1.6)), disk_gb=disk,
            disk_gb_used=rnd.randint(0, disk), enabled=rnd.random() > 0.02,
            num_instances=rnd.randint(0, 40)))
    return hosts


def mixed_requests(n: int, rnd: random.Random) -> list[RequestSpec]:
    return [RequestSpec(flavor=rnd.choice(FLAVORS), az=rnd.choice((None, None, "az1")))
            for _ in range(n)]


def worst_requests(n: int, rnd: random.Random) -> list[RequestSpec]:
    """No AZ, the smallest flavor: nearly every host survives every filter and is weighed."""
    return [RequestSpec(flavor=FLAVORS[0]) for _ in range(n)]


def measure(n_hosts: int, n_requests: int, make_requests) -> tuple[float, float]:
    rnd = random.Random(n_hosts)
    hosts = make_hosts(n_hosts, rnd)
    requests = make_requests(n_requests, rnd)
    scheduler = Scheduler()  # default filters, {"RAMWeigher": 1.0}
    clock = time.perf_counter
    times = []
    for spec in requests:
        t0 = clock()
        decision = scheduler.select(spec, hosts)
        times.append(clock() - t0)
        assert decision.ok, decision.reason
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.95) - 1] * 1000


def table(title: str, n_requests: int, make_requests) -> float:
    print(f"\n{title}")
    print(f"{'hosts':>8} {'median ms':>10} {'p95 ms':>8} {'us/host':>8}  growth")
    prev = None
    for n in SIZES:
        median, p95 = measure(n, n_requests, make_requests)
        growth = "" if prev is None else f"x{median / prev[1]:.1f} for x{n // prev[0]} hosts"
        print(f"{n:>8} {median:>10.3f} {p95:>8.3f} {median * 1000 / n:>8.3f}  {growth}")
        prev = (n, median)
    return prev[1]


def main() -> None:
    n_requests = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(f"Scheduler.select() per request: default filters + RAMWeigher, {n_requests} "
          "requests per size")
    mixed = table("mixed flavors, a third with an AZ", n_requests, mixed_requests)
    worst = table("worst case: no AZ, smallest flavor", n_requests, worst_requests)
    for name, value in (("mixed", mixed), ("worst case", worst)):
        verdict = "meets" if value <= 2.0 else "MISSES"
        print(f"target median <= 2 ms at 10,000 hosts ({name}): {verdict} ({value:.3f} ms)")


if __name__ == "__main__":
    main()
