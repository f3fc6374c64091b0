"""Run the benchmarks one after the other and print what they print.

`make bench` calls this. Each benchmark runs in its own process (each sets Django up on its
own scratch database) with its default sizes, or with `--smoke` with the small sizes CI runs
in a few seconds (a benchmark that breaks fails CI); run them directly for other sizes:

    .venv/bin/python bench/run_all.py
    .venv/bin/python bench/run_all.py --smoke
    .venv/bin/python bench/delivery.py --messages 2000
    .venv/bin/python bench/sweep.py --sizes 1000,10000,100000
    .venv/bin/python bench/amend.py --runs 50
    .venv/bin/python bench/web.py --rounds 9

Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (see bench/README.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = ["delivery.py", "sweep.py", "amend.py", "web.py"]


def _services_missing() -> list[str]:
    missing = []
    for name, port in (("PostgreSQL", 5432), ("Redis", 6379)):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            missing.append(f"{name} on 127.0.0.1:{port}")
    return missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke", action="store_true", help="every benchmark at its small size (for CI)"
    )
    args = parser.parse_args()
    options = ["--smoke"] if args.smoke else []
    print(
        f"Jalon benchmarks, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, "
        f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    if args.smoke:
        print("Smoke sizes: this checks that every benchmark runs; its figures mean little.")
    if missing := _services_missing():
        # As the tests do: skip with the reason outside CI, fail under CI=true.
        print(f"Benchmarks need {' and '.join(missing)}: not reachable.", file=sys.stderr)
        return 1 if os.environ.get("CI", "").lower() == "true" else 0
    failed = []
    for script in SCRIPTS:
        print(f"\n=== bench/{script}\n", flush=True)
        command = [sys.executable, str(BENCH / script), *options]
        if subprocess.run(command, check=False).returncode:
            failed.append(script)
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
