"""`qualicite serve` runs the web server, the worker and tick; Ctrl-C stops all three."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.utils import translation


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


@pytest.fixture
def embedded_env(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment.update(QUALICITE_VAR_DIR=str(tmp_path), QUALICITE_TICK_SECONDS="1")
    subprocess.run(
        [sys.executable, "-m", "qualicite", "migrate", "-v0"],
        env=environment,
        check=True,
        timeout=180,
    )
    return environment


def test_serve_answers_and_ctrl_c_stops_the_three_processes(embedded_env):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "qualicite", "serve", "--port", str(port), "--workers", "1"],
        env=embedded_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        body = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body = json.load(r)
            except OSError:
                time.sleep(0.3)
        assert body == {"status": "ok", "database": "ok"}
        children = children_of(process.pid)
        assert len(children) == 3  # web server, worker, tick
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output, _ = process.communicate(timeout=30)
        with translation.override("fr"):  # the command speaks the default language
            assert translation.gettext("Qualicité stopped.") in output
        for child in children:
            assert not os.path.exists(f"/proc/{child}") or _is_zombie(child)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
