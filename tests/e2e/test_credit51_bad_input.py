"""Hostile pages on the forum: each is dropped or NULLed with its reason, and the crawl goes on."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.helpers import crawl, dumped_stats, read_rows
from tests.replica.discuz import DiscuzSite, generated_board
from tests.replica.server import Replica, Request, Response, serving


class Sabotage:
    """Answers a few chosen paths with broken pages before the forum sees them."""

    def __init__(self, pages: dict[str, bytes]) -> None:
        self.pages = pages

    def handle(self, request: Request) -> Response | None:
        body = self.pages.get(request.path)
        if body is None:
            return None
        return Response(200, body, [("Content-Type", "text/html; charset=gbk")])


def test_broken_pages_are_counted_and_the_crawl_goes_on(tmp_path: Path) -> None:
    board = generated_board(forums=2, threads_per_forum=8, max_posts=25)
    fid = board.forums[0].fid
    threads = sorted((t for t in board.threads.values() if t.fid == fid and not t.displayorder), key=lambda t: t.tid)
    no_postlist, bad_bytes = threads[0], threads[1]
    good = DiscuzSite(board)
    real_page = good.handle(Request("GET", f"/thread-{bad_bytes.tid}-1-1.html", {}, "", {"host": "x"}, ""))
    assert real_page is not None
    first_text = (bad_bytes.posts[0].text or "")[:4].encode("gbk")
    broken_bytes = real_page.body.replace(first_text, b"\x81\x20\xfe\xff", 1)
    sabotage = Sabotage({
        f"/thread-{no_postlist.tid}-1-1.html": "<html><body><p>系统繁忙，请稍后再试</p></body></html>".encode("gbk"),
        f"/thread-{bad_bytes.tid}-1-1.html": broken_bytes,
        f"/forum-{board.forums[1].fid}-1.html": b"\x00\x01garbage<table id='threadlisttableid'>\xff\xfe</table>",
    })
    with serving(Replica([sabotage, good])) as server:
        forums = f"{fid},{board.forums[1].fid}"
        result = crawl("51credit", tmp_path, {"CREDIT51_BASE_URL": server.base_url, "CREDIT51_FORUMS": forums})
    assert result.returncode == 0, result.stderr[-2000:]
    stats = dumped_stats(result.stderr)
    assert stats.get("51credit/dropped/thread page without a post list") == "1"
    assert stats.get("51credit/dropped/listing without thread rows") == "1"
    assert f"thread-{no_postlist.tid}-1-1.html" in result.stderr  # the log names the URL
    rows = read_rows(tmp_path / "tsv" / "51credit" / f"{datetime.now(UTC):%Y-%m-%d}.tsv")
    pids = {r.split("\t")[8] for r in rows}
    # Every post of every other thread of the forum is there, and the page with bad bytes still gave its posts.
    expected = {str(p.pid) for t in threads if t is not no_postlist for p in t.posts}
    assert expected <= pids
    broken_row = next(r for r in rows if r.split("\t")[8] == str(bad_bytes.posts[0].pid))
    assert "\ufffd" in broken_row
    assert not {str(p.pid) for p in no_postlist.posts[:20]} & pids
