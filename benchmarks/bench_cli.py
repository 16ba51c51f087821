"""`mixmo run aga-public-goods` as a whole process, start to finish (target: under 20 s on a 2-core CPU).

Run: python benchmarks/bench_cli.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main():
    times = []
    for i in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "mixmo.app.cli", "run", "aga-public-goods", "--quiet",
                            "--out", str(Path(tmp) / "r")], check=True, capture_output=True)
            times.append(time.perf_counter() - start)
    print("| command | runs | median wall (s) | min (s) |\n|---|---|---|---|")
    print(f"| mixmo run aga-public-goods | {len(times)} | {statistics.median(times):.1f} | {min(times):.1f} |")


if __name__ == "__main__":
    main()
