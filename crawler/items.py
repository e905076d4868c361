"""Typed items, one dataclass per record kind; every field says its format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(kw_only=True)
class ForumPost:
    """One post of a bbs.51credit.com thread: the 14 columns of the golden TSV, plus the post time."""

    tsv_columns: ClassVar[tuple[str, ...]] = (
        "tid", "forum_group", "forum", "title", "thread_url", "author", "author_url", "thread_date",
        "pid", "poster", "poster_url", "poster_registered", "floor", "content",
    )  # fmt: skip
    tsv_key: ClassVar[str] = "pid"
    record_kind: ClassVar[str] = "post"

    tid: str
    """Discuz thread id, decimal digits."""
    forum_group: str | None
    """First-level category: the group named in the thread page's breadcrumb."""
    forum: str | None
    """Second-level category: the forum (board) named in the thread page's breadcrumb."""
    title: str | None
    """Thread title as the thread page shows it."""
    thread_url: str
    """Absolute URL of the thread page the post appears on: ``{base}thread-{tid}-{page}-1.html``."""
    author: str | None
    """Thread author's name, from the listing row."""
    author_url: str | None
    """Thread author's space URL, absolute."""
    thread_date: str | None
    """Thread creation date as the forum shows it, ``Y-n-j`` (no zero padding)."""
    pid: str
    """Discuz post id, decimal digits."""
    poster: str | None
    """Post author's name (``匿名`` for anonymous posts; the bare name for deleted users)."""
    poster_url: str | None
    """Post author's space URL, absolute; None for deleted or anonymous users."""
    poster_registered: str | None
    """Post author's registration date (``注册时间``), ``Y-n-j``; None where the sidebar shows none."""
    floor: str | None
    """Floor number the page shows for the post, decimal digits; None where it shows none."""
    content: str | None
    """All visible text of the post body; None for an empty (e.g. image-only) post."""
    posted_at: str | None = None
    """Post time as shown (Beijing time), ISO 8601 with offset: ``2018-01-27T10:11:12+08:00``."""
    page: int = 1
    """Thread page number the post appears on."""


@dataclass(kw_only=True)
class Article:
    """One Sina Finance article, from the roll API entry and the article page."""

    docid: str
    """Article id shared by URL, API and page: ``ihqfskcn2160999`` (URL ``doc-i{docid}.shtml``)."""
    url: str
    """Absolute URL the article was fetched from."""
    canonical_url: str | None = None
    """The page's canonical ``https://`` URL (``link[rel=canonical]`` or ``og:url``)."""
    title: str
    """Article title, whitespace-trimmed."""
    intime: int | None = None
    """Roll API ``intime``: UTC epoch seconds."""
    published: str | None = None
    """The page's own publication time, ISO 8601 with offset: ``2018-12-28T19:55:00+08:00``."""
    source: str | None = None
    """Source/media name (``新浪财经``, ``中国证券报``)."""
    editor: str | None = None
    """Responsible editor's name, without the ``责任编辑：`` label."""
    keywords: list[str] = field(default_factory=list)
    """Keywords, in page order."""
    lids: list[str] = field(default_factory=list)
    """Roll list ids (``pageid:lid``) the article was listed under."""
    categories: list[str] = field(default_factory=list)
    """The three Hexo category names of the roll list the article came from."""
    body_html: str = ""
    """Inner HTML of the article body (``#artibody``) as served; cleaned by the clean pipeline."""
    body_text: str | None = None
    """Body text, paragraphs joined by newlines."""
    images: list[str] = field(default_factory=list)
    """Absolute ``https:`` URLs of the body's images, in order."""
    api_img: str | None = None
    """The roll API's ``img.u`` thumbnail URL, if any."""
