"""Run every benchmark script in turn and print its Markdown table (copy them into RESULTS.md).

Run: python benchmarks/run_all.py [--device cpu|gpu] [--quick]
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = ["bench_directions.py", "bench_learn.py", "bench_cli.py", "bench_envs.py", "bench_d3c.py", "bench_smax.py"]

if __name__ == "__main__":
    for script in SCRIPTS:
        print(f"\n## {script}\n", flush=True)
        extra = [a for a in sys.argv[1:] if script != "bench_cli.py"]
        subprocess.run([sys.executable, str(HERE / script), *extra], check=True)
