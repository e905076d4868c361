"""A Discuz! X3 forum in GBK, rendered the way bbs.51credit.com served it (see shared DISCUZ.md)."""

from __future__ import annotations

import html
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from tests.replica.server import Request, Response

POSTS_PER_PAGE = 20
THREADS_PER_PAGE = 30
FLOOR_NAMES = {1: "楼主", 2: "沙发", 3: "板凳", 4: "地板"}
LOGIN_TIP = "马上注册，结交更多好友，享用更多功能，让你轻松玩转社区。"
AD_SCRIPT = (
    '<script type="text/javascript">(function(){var s=document.createElement("script");'
    's.src="//ad.example.invalid/show?pos=postfirst&r="+Math.random();'
    'document.getElementsByTagName("head")[0].appendChild(s);})();</script>'
)
_EDIT_NOTE = re.compile(r"^ 本帖最后由 (\S+) 于 (\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}) 编辑 ")


def ynj(moment: datetime) -> str:
    return f"{moment.year}-{moment.month}-{moment.day}"


def ynj_hi(moment: datetime) -> str:
    return f"{ynj(moment)} {moment.hour:02d}:{moment.minute:02d}"


@dataclass
class Post:
    pid: int
    poster: str
    poster_uid: int | None
    """None for a deleted user (name shown, no link) or an anonymous post."""
    registered: str | None
    floor: int | None
    """The number the page shows; None shows none."""
    posted_at: datetime
    text: str | None = None
    """Plain text body, escaped as Discuz escapes it; None renders an image-only post."""
    body_html: str | None = None
    """Markup of our own making; wins over ``text``."""
    status: str = "normal"
    """normal | banned (author banned: div.locked) | hidden (moderator) | deleted (invalid floor)."""
    anonymous: bool = False
    deleted_user: bool = False
    sidebar_order: int = 0
    """Which position 注册时间 takes in the author sidebar."""


