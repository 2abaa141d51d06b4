"""Benchmark, not a test: the median round trip of the probe against a local PostgreSQL 15
server over 100 probes.  Run from lambda/:  python3 bench_probe.py"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "tests"))

from conftest import Cluster, free_port, require_postgres  # noqa: E402

from drgen_lambda import probe  # noqa: E402


def main():
    require_postgres()
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="drgen-bench-")), free_port())
    cluster.init()
    cluster.start()
    try:
        times = []
        for _ in range(100):
            started = time.perf_counter()
            state = probe.probe("127.0.0.1", cluster.port, 2.0)
            times.append((time.perf_counter() - started) * 1000)
            assert state == probe.ACCEPTING, state
        times.sort()
        print(
            f"probe round trip over 100 probes: median {statistics.median(times):.2f} ms, "
            f"p95 {times[94]:.2f} ms, max {times[-1]:.2f} ms"
        )
    finally:
        cluster.stop(mode="immediate")


if __name__ == "__main__":
    main()
