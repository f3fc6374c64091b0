"""Run the reminder-engine benchmarks one after the other and print what they print.

`make bench` calls this. Each benchmark runs in its own process (each sets Django up on its
own scratch database) with its default sizes; run them directly for other sizes:

    .venv/bin/python bench/run_all.py
    .venv/bin/python bench/delivery.py --messages 2000
    .venv/bin/python bench/sweep.py --sizes 1000,10000,100000

Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (see bench/README.md).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = ["delivery.py", "sweep.py"]


def main() -> int:
    print(
        f"Jalon benchmarks, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, "
        f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    failed = []
    for script in SCRIPTS:
        print(f"\n=== bench/{script}\n", flush=True)
        if subprocess.run([sys.executable, str(BENCH / script)], check=False).returncode:
            failed.append(script)
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