@dataclass
class Thread:
    tid: int
    fid: int
    title: str
    author: str
    author_uid: int | None
    created: str
    """Creation date as the listing shows it, ``Y-n-j``."""
    posts: list[Post] = field(default_factory=list)
    displayorder: int = 0
    """0 normal, 1 sticky in its forum, 3 sticky in every forum (global)."""
    views: int = 100

    @property
    def created_at(self) -> datetime:
        if self.posts:
            return self.posts[0].posted_at
        y, m, d = (int(x) for x in self.created.split("-"))
        return datetime(y, m, d, 9, 0)

    @property
    def last_post(self) -> Post | None:
        return self.posts[-1] if self.posts else None

    def page_of(self, index: int) -> int:
        return index // POSTS_PER_PAGE + 1

    @property
    def pages(self) -> int:
        return max(1, (len(self.posts) + POSTS_PER_PAGE - 1) // POSTS_PER_PAGE)


@dataclass
class Forum:
    fid: int
    name: str
    gid: int
    group: str


@dataclass
class Board:
    """The whole forum: what the replica serves under its base URL."""

    forums: list[Forum]
    threads: dict[int, Thread]
    now: datetime
    floor_names: bool = False
    """Print 楼主/沙发/板凳/地板 instead of numbers 1-4, as some Discuz boards are configured."""
    login_tip: bool = True
    ad_script: bool = True
    site_name: str = "我爱卡论坛"

    def forum(self, fid: int) -> Forum | None:
        return next((f for f in self.forums if f.fid == fid), None)

    def listing(self, fid: int) -> tuple[list[Thread], list[Thread]]:
        """(sticky rows, normal rows) of a forum, newest reply first, as Discuz orders them."""
        sticky = [t for t in self.threads.values() if t.displayorder == 3 or (t.displayorder and t.fid == fid)]
        normal = [t for t in self.threads.values() if t.fid == fid and not t.displayorder]

        def order(t: Thread) -> tuple[datetime, int]:
            last = t.last_post
            return (last.posted_at if last else t.created_at, t.tid)

        sticky.sort(key=order, reverse=True)
        normal.sort(key=order, reverse=True)
        return sticky, normal

    # --- building -----------------------------------------------------------------------------------
    def add_reply(self, tid: int, poster: str, uid: int, text: str, registered: str | None = "2015-3-1") -> Post:
        """Append a reply (for incremental-crawl tests); returns the new post."""
        thread = self.threads[tid]
        last = thread.last_post
        pid = max((p.pid for t in self.threads.values() for p in t.posts), default=0) + 1
        floor = (last.floor or len(thread.posts)) + 1 if last else 1
        moment = max(self.now, (last.posted_at if last else self.now) + timedelta(minutes=1))
        post = Post(pid, poster, uid, registered, floor, moment, text=text)
        thread.posts.append(post)
        self.now = moment + timedelta(minutes=1)
        return post


def _uid(url: str) -> int | None:
    m = re.search(r"space-uid-(\d+)\.html", url)
    return int(m.group(1)) if m else None


def board_from_rows(rows: Iterable[str], now: datetime | None = None) -> Board:
    """A board holding exactly the posts of rows in the golden TSV layout (one row per line)."""
    forums: dict[tuple[str, str], Forum] = {}
    threads: dict[int, Thread] = {}
    for line in rows:
        line = line.rstrip("\n")
        if not line:
            continue
        v = [None if x == "NULL" else x for x in line.split("\t")[:14]]
        if len(v) < 14 or v[0] is None or v[8] is None:
            raise ValueError(f"not a 14-value golden row: {line[:80]!r}")
        key = (v[1] or "", v[2] or "")
        if key not in forums:
            fid = 290 if v[2] == "区块链/币圈讨论" else 1000 + len(forums)
            gid = 1 + len({f.group for f in forums.values()} - {key[0]}) if key[0] not in {
                f.group for f in forums.values()} else next(f.gid for f in forums.values() if f.group == key[0])
            forums[key] = Forum(fid, key[1], gid, key[0])
        tid = int(v[0])
        if tid not in threads:
            threads[tid] = Thread(
                tid, forums[key].fid, v[3] or "", v[5] or "", _uid(v[6] or ""), v[7] or "1970-1-1"
            )
        threads[tid].posts.append(
            Post(
                pid=int(v[8]),
                poster=v[9] or "",
                poster_uid=_uid(v[10] or ""),
                registered=v[11],
                floor=int(v[12]) if v[12] else None,
                posted_at=datetime(2000, 1, 1),
                text=v[13],
                sidebar_order=int(v[8]) % 3,
            )
        )
    latest = datetime(1970, 1, 1)
    for thread in threads.values():
        thread.posts.sort(key=lambda p: p.pid)
        y, m, d = (int(x) for x in thread.created.split("-"))
        start = datetime(y, m, d, 9, 0)
        for i, post in enumerate(thread.posts):
            post.posted_at = start + timedelta(minutes=3 * i)
            latest = max(latest, post.posted_at)
    return Board(list(forums.values()), threads, now or latest + timedelta(hours=1))


_WORDS = ["信用卡", "额度", "提额", "还款", "账单日", "分期", "年费", "积分", "里程", "境外", "消费", "临时额度", "征信", "网申", "面签", "白金卡", "联名卡", "招行", "浦发", "广发", "中信", "交行", "工行", "建行", "农行", "区块链", "比特币", "理财", "羊毛", "活动"]


def _sentence(rng: random.Random) -> str:
    return "".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 12))) + rng.choice("。！？，")


