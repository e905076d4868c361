"""Typed items, one dataclass per record kind; every field says its format."""

from __future__ import annotations

import hashlib
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

    tsv_columns: ClassVar[tuple[str, ...]] = (
        "docid", "url", "canonical_url", "title", "intime", "published", "source", "editor", "keywords",
        "lids", "image_count", "first_image", "body_text", "content_hash",
    )  # fmt: skip
    tsv_key: ClassVar[str] = "docid"
    record_kind: ClassVar[str] = "article"
    #: An article is emitted again, as a new version, when its content hash changes.
    version_field: ClassVar[str] = "content_hash"

    docid: str
    """Article id shared by URL, API and page: ``hqfskcn2160999`` (URL ``doc-i{docid}.shtml``, API
    ``comos:{docid}``, ``meta[name=publishid]``). Ids may themselves start with ``i``."""
    url: str
    """Absolute URL the article was fetched from."""
    canonical_url: str | None = None
    """The page's canonical ``https://`` URL (``link[rel=canonical]``, else ``og:url``); None if none."""
    title: str
    """Article title, whitespace-trimmed: the roll API's, else the page's own; may be empty."""
    intime: str | None = None
    """Roll API ``intime`` (when the article entered the list), UTC ISO 8601: ``2021-07-14T10:37:20Z``."""
    published: str | None = None
    """The page's own publication time, ISO 8601 with offset: ``2018-12-28T19:55:00+08:00``."""
    source: str | None = None
    """Source/media name (``新浪财经``, ``中国证券报``): the page's, else the roll API's ``media_name``."""
    editor: str | None = None
    """Responsible editor as the editor line shows it, without the ``责任编辑：`` label: ``梁斌 SF055``."""
    keywords: str | None = None
    """Keywords in page order, comma-separated: ``辟谣,外泄,账号``."""
    lids: str | None = None
    """The roll list the article was found in, ``pageid:lid``: ``155:1686``."""
    categories: list[str] = field(default_factory=list)
    """The three Hexo category names of that roll list: ``["金融", "新浪财经", "新浪财经－国內"]``."""
    layout: str | None = None
    """Page layout the article was read from: ``2017``, ``2014``, ``old`` or ``mobile``."""
    body_html: str = ""
    """Inner HTML of the article body (``#artibody``) as served, re-serialized by the HTML5 algorithm;
    the clean pipeline replaces it with the cleaned body unless ``HEXO_RAW_BODY`` is set."""
    body_text: str | None = None
    """Text of the cleaned body (no scripts, adverts, editor line), one paragraph a line; None if empty."""
    images: list[str] = field(default_factory=list)
    """Absolute URLs of the cleaned body's images, in order (``//`` URLs made ``https:``)."""
    api_img: str | None = None
    """The roll API's ``img.u`` thumbnail, absolute ``https:`` URL; None if the entry has none."""
    image_count: int = field(init=False, default=0)
    """Number of ``images`` (derived)."""
    first_image: str | None = field(init=False, default=None)
    """The first of ``images``, None if there is none (derived)."""

    content_hash: str = field(init=False, default="")
    """``sha1:`` hex of the title and body text as the page gave them (derived): what makes a new version."""

    def __post_init__(self) -> None:
        self.image_count = len(self.images)
        self.first_image = self.images[0] if self.images else None
        text = f"{self.title}\n{self.body_text or ''}".encode()
        self.content_hash = "sha1:" + hashlib.sha1(text).hexdigest()
