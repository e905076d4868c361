"""HTML5 parsing (html5lib, ElementTree nodes) and the HTML5 serialization algorithm over the parsed tree.

lxml's serializer writes ``alt=""`` and percent-escapes non-ASCII ``href``/``src`` values; the Hexo format
needs ``alt`` written bare and attribute values as they were, so serialization is our own: the WHATWG
"serializing HTML fragments" algorithm, with one deliberate difference: an attribute whose value is
empty is written as its bare name (``<img alt>``).

Nodes are ``xml.etree.ElementTree`` elements as html5lib builds them with ``namespaceHTMLElements=False``:
HTML elements have plain tags (``"p"``), SVG and MathML ones ``"{namespace}local"`` tags, comments have
``ElementTree.Comment`` as tag, and text lives in ``.text``/``.tail``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import urljoin
from xml.etree import ElementTree

import html5lib

Element = ElementTree.Element

VOID_ELEMENTS = frozenset(
    {
        "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img", "input", "keygen",
        "link", "meta", "param", "source", "track", "wbr",
    }
)  # fmt: skip
#: Children of these are written unescaped (html5lib parses with scripting off, so ``noscript`` is not here).
RAW_TEXT_ELEMENTS = frozenset({"style", "script", "xmp", "iframe", "noembed", "noframes", "plaintext"})
#: A leading newline inside these is eaten by the parser, so one is written back to keep the text.
_NEWLINE_EATERS = frozenset(("pre", "textarea", "listing"))

_XML_NS = "http://www.w3.org/XML/1998/namespace"
_XMLNS_NS = "http://www.w3.org/2000/xmlns/"
_XLINK_NS = "http://www.w3.org/1999/xlink"
_ATTR_PREFIX = {_XML_NS: "xml:", _XLINK_NS: "xlink:"}

_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "\xa0": "&nbsp;", "<": "&lt;", ">": "&gt;"})
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "\xa0": "&nbsp;", '"': "&quot;"})
_DOCTYPE = "<!DOCTYPE>"


def parse_document(markup: str) -> Element:
    """Parse ``markup`` as a whole HTML5 document; returns the ``html`` element."""
    root: Element = html5lib.parse(markup, treebuilder="etree", namespaceHTMLElements=False)
    return root


def parse_body(markup: str) -> Element:
    """The ``body`` element of ``markup`` re-parsed as an HTML5 document.

    Whitespace and comments before the first element end up outside the body, and a leading ``<style>``,
    ``<link>`` or ``<meta>`` goes to the head, exactly as a browser would place them.
    """
    body = parse_document(markup).find("body")
    if body is None:  # html5lib always creates a body; this guards the typing only
        raise ValueError("html5lib returned a document without a body")
    return body


def is_comment(node: Element) -> bool:
    return node.tag is ElementTree.Comment  # type: ignore[comparison-overlap]


def is_element(node: Element) -> bool:
    """True for elements (not comments, processing instructions or the doctype)."""
    return isinstance(node.tag, str) and node.tag != _DOCTYPE


def local_name(node: Element) -> str:
    """The element's tag without its namespace (``svg`` for ``{http://www.w3.org/2000/svg}svg``)."""
    tag = node.tag if isinstance(node.tag, str) else ""
    return tag.rsplit("}", 1)[-1]


def _attribute_name(name: str) -> str:
    if not name.startswith("{"):
        return name
    namespace, local = name[1:].split("}", 1)
    if namespace == _XMLNS_NS:
        return local if local == "xmlns" else "xmlns:" + local
    return _ATTR_PREFIX.get(namespace, "") + local


def _escape_text(text: str) -> str:
    return text.translate(_TEXT_ESCAPES)


def _serialize(node: Element, out: list[str]) -> None:
    if is_comment(node):
        out.append(f"<!--{node.text or ''}-->")
        return
    if node.tag == _DOCTYPE:
        out.append(f"<!DOCTYPE {node.text or 'html'}>")
        return
    if not is_element(node):  # processing instruction: the HTML parser never makes one
        return
    name = local_name(node)
    out.append("<" + name)
    for attr, value in node.attrib.items():
        attr_name = _attribute_name(attr)
        # The one departure from the algorithm: an empty value is written bare, as the Hexo format has it.
        out.append(f' {attr_name}="{value.translate(_ATTR_ESCAPES)}"' if value else " " + attr_name)
    out.append(">")
    if name in VOID_ELEMENTS and not node.tag.startswith("{"):
        return
    if name in _NEWLINE_EATERS and (node.text or "").startswith("\n"):
        out.append("\n")
    _serialize_children(node, out)
    out.append(f"</{name}>")