def generated_board(
    forums: int = 3, threads_per_forum: int = 12, max_posts: int = 45, seed: int = 51,
    now: datetime | None = None,
) -> Board:
    """A board of our own making that shows every markup case the parser must meet."""
    rng = random.Random(seed)
    now = now or datetime(2018, 9, 14, 12, 0)
    groups = ["玩卡生活", "信用卡"]
    forum_list = [Forum(290 + i, f"版块{i + 1}" if i else "区块链/币圈讨论", 1 + i % 2, groups[i % 2])
                  for i in range(forums)]
    board = Board(forum_list, {}, now)
    tid, pid, aid = 4_200_000, 43_000_000, 9_000
    users = [(f"卡友{n:03d}", 3_000_000 + n, f"{2010 + n % 9}-{1 + n % 12}-{1 + n % 28}") for n in range(60)]
    for forum in forum_list:
        for t in range(threads_per_forum):
            tid += 1
            author, uid, _ = rng.choice(users)
            age = timedelta(days=t * 2 + rng.randint(0, 1), hours=rng.randint(6, 20))
            start = now - age
            thread = Thread(tid, forum.fid, f"{forum.name}话题{t + 1}：{_sentence(rng)}", author, uid,
                            ynj(start), views=rng.randint(10, 5000))
            count = rng.randint(1, max_posts)
            for i in range(count):
                pid += rng.randint(1, 40)
                name, puid, reg = (author, uid, None) if i == 0 else rng.choice(users)
                reg = reg if i else users[uid - 3_000_000][2]
                post = Post(pid, name, puid, reg, i + 1, start + timedelta(minutes=7 * i),
                            text=_sentence(rng) + _sentence(rng), sidebar_order=rng.randint(0, 2))
                kind = rng.random()
                if i and kind < 0.05:
                    post.registered = None
                elif i and kind < 0.08:
                    post.deleted_user, post.poster_uid = True, None
                elif i and kind < 0.10:
                    post.status = "banned"
                elif i and kind < 0.12:
                    aid += 1
                    post.text, post.body_html = None, _image_html(aid, caption=False)
                elif kind < 0.18:
                    aid += 1
                    post.body_html = html.escape(post.text or "") + "<br />\r\n" + _image_html(aid, caption=True)
                elif i and kind < 0.24:
                    quoted = thread.posts[-1]
                    post.body_html = _quote_html(quoted, post.text or "")
                elif kind < 0.28:
                    post.body_html = (
                        f'<i class="pstatus"> 本帖最后由 {html.escape(name)} 于 {ynj_hi(post.posted_at)} 编辑 </i>'
                        f"<br />\r\n<br />\r\n{html.escape(post.text or '')}"
                    )
                thread.posts.append(post)
            board.threads[tid] = thread
    firsts = [t for t in board.threads.values() if t.fid == forum_list[-1].fid]
    firsts[0].displayorder = 3  # global sticky from another forum
    board.threads[next(iter(board.threads))].displayorder = 1
    return board


def _image_html(aid: int, caption: bool) -> str:
    path = f"data/attachment/forum/201809/1{aid % 10}/{aid}abc.jpg"
    tip = (
        f'<div class="tip tip_4 aimg_tip" id="aimg_{aid}_menu" style="position: absolute; display: none" '
        f'disautofocus="true"><div class="xs0"><p><strong>{aid}abc.jpg</strong> '
        f'<em class="xg1">(45.2 KB, 下载次数: 0)</em></p></div><div class="tip_horn"></div></div>'
        if caption else ""
    )
    return (
        f'<ignore_js_op>\r\n<img id="aimg_{aid}" aid="{aid}" src="static/image/common/none.gif" '
        f'zoomfile="{path}" file="{path}" class="zoom" onclick="zoom(this, this.src, 0, 0, 0)" '
        f'width="600" inpost="1" onmouseover="showMenu({{}})" />\r\n{tip}\r\n</ignore_js_op>'
    )


def _quote_html(quoted: Post, text: str) -> str:
    when = quoted.posted_at.strftime("%Y-%m-%d %H:%M")
    said = (quoted.text or "")[:20]
    return (
        f'<div class="quote"><blockquote><font size="2"><a href="forum.php?mod=redirect&amp;goto=findpost'
        f'&amp;pid={quoted.pid}" target="_blank"><font color="#999999">{html.escape(quoted.poster)} 发表于 '
        f'{when}</font></a></font><br />\r\n{html.escape(said)}</blockquote></div><br />\r\n{html.escape(text)}'
    )


