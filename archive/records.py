"""Plain values exchanged with the archive: one HTTP exchange in, where its records went out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit, urlunsplit

#: Truncation causes WARC/1.1 allows us to write (``WARC-Truncated``).
TRUNCATION_REASONS = ("length", "time", "disconnect")

#: Profile URI of an identical-payload-digest revisit.
PROFILE_IDENTICAL_PAYLOAD = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
#: Profile URI of a server-not-modified revisit.
PROFILE_SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


@dataclass(frozen=True, kw_only=True)
class HttpExchange:
    """One request and the response it got, as they crossed the wire (what capture hands the writer)."""

    #: Absolute URL as requested; may hold non-ASCII (the writer percent-encodes it for WARC-Target-URI).
    url: str
    #: Request method, e.g. ``"GET"``.
    method: str
    #: The request-target exactly as sent: path plus ``?query`` (ASCII, already encoded).
    request_target: str
    #: The protocol actually spoken, e.g. ``"HTTP/1.1"``.
    http_version: str
    #: Request headers as sent, ``Host`` included, in order.
    request_headers: list[tuple[bytes, bytes]]
    request_body: bytes
    status: int
    #: Reason phrase as received, raw bytes.
    reason: bytes
    #: Response headers as received, in order, raw bytes (GBK allowed); ``Transfer-Encoding`` /
    #: ``Content-Length`` included when the wire had them.
    response_headers: list[tuple[bytes, bytes]]
    #: Entity body after transfer (chunked) decoding, before content decoding (gzip stays).
    payload: bytes
    #: IP address of the server the response came from.
    ip_address: str | None
    #: UTC; the request and response records share it.
    date: datetime
    #: ``"length"`` | ``"time"`` | ``"disconnect"`` when a limit cut the body.
    truncated: str | None = None


@dataclass(frozen=True)
class WrittenExchange:
    """Where :meth:`archive.writer.WarcWriter.write_exchange` put one exchange."""

    #: ``<urn:uuid:...>`` of the response (or revisit) record.
    response_id: str
    request_id: str
    #: True when an identical-payload-digest revisit was written instead of a response.
    revisit: bool
    #: Final file name (without ``.open``) the records went to.
    filename: str
    #: Offset of the response/revisit record in that file.
    offset: int
    #: ``sha1:BASE32`` of the payload.
    payload_digest: str


_WARC_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def warc_date(moment: datetime) -> str:
    """``2024-05-01T08:09:10Z`` (or ``...10.123456Z`` when there are microseconds) for an aware datetime.

    A naive datetime is refused: the archive would silently shift it by the machine's offset.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"date {moment.isoformat()} has no time zone; pass an aware UTC datetime, "
            "e.g. datetime.now(timezone.utc)"
        )
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


def is_warc_date(value: str) -> bool:
    """True when ``value`` is a UTC W3C-ISO8601 date as WARC/1.1 requires."""
    if not _WARC_DATE.match(value):
        return False
    try:
        datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False
    return True


def parse_warc_date(value: str) -> datetime:
    """The aware UTC datetime of a WARC-Date (fractions past microseconds are dropped)."""
    if not is_warc_date(value):
        raise ValueError(f"WARC-Date {value!r} is not UTC W3C-ISO8601 (YYYY-MM-DDThh:mm:ss[.f]Z)")
    moment = datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    if len(value) > 20:
        fraction = value[20:-1][:6].ljust(6, "0")
        moment = moment.replace(microsecond=int(fraction))
    return moment


def cdx_timestamp(warc_date_value: str) -> str:
    """The 14-digit ``YYYYmmddHHMMSS`` form of a WARC-Date."""
    return parse_warc_date(warc_date_value).strftime("%Y%m%d%H%M%S")


# RFC 3986: unreserved / reserved / "%"; everything else in a URI must be percent-encoded.
_URI_SAFE = "-._~:/?#[]@!$&'()*+,;=%"
_URI_CHARS = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*$")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _encode_part(part: str) -> str:
    encoded = quote(part, safe=_URI_SAFE, encoding="utf-8", errors="strict")
    # A lone "%" not starting an escape is a literal percent sign.
    return _BAD_PERCENT.sub("%25", encoded)


def target_uri(url: str) -> str:
    """The bare ASCII RFC 3986 form of ``url`` for WARC-Target-URI.

    Non-ASCII in path, query and user info is percent-encoded as UTF-8 (existing escapes, such as
    a GBK-encoded query, are kept as they are), the host goes to IDNA, and the fragment, which never
    goes on the wire, is dropped.
    """
    url = url.strip()
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"URL {url!r} is not absolute; pass scheme://host/path as requested")
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    host, port = hostport, ""
    if not hostport.startswith("["):
        head, colon, tail = hostport.rpartition(":")
        if colon and tail.isdigit():
            host, port = head, ":" + tail
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    netloc = (_encode_part(userinfo) + at if at else "") + host.lower() + port
    uri = urlunsplit(
        (parts.scheme.lower(), netloc, _encode_part(parts.path) or "/", _encode_part(parts.query), "")
    )
    if not is_target_uri(uri):
        raise ValueError(f"URL {url!r} cannot be written as a bare ASCII URI (got {uri!r})")
    return uri


def is_target_uri(value: str) -> bool:
    """True when ``value`` is a bare RFC 3986 URI made of ASCII characters only (no ``<...>``)."""
    return bool(_URI_CHARS.match(value)) and not _BAD_PERCENT.search(value)
