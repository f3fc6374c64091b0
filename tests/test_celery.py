"""The Celery wiring: with REDIS_URL set, a real worker joins the real broker."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.redis


def test_a_worker_started_with_redis_url_answers_a_ping_through_redis(redis_url, tmp_path):
    env = {**os.environ, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    hostname = f"ping-{os.getpid()}@jalon-test"
    log = (tmp_path / "worker.log").open("w+b")
    # Its own queue: tasks other tests left on the shared Redis database are not its business
    # (and its output goes to a file, so a chatty worker never blocks on a full pipe).
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
         "--hostname", hostname, "--loglevel", "WARNING", "--without-mingle", "--without-gossip",
         "--queues", f"ping-{os.getpid()}"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    client = Celery(broker=redis_url)
    try:
        replies = []
        deadline = time.monotonic() + 30
        while not replies and time.monotonic() < deadline:
            assert worker.poll() is None, log.seek(0) or log.read().decode()
            replies = client.control.ping(destination=[hostname], timeout=1.0)
        assert replies == [{hostname: {"ok": "pong"}}]
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        client.close()
        log.close()
