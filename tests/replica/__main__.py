"""``python -m tests.replica --port N [--posts FILE] [--sina-pages DIR]``: serve until interrupted."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from tests.replica.discuz import DiscuzSite, board_from_rows, generated_board, load_rows
from tests.replica.server import Replica, ReplicaServer
from tests.replica.sina import SinaSite, demo_articles


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.replica", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--posts", type=Path, help="render the forum from rows in the golden TSV layout")
    parser.add_argument("--now", help="the replica's clock for relative dates, e.g. 2018-09-14T12:00")
    parser.add_argument("--floor-names", action="store_true", help="print 楼主/沙发/板凳/地板 for floors 1-4")
    parser.add_argument(
        "--sina-pages", type=Path, help="serve saved Sina pages at their own paths, listed in the roll API"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    now = datetime.fromisoformat(args.now) if args.now else None
    if args.posts:
        if not args.posts.is_file():
            print(f"--posts {args.posts}: no such file; give a TSV in the golden layout", file=sys.stderr)
            return 2
        board = board_from_rows(load_rows(args.posts), now)
    else:
        board = generated_board(now=now)
    board.floor_names = args.floor_names
    sina = SinaSite(demo_articles())
    if args.sina_pages:
        if not args.sina_pages.is_dir():
            print(f"--sina-pages {args.sina_pages}: no such folder; give one of saved pages", file=sys.stderr)
            return 2
        sina.add_saved_pages(args.sina_pages)
    server = ReplicaServer(Replica([DiscuzSite(board), sina]), port=args.port)
    print(server.base_url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