# --- rendering ---------------------------------------------------------------------------------------
def shown_time(moment: datetime, now: datetime, with_time: bool) -> str:
    """Discuz's dtime: absolute, or within the week a relative form with the absolute one in a title."""
    absolute = ynj_hi(moment) if with_time else ynj(moment)
    title = f"{ynj(moment)} {moment:%H:%M:%S}" if with_time else ynj(moment)
    delta = now - moment
    if delta < timedelta(0) or delta >= timedelta(days=7):
        return html.escape(absolute)
    days = (now.date() - moment.date()).days
    if days == 0:
        hours = int(delta.total_seconds() // 3600)
        if hours:
            text = f"{hours}&nbsp;小时前"
        elif delta >= timedelta(minutes=30):
            text = "半小时前"
        else:
            text = f"{max(1, int(delta.total_seconds() // 60))}&nbsp;分钟前"
    elif days == 1:
        text = f"昨天&nbsp;{moment:%H:%M}"
    elif days == 2:
        text = f"前天&nbsp;{moment:%H:%M}"
    else:
        text = f"{days}&nbsp;天前"
    return f'<span title="{title}">{text}</span>'


def _page(board: Board, base: str, title: str, crumbs: list[tuple[str, str]], content: str) -> str:
    trail = " <em>&rsaquo;</em> ".join(f'<a href="{href}">{html.escape(text)}</a>' for href, text in crumbs)
    return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=gbk" />
<title>{html.escape(title)} -  {board.site_name} -  Powered by Discuz!</title>
<meta name="generator" content="Discuz! X3.2" />
<base href="{base}" /><link rel="stylesheet" type="text/css" href="data/cache/style_1_common.css?Z7x" />
<script type="text/javascript">var STYLEID = '1', STATICURL = 'static/', IMGDIR = 'static/image/common', charset = 'gbk', discuz_uid = '0', cookiepre = 'Sjz9_2132_';</script>
</head>
<body id="nv_forum" class="pg_viewthread" onkeydown="if(event.keyCode==27) return false;">
<div id="toptb" class="cl"><div class="wp"><div class="z"><a href="forum.php?mod=guide">导读</a><a href="home.php">家园</a></div></div></div>
<div id="wp" class="wp">
<div id="pt" class="bm cl"><div class="z"><a href="./" class="nvhm" title="首页">{board.site_name}</a><em>&raquo;</em><a href="forum.php">论坛</a> <em>&rsaquo;</em> {trail}</div></div>
{content}
</div>
<div id="ft" class="wp cl"><div id="flk" class="y"><p><a href="archiver/">Archiver</a></p></div></div>
</body>
</html>
"""


def _pager(url_of: str, page: int, pages: int) -> str:
    if pages <= 1:
        return ""
    parts = []
    if page > 1:
        parts.append(f'<a href="{url_of.format(page - 1)}" class="prev">&nbsp;&nbsp;</a>')
    window = range(max(1, page - 4), min(pages, page + 5) + 1)
    if window[0] > 1:
        parts.append(f'<a href="{url_of.format(1)}" class="first">1 ...</a>')
    for n in window:
        parts.append(f"<strong>{n}</strong>" if n == page else f'<a href="{url_of.format(n)}">{n}</a>')
    if window[-1] < pages:
        parts.append(f'<a href="{url_of.format(pages)}" class="last">... {pages}</a>')
    parts.append(f'<label><input type="text" name="custompage" class="px" size="2" value="{page}" />'
                 f'<span title="共 {pages} 页"> / {pages} 页</span></label>')
    if page < pages:
        parts.append(f'<a href="{url_of.format(page + 1)}" class="nxt">下一页</a>')
    return f'<div class="pg">{"".join(parts)}</div>'


def _user_link(name: str, uid: int | None) -> str:
    if uid is None:
        return html.escape(name)
    return f'<a href="space-uid-{uid}.html" c="1">{html.escape(name)}</a>'


def render_index(board: Board, base: str) -> str:
    groups: dict[int, list[Forum]] = {}
    for forum in board.forums:
        groups.setdefault(forum.gid, []).append(forum)
    blocks = []
    for gid, forums in groups.items():
        cells = "".join(
            f'<td class="fl_g" width="24.9%"><div class="fl_icn_g"><a href="forum-{f.fid}-1.html">'
            f'<img src="static/image/common/forum.gif" alt="" /></a></div><dl><dt><a href="forum-{f.fid}-1.html">'
            f"{html.escape(f.name)}</a></dt><dd><em>主题: 12</em></dd></dl></td>"
            for f in forums
        )
        blocks.append(
            f'<div class="bm bmw  flg cl"><div class="bm_h cl"><h2><a href="forum.php?gid={gid}" '
            f'style="">{html.escape(forums[0].group)}</a></h2></div><div id="category_{gid}" class="bm_c">'
            f'<table cellspacing="0" cellpadding="0" class="fl_tb"><tr>{cells}</tr></table></div></div>'
        )
    return _page(board, base, "论坛", [], f'<div id="ct" class="wp cl"><div class="mn">{"".join(blocks)}</div></div>')


def render_listing(board: Board, base: str, forum: Forum, page: int) -> str | None:
    sticky, normal = board.listing(forum.fid)
    pages = max(1, (len(normal) + THREADS_PER_PAGE - 1) // THREADS_PER_PAGE)
    if page > pages:
        return None
    rows = []
    shown = (sticky if page == 1 else []) + normal[(page - 1) * THREADS_PER_PAGE : page * THREADS_PER_PAGE]
    for t in shown:
        last = t.last_post
        kind = "stickthread" if t in sticky else "normalthread"
        last_name = last.poster if last else t.author
        last_link = f'<a href="space-username-{quote(last_name.encode("gbk", "xmlcharrefreplace"))}.html">' \
                    f"{html.escape(last_name)}</a>"
        rows.append(
            f'<tbody id="{kind}_{t.tid}">\n<tr>\n<td class="icn"><a href="thread-{t.tid}-1-1.html" '
            f'title="新窗口打开" target="_blank"><img src="static/image/common/folder_common.gif" /></a></td>\n'
            f'<th class="common">\n<a href="javascript:;" id="content_{t.tid}" class="showcontent y" '
            f'title="更多操作" onclick="CONTENT_TID=\'{t.tid}\'"></a>\n'
            f'<a href="thread-{t.tid}-1-1.html" onclick="atarget(this)" class="threadlist s xst">'
            f"{html.escape(t.title)}</a>\n</th>\n"
            f'<td class="by">\n<cite>\n{_user_link(t.author, t.author_uid)}</cite>\n'
            f"<em><span>{shown_time(t.created_at, board.now, False) if t.posts else html.escape(t.created)}"
            f"</span></em>\n</td>\n"
            f'<td class="num"><a href="thread-{t.tid}-1-1.html" class="xi2">{max(0, len(t.posts) - 1)}</a>'
            f"<em>{t.views}</em></td>\n"
            f'<td class="by">\n<cite>{last_link}</cite>\n<em><a href="forum.php?mod=redirect&amp;tid={t.tid}'
            f'&amp;goto=lastpost#lastpost">{shown_time(last.posted_at if last else t.created_at, board.now, True)}'
            f"</a></em>\n</td>\n</tr>\n</tbody>"
        )
        if kind == "stickthread" and t is sticky[-1]:
            rows.append('<tbody id="separatorline"><tr class="ts"><td>&nbsp;</td><th>版块主题</th></tr></tbody>')
    # The listing shows a thread's creation date, not its first post's time: keep the row's own date.
    body = "\n".join(rows)
    for t in shown:
        if t.posts:
            body = body.replace(
                f"<em><span>{shown_time(t.created_at, board.now, False)}</span></em>",
                f"<em><span>{_created(t, board.now)}</span></em>", 1,
            )
    content = (
        f'<div id="ct" class="wp cl"><div class="mn"><div class="bm_h cl"><h1 class="xs2">'
        f'<a href="forum-{forum.fid}-1.html">{html.escape(forum.name)}</a></h1></div>'
        f'<div id="threadlist" class="tl bm bmw"><div class="bm_c"><form method="post" name="moderate" '
        f'id="moderate" action="forum.php?mod=topicadmin&amp;action=moderate&amp;fid={forum.fid}">'
        f'<table summary="forum_{forum.fid}" cellspacing="0" cellpadding="0" id="threadlisttableid">\n{body}\n'
        f'</table></form></div></div>{_pager(f"forum-{forum.fid}-{{}}.html", page, pages)}</div></div>'
    )
    crumbs = [(f"forum.php?gid={forum.gid}", forum.group), (f"forum-{forum.fid}-1.html", forum.name)]
    return _page(board, base, forum.name, crumbs, content)


def _created(thread: Thread, now: datetime) -> str:
    y, m, d = (int(x) for x in thread.created.split("-"))
    try:
        moment = datetime(y, m, d, 9, 0)
    except ValueError:
        return html.escape(thread.created)
    shown = shown_time(moment, now, False)
    if "title=" in shown:
        return shown
    return html.escape(thread.created)


def _sidebar(post: Post) -> str:
    pairs = [("积分", str(post.pid % 997)), ("帖子", str(post.pid % 311)), ("主题", str(post.pid % 17))]
    if post.registered is not None:
        pairs.insert(post.sidebar_order % (len(pairs) + 1), ("注册时间", post.registered))
    items = "".join(f"<dt>{k}</dt><dd>{html.escape(v)}</dd>" for k, v in pairs)
    return f'<dl class="pil cl">{items}</dl>'


def _body(post: Post) -> str:
    if post.body_html is not None:
        return post.body_html
    if post.text is None:
        return _image_html(post.pid % 100_000, caption=False)
    m = _EDIT_NOTE.match(post.text)
    if m:
        rest = post.text[m.end():]
        return (f'<i class="pstatus"> 本帖最后由 {html.escape(m.group(1))} 于 {m.group(2)} 编辑 </i>'
                f"<br />\r\n<br />\r\n{html.escape(rest)}")
    return html.escape(post.text, quote=False)


def render_post(board: Board, thread: Thread, post: Post, first_on_page: bool, opening: bool) -> str:
    if post.anonymous:
        author = '<div class="authi">匿名</div>'
    elif post.deleted_user or post.poster_uid is None:
        author = f'<div class="authi">{html.escape(post.poster)} <em>该用户已被删除</em></div>'
    else:
        author = (f'<div class="authi"><a href="space-uid-{post.poster_uid}.html" target="_blank" '
                  f'class="xw1">{html.escape(post.poster)}</a></div>')
    if post.floor is None:
        floor = ""
    elif board.floor_names and post.floor in FLOOR_NAMES:
        floor = (f'<strong><a href="forum.php?mod=redirect&amp;goto=findpost&amp;ptid={thread.tid}&amp;'
                 f'pid={post.pid}" id="postnum{post.pid}">{FLOOR_NAMES[post.floor]}</a></strong>')
    else:
        floor = (f'<strong><a href="forum.php?mod=redirect&amp;goto=findpost&amp;ptid={thread.tid}&amp;'
                 f'pid={post.pid}" id="postnum{post.pid}"><em>{post.floor}</em><sup>#</sup></a></strong>')
    when = shown_time(post.posted_at, board.now, True)
    if "title=" in when:
        when = when.replace(f'title="{ynj(post.posted_at)} {post.posted_at:%H:%M:%S}"',
                            f'title="{ynj(post.posted_at)} {post.posted_at:%H:%M:%S}"')
    else:
        when = f"{ynj(post.posted_at)} {post.posted_at:%H:%M:%S}"
    if post.status == "banned":
        message = '<div class="locked">提示: <em>作者被禁止或删除 内容自动屏蔽</em></div>'
    elif post.status == "hidden":
        message = '<div class="locked">提示: <em>该帖被管理员或版主屏蔽</em></div>'
    elif post.status == "deleted":
        message = '<div class="locked">无效楼层，该帖已经被删除</div>'
    else:
        ad = AD_SCRIPT if (board.ad_script and first_on_page) else ""
        message = (f'<div class="t_fsz">\n<table cellspacing="0" cellpadding="0"><tr><td class="t_f" '
                   f'id="postmessage_{post.pid}">\r\n{ad}{_body(post)}</td></tr></table>\n</div>')
    tip = ""
    if board.login_tip and opening:
        tip = (f'<div class="attach_nopermission attach_tips"><div><h3><strong>{LOGIN_TIP}</strong></h3>'
               '<p>您需要 <a href="member.php?mod=logging&amp;action=login">登录</a> 才可以下载或查看，'
               '没有帐号？<a href="member.php?mod=register">立即注册</a></p></div><span class="atips_close">'
               "x</span></div>")
    return f"""<div id="post_{post.pid}" >
<table id="pid{post.pid}" class="plhin" summary="pid{post.pid}" cellspacing="0" cellpadding="0">
<tr>
<td class="pls" rowspan="2">
<div id="favatar{post.pid}" class="pls favatar">
<div class="pi">{author}</div>
<div><div class="avatar"><a href="#" class="avtm"><img src="uc_server/avatar.php?size=middle" /></a></div></div>
<p><em><a href="home.php?mod=spacecp&amp;ac=usergroup">注册会员</a></em></p>
{_sidebar(post) if not (post.deleted_user or post.anonymous) else ""}
</div>
</td>
<td class="plc">
<div class="pi">
{floor}
<div class="pti"><div class="pdbt"></div><div class="authi"><img class="authicn vm" src="static/image/common/online_member.gif" />
<em id="authorposton{post.pid}">发表于 {when}</em>
<span class="pipe">|</span><a href="forum.php?mod=viewthread&amp;tid={thread.tid}&amp;page=1&amp;authorid=1" rel="nofollow">只看该作者</a>
</div></div>
</div>
<div class="pct"><div class="pcb">
{tip}{message}
</div></div>
</td></tr>
</table>
</div>"""


def render_thread(board: Board, base: str, thread: Thread, page: int) -> str | None:
    if page > thread.pages:
        return None
    forum = board.forum(thread.fid)
    assert forum is not None
    start = (page - 1) * POSTS_PER_PAGE
    shown = thread.posts[start : start + POSTS_PER_PAGE]
    posts = "\n".join(
        render_post(board, thread, post, first_on_page=(i == 0), opening=(page == 1 and i == 0))
        for i, post in enumerate(shown)
    )
    pager = _pager(f"thread-{thread.tid}-{{}}-1.html", page, thread.pages)
    content = f"""<div id="ct" class="wp cl">
<div id="pgt" class="pgs mbm cl ">{pager}</div>
<div id="postlist" class="pl bm">
<table cellspacing="0" cellpadding="0"><tr><td class="pls ptn pbn"><div class="hm ptn"><span class="xg1">查看:</span> <span class="xi1">{thread.views}</span></div></td>
<td class="plc ptm pbn vwthd"><h1 class="ts"><span id="thread_subject">{html.escape(thread.title)}</span></h1></td></tr></table>
{posts}
<div id="postlistreply" class="pl"><div id="post_new" class="viewthread_table" style="display: none"></div></div>
</div>
<div class="pgs mtm mbm cl">{pager}</div>
</div>"""
    crumbs = [(f"forum.php?gid={forum.gid}", forum.group), (f"forum-{forum.fid}-1.html", forum.name),
              (f"thread-{thread.tid}-1-1.html", thread.title)]
    return _page(board, base, thread.title, crumbs, content)


def gbk(text: str) -> bytes:
    """What Discuz sends: GBK, with characters outside it as numeric character references."""
    return text.encode("gbk", "xmlcharrefreplace")


_THREAD = re.compile(r"^/thread-(\d+)-(\d+)-(\d+)\.html$")
_LISTING = re.compile(r"^/forum-(\d+)-(\d+)\.html$")
HTML_GBK = [("Content-Type", "text/html; charset=gbk")]


class DiscuzSite:
    """Serves a Board: forum index, listings, thread pages (GBK), robots.txt."""

    def __init__(self, board: Board, robots: str = "User-agent: *\nDisallow: /api/\nDisallow: /home.php\n") -> None:
        self.board = board
        self.robots = robots

    def base(self, request: Request) -> str:
        return f"http://{request.headers.get('host', '127.0.0.1')}/"

    def handle(self, request: Request) -> Response | None:
        path = request.path
        base = self.base(request)
        if path == "/robots.txt":
            return Response(200, self.robots.encode(), [("Content-Type", "text/plain")])
        if path in ("/", "/forum.php") and not request.query.get("mod"):
            return Response(200, gbk(render_index(self.board, base)), list(HTML_GBK))
        m = _LISTING.match(path)
        if m:
            forum = self.board.forum(int(m.group(1)))
            page = forum and render_listing(self.board, base, forum, int(m.group(2)))
            return self._page_or_404(page)
        m = _THREAD.match(path)
        if m:
            thread = self.board.threads.get(int(m.group(1)))
            page = thread and render_thread(self.board, base, thread, int(m.group(2)))
            return self._page_or_404(page)
        return None

    @staticmethod
    def _page_or_404(page: str | None) -> Response:
        if not page:
            message = "<html><body><div id=\"messagetext\"><p>抱歉，指定的主题不存在或已被删除或正在被审核</p></div></body></html>"
            return Response(404, gbk(message), list(HTML_GBK))
        return Response(200, gbk(page), list(HTML_GBK))


def load_rows(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()