def _serialize_children(parent: Element, out: list[str]) -> None:
    raw = local_name(parent) in RAW_TEXT_ELEMENTS and not str(parent.tag).startswith("{")
    escape: Callable[[str], str] = (lambda s: s) if raw else _escape_text
    if parent.text:
        out.append(escape(parent.text))
    for child in parent:
        _serialize(child, out)
        if child.tail:
            out.append(escape(child.tail))


def inner_html(element: Element) -> str:
    """The element's children serialized by the HTML5 algorithm (empty attributes bare)."""
    out: list[str] = []
    _serialize_children(element, out)
    return "".join(out)


def outer_html(element: Element) -> str:
    """The element itself serialized by the HTML5 algorithm (empty attributes bare)."""
    out: list[str] = []
    _serialize(element, out)
    return "".join(out)


# --- tree helpers --------------------------------------------------------------------------------------
def iter_elements(root: Element) -> Iterator[Element]:
    """Every element below ``root`` (not ``root`` itself), in document order; comments skipped."""
    for node in root.iter():
        if node is not root and is_element(node):
            yield node


def text_content(node: Element) -> str:
    """All text below ``node``, as the DOM's ``textContent`` (comments contribute nothing)."""
    parts: list[str] = []

    def walk(el: Element) -> None:
        if is_element(el) and el.text:
            parts.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(node)
    return "".join(parts)


def find_first(root: Element, match: Callable[[Element], bool]) -> Element | None:
    """The first element below ``root`` (in document order) that ``match`` accepts."""
    return next((el for el in iter_elements(root) if match(el)), None)


def has_class(node: Element, name: str) -> bool:
    return name in (node.get("class") or "").split()


def _append_text(parent: Element, previous: Element | None, text: str | None) -> None:
    if not text:
        return
    if previous is None:
        parent.text = (parent.text or "") + text
    else:
        previous.tail = (previous.tail or "") + text


def remove(parent: Element, child: Element, keep_tail: bool = True) -> None:
    """Remove ``child`` from ``parent``; the text that followed it stays in place."""
    index = list(parent).index(child)
    previous = parent[index - 1] if index else None
    tail = child.tail
    parent.remove(child)
    if keep_tail:
        _append_text(parent, previous, tail)


def replace_with_text(parent: Element, child: Element, text: str) -> None:
    """Put ``text`` (then the text that followed ``child``) where ``child`` was."""
    index = list(parent).index(child)
    previous = parent[index - 1] if index else None
    tail = child.tail
    parent.remove(child)
    _append_text(parent, previous, text)
    _append_text(parent, previous, tail)


def remove_matching(root: Element, match: Callable[[Element], bool]) -> int:
    """Remove every node below ``root`` that ``match`` accepts (with its subtree); returns how many."""
    removed = 0
    for parent in list(root.iter()):
        for child in list(parent):
            if match(child):
                remove(parent, child)
                removed += 1
    return removed


# --- what the Hexo generator did to a body ---------------------------------------------------------------
_EVENT_ATTRIBUTES = ("onclick", "onerror", "onload")


def remove_scripts(root: Element) -> None:
    """Remove every ``<script>`` element and the ``onclick``/``onerror``/``onload`` attributes."""
    remove_matching(root, lambda node: is_element(node) and node.tag == "script")
    for el in iter_elements(root):
        for attr in _EVENT_ATTRIBUTES:
            el.attrib.pop(attr, None)


def make_urls_absolute(root: Element, base_url: str) -> None:
    """Resolve ``a[href]`` and ``img[src]`` against ``base_url``; absolute URLs stay exactly as written."""
    for el in iter_elements(root):
        attr = {"a": "href", "img": "src"}.get(str(el.tag))
        if attr and attr in el.attrib:
            el.set(attr, urljoin(base_url, el.attrib[attr]))


def add_no_referrer(root: Element) -> None:
    """Give every ``<img>`` ``referrerpolicy="no-referrer"``: appended last, or set in place if present."""
    for el in iter_elements(root):
        if el.tag == "img":
            el.set("referrerpolicy", "no-referrer")


_BLANK_WITH_NEWLINE = re.compile(r"^[ \t\r\n\f]*\n[ \t\r\n\f]*$")


def collapse_blank_runs(root: Element) -> None:
    """Turn each whitespace-only run that holds a newline into a single newline (outside ``<pre>``)."""

    def walk(el: Element, keep: bool) -> None:
        keep = keep or local_name(el) in _NEWLINE_EATERS or local_name(el) in RAW_TEXT_ELEMENTS
        if not keep and el.text and _BLANK_WITH_NEWLINE.match(el.text):
            el.text = "\n"
        for child in el:
            walk(child, keep)
            if not keep and child.tail and _BLANK_WITH_NEWLINE.match(child.tail):
                child.tail = "\n"

    walk(root, False)
