"""A crawled thread page replayed by pywb and rendered by headless Chromium shows its posts."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from archive.cli import main as archive
from tests.helpers import ROOT, crawl
from tests.replica.discuz import DiscuzSite, generated_board
from tests.replica.server import Replica, serving

REPLAY_VENV = ROOT / ".venv-replay"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_replayed_thread_page_renders_its_posts_in_chromium(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is missing: apt-get install chromium (.ci/run does)"
    assert (REPLAY_VENV / "bin" / "wayback").exists(), "pywb's .venv-replay is missing: run `make replay-env`"
    board = generated_board(forums=1, threads_per_forum=3, max_posts=10)
    with serving(Replica([DiscuzSite(board)])) as server:
        base = server.base_url
        result = crawl("51credit", tmp_path / "data", {"CREDIT51_BASE_URL": base})
    assert result.returncode == 0, result.stderr[-2000:]
    root = tmp_path / "replay"
    warc_dir = str(tmp_path / "data" / "warc")
    assert archive(["replay", warc_dir, "--venv", str(REPLAY_VENV), "--root", str(root), "--no-serve"]) == 0
    # Frameless replay: the browser's top document is the archived page itself (pywb otherwise wraps
    # top-level navigations in its replay frame).
    (root / "config.yaml").write_text("framed_replay: false\n", encoding="utf-8")
    thread = next(t for t in board.threads.values() if t.posts[0].text)
    port = _free_port()
    wayback = subprocess.Popen([str(REPLAY_VENV / "bin" / "wayback"), "-p", str(port)], cwd=root,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        page = f"http://localhost:{port}/crawl/{datetime.now(UTC):%Y}/{base}thread-{thread.tid}-1-1.html"
        _wait_for(page, 30)
        shot = tmp_path / "thread.png"
        common = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
        dom = subprocess.run([*common, "--dump-dom", page], capture_output=True, text=True, timeout=120)
        subprocess.run([*common, f"--screenshot={shot}", "--window-size=1200,2000", page],
                       capture_output=True, timeout=120)
    finally:
        wayback.terminate()
        wayback.wait(timeout=10)
    # The DOM Chromium built from the replayed bytes holds every post of the page, text and all.
    for post in thread.posts[:20]:
        assert f'id="post_{post.pid}"' in dom.stdout
    first_words = (thread.posts[0].text or "")[:8]
    assert first_words and first_words in dom.stdout
    assert shot.exists() and shot.stat().st_size > 20_000

