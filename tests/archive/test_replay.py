"""Real replay through pywb from `.venv-replay`: pages, a revisit and query-string URLs come back right."""

from __future__ import annotations

import gzip
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from archive.cli import main
from tests.archive.warcfiles import HTML, build_good_set

VENV = Path(__file__).resolve().parents[2] / ".venv-replay"

pytestmark = [pytest.mark.slow]


@pytest.fixture(autouse=True)
def _replay_env() -> None:
    # `make test` builds it; a missing one is a failure to set up, never a reason to skip replay.
    assert (VENV / "bin" / "wayback").exists(), "pywb's environment .venv-replay is missing: run `make replay-env`"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str, deadline: float) -> bytes:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body: bytes = response.read()
                # id_ mode replays the archived Content-Encoding as it was.
                if response.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                return body
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_pywb_replays_pages_revisits_and_query_urls(tmp_path: Path) -> None:
    good = build_good_set(tmp_path)
    root = tmp_path / "replay"
    assert main(["replay", str(good.directory), "--venv", str(VENV), "--root", str(root), "--no-serve"]) == 0
    port = _free_port()
    server = subprocess.Popen(
        [str(VENV / "bin" / "wayback"), "-p", str(port)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://localhost:{port}/crawl/2024id_/"
        deadline = time.monotonic() + 30
        assert _get(base + "http://bbs.example.com/thread-1-1-1.html", deadline) == HTML
        # The revisit's payload comes from its original in the other file.
        assert _get(base + "http://bbs.example.com/thread-1-1-1.html?from=list", deadline) == HTML
        forum = "http://bbs.example.com/%E8%AE%BA%E5%9D%9B/forum.php?mod=viewthread&tid=2&extra=%E9%A1%B5"
        assert _get(base + forum, deadline).decode("gbk") == "<html><title>第二</title></html>"
    finally:
        server.terminate()
        server.wait(timeout=10)
