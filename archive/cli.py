"""The ``archive`` command: list, show, extract, check, index, package, salvage and replay WARC files."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

from archive.check import check, print_report
from archive.index import index_paths
from archive.reader import WarcFormatError, WarcRecord, decode_content, iter_records, read_record_at
from archive.records import target_uri
from archive.wacz import Page, build_wacz
from archive.writer import salvage

#: pywb lives in its own virtual environment (it pins a redis client scrapy-redis cannot share).
DEFAULT_REPLAY_VENV = ".venv-replay"


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; returns the exit status (0 ok, 1 failure or violations, 2 usage/setup)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on usage errors
        return int(exc.code or 0)
    try:
        status: int = args.run(args)
        return status
    except (WarcFormatError, ValueError, OSError) as exc:
        print(f"archive {args.command}: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="archive", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ls = commands.add_parser("ls", help="list records: offset, type, status, URL, length")
    ls.add_argument("sources", nargs="+", metavar="WARC", help="WARC files, directories, or - for stdin")
    ls.set_defaults(run=_ls)

    show = commands.add_parser("show", help="print one record (WARC header and block) by offset or URL")
    show.add_argument("warc", metavar="WARC")
    _add_selector(show)
    show.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    show.set_defaults(run=_show)

    extract = commands.add_parser("extract", help="write one record's payload, content-decoded")
    extract.add_argument("warc", metavar="WARC")
    _add_selector(extract)
    extract.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    extract.add_argument("--raw", action="store_true", help="keep the content coding (gzip, br...)")
    extract.set_defaults(run=_extract)

    check_cmd = commands.add_parser("check", help="check files against every WARC/1.1 rule (exit 1 on any)")
    check_cmd.add_argument("paths", nargs="+", metavar="PATH", help="WARC files or directories")
    check_cmd.add_argument(
        "--no-siblings", action="store_true", help="do not look beside the files for revisit originals"
    )
    check_cmd.set_defaults(run=_check)

    index = commands.add_parser("index", help="write x.cdxj beside each closed x.warc.gz")
    index.add_argument("paths", nargs="+", metavar="PATH")
    index.set_defaults(run=_index)

    wacz = commands.add_parser("wacz", help="package closed WARC files as WACZ 1.1.1")
    wacz.add_argument("paths", nargs="+", metavar="PATH")
    wacz.add_argument("-o", "--output", required=True, metavar="FILE.wacz")
    wacz.add_argument(
        "--pages",
        metavar="FILE.jsonl",
        help="pages as JSON lines with url, ts and title (default: 200 text/html responses and their titles)",
    )
    wacz.add_argument("--title")
    wacz.add_argument("--description")
    wacz.set_defaults(run=_wacz)

    salvage_cmd = commands.add_parser(
        "salvage", help="close leftover .warc.gz.open files, cutting partial tails"
    )
    salvage_cmd.add_argument("directories", nargs="+", metavar="DIR")
    salvage_cmd.set_defaults(run=_salvage)

    replay = commands.add_parser("replay", help="serve WARC files with pywb's wayback (from its own venv)")
    replay.add_argument("paths", nargs="+", metavar="PATH", help="closed WARC files or directories")
    replay.add_argument(
        "--venv", default=DEFAULT_REPLAY_VENV, help="pywb's virtualenv (default: %(default)s)"
    )
    replay.add_argument("--root", default="replay", help="pywb working directory (default: %(default)s)")
    replay.add_argument("--collection", default="crawl", help="collection name (default: %(default)s)")
    replay.add_argument("--port", type=int, default=8080)
    replay.add_argument("--no-serve", action="store_true", help="build the collection, do not start wayback")
    replay.set_defaults(run=_replay)
    return parser


def _add_selector(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--offset", type=int, help="offset of the record in the file")
    group.add_argument("--url", help="first response, revisit or resource for this URL")


# --- ls


def _ls(args: argparse.Namespace) -> int:
    sources: list[str] = []
    for name in args.sources:
        path = Path(name)
        if name != "-" and path.is_dir():
            sources += [str(p) for p in sorted(path.iterdir()) if p.name.endswith((".warc.gz", ".warc"))]
        else:
            sources.append(name)
    out = sys.stdout
    for source in sources:
        if len(sources) > 1:
            print(f"==> {source} <==", file=out)
        for record in iter_records(source):
            status = record.http.status if record.http and record.http.status else "-"
            print(
                f"{record.offset}\t{record.type}\t{status}\t{record.target_uri or '-'}\t{record.length}",
                file=out,
            )
    return 0


# --- show / extract


def _select(args: argparse.Namespace) -> WarcRecord:
    path = Path(args.warc)
    if args.offset is not None:
        return read_record_at(path, args.offset, keep_block=True)
    wanted = target_uri(args.url)
    for record in iter_records(path):
        if record.target_uri == wanted and record.type in ("response", "revisit", "resource"):
            return read_record_at(path, record.offset, keep_block=True)
    raise ValueError(
        f"no response, revisit or resource for {wanted} in {path}; list them with `archive ls {path}`"
    )


def _output(stack: ExitStack, name: str | None) -> BinaryIO:
    if name is None or name == "-":
        return sys.stdout.buffer
    return stack.enter_context(open(name, "wb"))


def _show(args: argparse.Namespace) -> int:
    record = _select(args)
    with ExitStack() as stack:
        out = _output(stack, args.output)
        out.write(f"{record.version}\r\n".encode())
        for name, value in record.headers:
            out.write(f"{name}: {value}\r\n".encode())
        out.write(b"\r\n")
        assert record.block is not None
        with record.block:
            shutil.copyfileobj(record.block, out)
        out.flush()
    return 0


def _extract(args: argparse.Namespace) -> int:
    record = _select(args)
    path = Path(args.warc)
    if record.type == "revisit":
        if record.block is not None:
            record.block.close()
        record = _original_of(record, path)
    if record.block is None:
        raise ValueError(f"record at offset {record.offset} of {path} has no block to extract")
    with ExitStack() as stack:
        stack.callback(record.block.close)
        chunks: Iterator[bytes] = record.payload()
        if not args.raw and record.http is not None:
            chunks = decode_content(chunks, record.http.get(b"content-encoding"))
        out = _output(stack, args.output)
        for chunk in chunks:
            out.write(chunk)
        out.flush()
    return 0


def _original_of(revisit: WarcRecord, path: Path) -> WarcRecord:
    """The response a revisit refers to, looked up in the WARC files beside ``path``."""
    wanted = revisit.get("WARC-Refers-To")
    for candidate in sorted(path.parent.glob("*.warc.gz")):
        for record in iter_records(candidate):
            if record.record_id == wanted:
                print(f"revisit: payload from {candidate.name} offset {record.offset}", file=sys.stderr)
                return read_record_at(candidate, record.offset, keep_block=True)
    raise ValueError(
        f"revisit at offset {revisit.offset} refers to {wanted}, which is in no .warc.gz beside {path}; "
        "extract from the directory that holds the original"
    )


# --- check / index / wacz / salvage


def _check(args: argparse.Namespace) -> int:
    report = check(args.paths, search_siblings=not args.no_siblings)
    print_report(report)
    return 0 if report.ok else 1


def _index(args: argparse.Namespace) -> int:
    index_paths(args.paths, progress=sys.stderr)
    return 0


def _wacz(args: argparse.Namespace) -> int:
    pages: list[Page] | None = None
    if args.pages:
        pages = []
        with open(args.pages, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                entry = json.loads(line)
                if "format" in entry and "url" not in entry:
                    continue  # a pages.jsonl header line
                if "url" not in entry or "ts" not in entry:
                    raise ValueError(f"{args.pages} line {number} has no url or ts; each page needs both")
                pages.append(Page(entry["url"], entry["ts"], entry.get("title")))
    build_wacz(
        args.paths,
        Path(args.output),
        pages=pages,
        title=args.title,
        description=args.description,
        progress=sys.stderr,
    )
    return 0


def _salvage(args: argparse.Namespace) -> int:
    for directory in args.directories:
        if not Path(directory).is_dir():
            raise ValueError(f"{directory} is not a directory; pass the directory holding the .open files")
        reports = salvage(directory)
        if not reports:
            print(f"{directory}: no leftover .warc.gz.open file")
        for report in reports:
            if report.removed:
                print(f"{report.path}: no complete record; removed ({report.cut_bytes} bytes)")
            else:
                cut = f", cut {report.cut_bytes} bytes: {report.reason}" if report.cut_bytes else ""
                print(f"{report.path}: kept {report.records} records ({report.kept_bytes} bytes){cut}")
    return 0


# --- replay


def _replay(args: argparse.Namespace) -> int:
    venv = Path(args.venv)
    wayback = venv / "bin" / "wayback"
    wb_manager = venv / "bin" / "wb-manager"
    if not (os.access(wayback, os.X_OK) and os.access(wb_manager, os.X_OK)):
        print(
            f"archive replay: {wayback} is missing; build pywb's own environment with `make replay-env` "
            f"(or pass --venv DIR)",
            file=sys.stderr,
        )
        return 2
    from archive.index import closed_warcs

    warcs = closed_warcs(args.paths)
    if not warcs:
        raise ValueError("no closed .warc.gz file to replay; pass WARC files or their directory")
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    collection = root / "collections" / args.collection
    if not collection.is_dir():
        _run([str(wb_manager.absolute()), "init", args.collection], root)
    archive_dir = collection / "archive"
    archive_dir.mkdir(parents=True, exist_ok=True)
    added = 0
    for warc in warcs:
        target = archive_dir / warc.name
        if target.exists():
            continue
        try:
            os.link(warc, target)  # no copy of gigabytes when on the same file system
        except OSError:
            shutil.copyfile(warc, target)
        added += 1
    if added:
        _run([str(wb_manager.absolute()), "reindex", args.collection], root)
    print(f"collection {collection}: {len(warcs)} WARC files ({added} new)", file=sys.stderr)
    if args.no_serve:
        return 0
    print(f"serving http://localhost:{args.port}/{args.collection}/ (Ctrl-C stops)", file=sys.stderr)
    return subprocess.call([str(wayback.absolute()), "-p", str(args.port)], cwd=root)


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, check=False)
    if result.returncode != 0:
        raise OSError(f"`{' '.join(command)}` failed with status {result.returncode} in {cwd}")
