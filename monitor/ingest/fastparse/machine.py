"""The machine of the fast path: feedparser's strict-mode SAX layer and element stack.

Owns the replay of what feedparser 6.0 does around every element, whatever it is:
xml.sax.expatreader's and _StrictFeedParser's naming of elements and attributes
(namespaces mapped through a document-global table that a later declaration can
change), then _FeedParserMixin's unknown_starttag / unknown_endtag (depth, xml:base,
inline XHTML inside content, the dispatch to a handler or the storing of an unknown
element), push / pop (the element stack and the whole pipeline a value goes through:
whitespace, relative links, "looks like HTML", the UTF-8-read-as-Latin-1 repair, the
cp1252 map, and where the value is stored), the contexts and the author bookkeeping.
The handlers of the formats are in formats.py and extensions.py; see __init__.py for
what the fast path accepts.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import re
import xml.sax.saxutils
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import feedparser.api
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri
from feedparser.util import FeedParserDict

XHTML = "application/xhtml+xml"
_MATHML = "http://www.w3.org/1998/Math/MathML"
_SVG = "http://www.w3.org/2000/svg"
_AMP_REF = re.compile("&([A-Za-z0-9_]+);")
_C1_CONTROLS = re.compile("[\x80-\x9f]")  # what feedparser's cp1252 table maps
# feedparser's _sync_author_detail: an e-mail address inside an author string.
_AUTHOR_EMAIL = re.compile(
    r"""(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"""
    r"""([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"""
)

_MATCH_NAMESPACES: dict[str, str] = {k.lower(): v for k, v in _FeedParserMixin.namespaces.items()}
_CAN_BE_RELATIVE_URI = frozenset(_FeedParserMixin.can_be_relative_uri)
HTML_TYPES = frozenset(_FeedParserMixin.html_types)
map_content_type: Callable[[Any], str] = _FeedParserMixin.map_content_type
looks_like_html: Callable[[str], bool] = _FeedParserMixin.looks_like_html
enforce_href: Callable[[dict[str, Any]], dict[str, Any]] = _FeedParserMixin._enforce_href
# FeedParserDict stores some keys under another name ("description" -> "summary").
_KEYMAP: dict[str, str] = {
    k: (v[0] if isinstance(v, list) else v) for k, v in FeedParserDict.keymap.items()
}
# Every handler feedparser has: an element with one we do not replay is not ours to read.
FEEDPARSER_HANDLERS = frozenset(
    name for name in dir(feedparser.api.StrictFeedParser) if name.startswith(("_start_", "_end_"))
)


class GiveUp(Exception):
    """The document needs something this port does not replay; feedparser reads it."""


class _StartInfo(NamedTuple):
    """An element name as feedparser's start-tag handling sees it."""

    #: feedparser's tag: "prefix:local" (a standard prefix, or the document's), lower case.
    tag: str
    #: The namespace to add as an "xmlns" attribute (feedparser does so for MathML and SVG).
    xmlns: str | None
    #: The key an element without a handler is stored under ("prefix_local").
    unknown_tag: str
    #: The replayed handler, _give_up for one not replayed, None when feedparser has none.
    handler: Callable[[Any, dict[str, Any]], None] | None
    #: Whether the element ends a textinput / image (feedparser's "special hack").
    resets_textinput: bool
    resets_image: bool


class _EndInfo(NamedTuple):
    """An element name as feedparser's end-tag handling sees it."""

    tag: str
    unknown_tag: str
    handler: Callable[[Any], None] | None
    #: The local name, for the end tag of inline XHTML.
    local: str


def _give_up(*args: object) -> None:
    raise GiveUp("a feedparser handler the fast path does not replay")


_ATTRIBUTE_NAMES: dict[str, tuple[str, str]] = {}


def _attribute_names(aname: str) -> tuple[str, str]:
    """(name, qualified name) feedparser gives an expat attribute name, both lower case."""
    parts = aname.split()
    if len(parts) == 1:
        names = (aname.lower(), aname.lower())
    elif len(parts) == 3:
        std = _MATCH_NAMESPACES.get(parts[0].lower(), "")
        local = std + ":" + parts[1] if std else parts[1]
        names = (local.lower(), (parts[2] + ":" + parts[1]).lower())
    else:
        raise GiveUp("odd attribute name")
    if len(_ATTRIBUTE_NAMES) < 4096:
        _ATTRIBUTE_NAMES[aname] = names
    return names


class _Frame:
    """One entry of feedparser's element stack: (element, expecting_text, pieces).

    ``raw_markup`` records that a text piece with a "<" was kept unescaped (the element
    was not XHTML then): the one case where how expat cut the text into pieces shows.
    """

    __slots__ = ("element", "expecting_text", "pieces", "raw_markup")

    def __init__(self, element: str, expecting_text: int) -> None:
        self.element = element
        self.expecting_text = expecting_text
        self.pieces: list[str] = []
        self.raw_markup = False


def _store(context: dict[str, Any], key: str, value: Any) -> None:
    """``context[key] = value`` as FeedParserDict does it (some keys are stored renamed)."""
    context[_KEYMAP.get(key, key)] = value


def _strattrs(attrs: list[tuple[str, str]]) -> str:
    return "".join(
        ' {}="{}"'.format(k, xml.sax.saxutils.escape(v, {'"': "&quot;"})) for k, v in attrs
    )


class Machine:
    """feedparser 6.0's strict parser and _FeedParserMixin, without the element handlers.

    Method names follow feedparser's, so each can be read against the original.
    The xml:lang bookkeeping is left out: it only fills ``language`` fields nobody reads.
    The base URI starts empty: feedparser is never given the Content-Location.
    """

    #: feedparser handler name -> the replayed handler, filled in for the final class.
    start_handlers: ClassVar[dict[str, Callable[[Any, dict[str, Any]], None]]] = {}
    end_handlers: ClassVar[dict[str, Callable[[Any], None]]] = {}

    def __init__(self) -> None:
        self.feeddata: dict[str, Any] = {}
        self.entries: list[dict[str, Any]] = []
        self.depth_maps: list[dict[str, int]] = []  # property_depth_map, one per entry
        self.version = ""
        self.namespaces_in_use: dict[str, str] = {}
        self.namespacemap: dict[str | None, str] = {}
        self.decls: dict[str, str] = {}
        self.infeed = 0
        self.inentry = 0
        self.incontent = 0
        self.intextinput = 0
        self.inimage = 0
        self.inauthor = 0
        self.incontributor = 0
        self.inpublisher = 0
        self.insource = 0
        self.sourcedata: dict[str, Any] = {}
        self.contentparams: dict[str, Any] = {}
        self.summary_key: str | None = None
        self.elementstack: list[_Frame] = []
        self.title_depth = -1
        self.depth = 0
        self.has_content = 0
        self.baseuri = ""
        self.basestack: list[str] = []
        self.psc_chapters_flag = False
        # feedparser sets guidislink only at the first item or guid: before that, reading
        # it raises AttributeError (which its end-tag dispatch then swallows).
        self._guidislink: bool | int | None = None
        # expat names -> what feedparser makes of them; valid until a namespace declaration.
        self._start_names: dict[str, _StartInfo] = {}
        self._end_names: dict[str, _EndInfo] = {}

    # --- the SAX layer (xml.sax.expatreader + feedparser's _StrictFeedParser) ------------

    def start_prefix_mapping(self, prefix: str | None, uri: str | None) -> None:
        if not uri:
            return
        prefix = prefix or None
        self.track_namespace(prefix, uri)
        if prefix and uri == "http://www.w3.org/1999/xlink":
            # (an attribute of the next element: unknown_starttag lower-cases its name)
            self.decls["xmlns:" + prefix.lower()] = uri

    def _read_start_name(self, name: str) -> _StartInfo:
        """What feedparser makes of an element name at its start, given the namespaces so far.

        (xml.sax.expatreader.start_element_ns, _StrictFeedParser.startElementNS and the
        name handling of _FeedParserMixin.unknown_starttag.)
        """
        pair = name.split()
        namespace: str | None
        if len(pair) == 1:
            namespace, localname = None, name
        elif len(pair) in (2, 3):
            namespace, localname = pair[0], pair[1]
        else:
            raise GiveUp("odd element name")
        lowernamespace = str(namespace or "").lower()
        if "backend.userland.com/rss" in lowernamespace:
            namespace = "http://backend.userland.com/rss"
            lowernamespace = namespace
        std = _MATCH_NAMESPACES.get(lowernamespace)
        localname = localname.lower()
        xmlns = None
        if (localname == "math" and namespace == _MATHML) or (
            localname == "svg" and namespace == _SVG
        ):
            xmlns = namespace
        tag = localname
        if std:
            tag = std.lower() + ":" + localname
        elif namespace:
            for key, value in self.namespaces_in_use.items():
                if key and value == namespace:
                    tag = key + ":" + localname
                    break
        tag = tag.lower()
        prefix, key = self._handler_key(tag)
        methodname = "_start_" + key
        handler = self.start_handlers.get(methodname)
        if handler is None and methodname in FEEDPARSER_HANDLERS:
            handler = _give_up
        info = _StartInfo(
            tag,
            xmlns,
            key,
            handler,
            not prefix and tag not in ("title", "link", "description", "name"),
            not prefix
            and tag not in ("title", "link", "description", "url", "href", "width", "height"),
        )
        self._start_names[name] = info
        return info

    def start_element(self, name: str, attrs: dict[str, str]) -> None:
        info = self._start_names.get(name) or self._read_start_name(name)
        attrs_d = self.decls
        declared = bool(attrs_d)
        self.decls = {}
        if info.xmlns:
            attrs_d["xmlns"] = info.xmlns
        if attrs:
            qnames = []
            for aname, value in attrs.items():
                key, qname = _ATTRIBUTE_NAMES.get(aname) or _attribute_names(aname)
                attrs_d[key] = value
                qnames.append((qname, value))
            for qname, value in qnames:
                attrs_d[qname] = value
        self.unknown_starttag(info, attrs_d, declared or info.xmlns is not None)

    def end_element(self, name: str) -> None:
        self.unknown_endtag(self._end_names.get(name) or self._read_end_name(name))

    def _read_end_name(self, name: str) -> _EndInfo:
        """What feedparser makes of an element name at its end (endElementNS, unknown_endtag)."""
        pair = name.split()
        namespace = None if len(pair) == 1 else pair[0]
        localname = name if len(pair) == 1 else pair[1]
        prefix = _MATCH_NAMESPACES.get(str(namespace or "").lower(), "")
        if prefix:
            localname = prefix + ":" + localname
        elif namespace:
            for key, value in self.namespaces_in_use.items():
                if key and value == namespace:
                    localname = key + ":" + localname
                    break
        tag = localname.lower()
        _, key = self._handler_key(tag)
        methodname = "_end_" + key
        handler = self.end_handlers.get(methodname)
        if handler is None and methodname in FEEDPARSER_HANDLERS:
            handler = _give_up
        info = _EndInfo(tag, key, handler, tag.split(":")[-1])
        self._end_names[name] = info
        return info

    def _handler_key(self, tag: str) -> tuple[str, str]:
        """feedparser's handler name for ``tag`` without ``_start_``/``_end_``, and the
        namespace prefix it used: ``dc:creator`` -> ("dc_", "dc_creator")."""
        prefix, colon, suffix = tag.partition(":")
        if not colon:
            prefix, suffix = "", tag
        prefix = self.namespacemap.get(prefix, prefix)
        if prefix:
            prefix = prefix + "_"
        return prefix, prefix + suffix

    # --- _FeedParserMixin: the generic machinery ---------------------------------------------

    def unknown_starttag(self, info: _StartInfo, attrs_d: dict[str, Any], declares: bool) -> None:
        """feedparser's unknown_starttag, after startElementNS built the attributes.

        The attribute names are lower case already (declarations' too); ``declares``
        says an attribute declares a namespace (feedparser's xlink and MathML/SVG
        workarounds), which is rare enough to be looked for only then.
        """
        self.depth += 1
        if attrs_d:
            if "rel" in attrs_d:
                value = attrs_d["rel"]
                attrs_d["rel"] = value.lower() or value
            if "type" in attrs_d:
                value = attrs_d["type"]
                attrs_d["type"] = value.lower() or value
            baseuri = attrs_d.get("xml:base", attrs_d.get("base")) or self.baseuri
        else:
            baseuri = self.baseuri
        if baseuri != self.baseuri or self.baseuri:  # (joining "" to "" gives "")
            self.baseuri = _join_base(self.baseuri, baseuri)
        self.basestack.append(self.baseuri)
        if declares:
            for key, uri in list(attrs_d.items()):
                if key.startswith("xmlns:"):
                    self.track_namespace(key[6:], uri)
                elif key == "xmlns":
                    self.track_namespace(None, uri)

        tag = info.tag
        if self.incontent:
            params = self.contentparams
            if not params.get("type", "xml").endswith("xml"):
                if tag in ("xhtml:div", "div"):
                    return  # typepad does this 10/2007
                params["type"] = XHTML
            if params.get("type") == XHTML:
                attrs = list(attrs_d.items())
                if ":" in tag:
                    prefix, tag = tag.split(":", 1)
                    namespace = self.namespaces_in_use.get(prefix, "")
                    if tag == "math" and namespace == _MATHML:
                        attrs.append(("xmlns", namespace))
                    if tag == "svg" and namespace == _SVG:
                        attrs.append(("xmlns", namespace))
                if tag == "svg":
                    raise GiveUp("inline SVG")
                self.handle_data(f"<{tag}{_strattrs(attrs)}>", escape=0)
                return

        if info.resets_textinput:
            self.intextinput = 0
        if info.resets_image:
            self.inimage = 0
        handler = info.handler
        if handler is not None:
            try:
                handler(self, attrs_d)
                return
            except AttributeError:
                pass
        if len(attrs_d) == 0:
            self.push(info.unknown_tag, 1)
        else:
            _store(self._get_context(), info.unknown_tag, attrs_d)

    def unknown_endtag(self, info: _EndInfo) -> None:
        handler = info.handler
        try:
            if handler is None:
                raise AttributeError(info.unknown_tag)
            handler(self)
        except AttributeError:
            self.pop(info.unknown_tag)

        if self.incontent:
            params = self.contentparams
            if not params.get("type", "xml").endswith("xml"):
                if info.tag in ("xhtml:div", "div"):
                    return  # typepad does this 10/2007 (and the depth is never given back)
                params["type"] = XHTML
            if params.get("type") == XHTML:
                self.handle_data(f"</{info.local}>", escape=0)
        if self.basestack:
            self.basestack.pop()
            if self.basestack and self.basestack[-1]:
                self.baseuri = self.basestack[-1]
        self.depth -= 1

    def handle_data(self, text: str, escape: int = 1) -> None:
        """Text (or, with ``escape`` off, inline markup) for the element on top of the stack.

        expat hands feedparser text in pieces cut at line ends, references and 64 KB
        boundaries; we ask pyexpat for whole runs of text instead. Joined, they are the
        same; only pop's XHTML <div> unwrapping looks at single pieces, and only a piece
        starting with "<" can change its verdict: such text is flagged (see pop).
        """
        stack = self.elementstack
        if not stack:
            return
        if escape:
            if self.contentparams.get("type") == XHTML:
                text = xml.sax.saxutils.escape(text)
            elif "<" in text:
                stack[-1].raw_markup = True
        stack[-1].pieces.append(text)

    def track_namespace(self, prefix: str | None, uri: str) -> None:
        self._start_names.clear()
        self._end_names.clear()
        loweruri = uri.lower()
        if not self.version:
            if (prefix, loweruri) == (None, "http://my.netscape.com/rdf/simple/0.9/"):
                self.version = "rss090"
            elif loweruri == "http://purl.org/rss/1.0/":
                self.version = "rss10"
            elif loweruri == "http://www.w3.org/2005/atom":
                self.version = "atom10"
        if "backend.userland.com/rss" in loweruri:
            uri = "http://backend.userland.com/rss"
            loweruri = uri
        if loweruri in _MATCH_NAMESPACES:
            self.namespacemap[prefix] = _MATCH_NAMESPACES[loweruri]
            self.namespaces_in_use[_MATCH_NAMESPACES[loweruri]] = uri
        else:
            self.namespaces_in_use[prefix or ""] = uri

    def guidislink(self) -> bool | int:
        if self._guidislink is None:
            raise AttributeError("guidislink")
        return self._guidislink

    def push(self, element: str, expecting_text: int) -> None:
        self.elementstack.append(_Frame(element, expecting_text))

    def pop(self, element: str, strip_whitespace: int = 1) -> str | None:
        stack = self.elementstack
        if not stack or stack[-1].element != element:
            return None
        frame = stack.pop()
        pieces = frame.pieces
        params = self.contentparams
        if self.version == "atom10" and params.get("type", "text") == XHTML:
            if frame.raw_markup:
                raise GiveUp("unescaped markup in text turned XHTML")
            pieces = _unwrap_div(pieces)
        output = "".join(pieces)
        if strip_whitespace:
            output = output.strip()
        if not frame.expecting_text:
            return output

        if params.get("base64", 0):
            with contextlib.suppress(binascii.Error, binascii.Incomplete, UnicodeDecodeError):
                output = base64.decodebytes(output.encode("utf8")).decode("utf8")
        if element in _CAN_BE_RELATIVE_URI and output and (element != "id" or self.guidislink()):
            output = resolve_uri(self.baseuri, output)
        if (
            not self.version.startswith("atom")
            and params.get("type") == "text/plain"
            and looks_like_html(output)
        ):
            params["type"] = "text/html"
        params.pop("mode", None)
        params.pop("base64", None)
        # (feedparser runs with resolve_relative_uris and sanitize_html off: nothing to replay.)
        if not output.isascii():
            # UTF-8 that was read as ISO-8859-1 is decoded again; cp1252 extensions mapped.
            with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
                output = output.encode("iso-8859-1").decode("utf-8")
            if _C1_CONTROLS.search(output):
                output = output.translate(_cp1252)

        if element in ("category", "tags", "itunes_keywords"):
            return output
        if element == "title" and -1 < self.title_depth <= self.depth:
            return output

        if self.inentry and not self.insource:
            entry = self.entries[-1]
            if element == "content":
                entry.setdefault("content", [])
                detail = dict(params)
                detail["value"] = output
                entry["content"].append(detail)
            elif element == "link":
                if not self.inimage:
                    if "&" in output:
                        output = output.replace("&amp;", "&")
                        output = _AMP_REF.sub(r"&\g<1>", output)
                    entry["link"] = output
                    if output:
                        entry["links"][-1]["href"] = output
            else:
                if element == "description":
                    element = "summary"
                depths = self.depth_maps[-1]
                old_value_depth = depths.get(element)
                if old_value_depth is None or self.depth <= old_value_depth:
                    depths[element] = self.depth
                    _store(entry, element, output)
                if self.incontent:
                    detail = dict(params)
                    detail["value"] = output
                    _store(entry, element + "_detail", detail)
        elif self.infeed or self.insource:
            context = self._get_context()
            if element == "description":
                element = "subtitle"
            _store(context, element, output)
            if element == "link":
                output = _AMP_REF.sub(r"&\g<1>", output)
                _store(context, element, output)
                context["links"][-1]["href"] = output
            elif self.incontent:
                detail = dict(params)
                detail["value"] = output
                _store(context, element + "_detail", detail)
        return output

    def push_content(
        self, tag: str, attrs_d: dict[str, Any], default_content_type: str, expecting_text: int
    ) -> None:
        self.incontent += 1
        params: dict[str, Any] = {
            "type": map_content_type(attrs_d.get("type", default_content_type))
        }
        self.contentparams = params
        params["base64"] = self._is_base64(attrs_d, params)
        self.push(tag, expecting_text)

    def pop_content(self, tag: str) -> str | None:
        value = self.pop(tag)
        self.incontent -= 1
        self.contentparams.clear()
        return value

    @staticmethod
    def _is_base64(attrs_d: dict[str, Any], params: dict[str, Any]) -> int:
        if attrs_d.get("mode", "") == "base64":
            return 1
        kind: str = params["type"]
        if kind.startswith("text/") or kind.endswith(("+xml", "/xml")):
            return 0
        return 1

    def _get_attribute(self, attrs_d: dict[str, Any], name: str) -> Any:
        prefix, sep, suffix = name.partition(":")
        if sep:
            name = self.namespacemap.get(prefix, prefix) + ":" + suffix
        return attrs_d.get(name)

    def _save(self, key: str, value: Any, overwrite: bool = False) -> None:
        context = self._get_context()
        if overwrite:
            context[key] = value
        else:
            context.setdefault(key, value)

    def _get_context(self) -> dict[str, Any]:
        if self.insource:
            return self.sourcedata
        if self.inimage and "image" in self.feeddata:
            image: dict[str, Any] = self.feeddata["image"]
            return image
        if self.intextinput:
            textinput: dict[str, Any] = self.feeddata["textinput"]
            return textinput
        if self.inentry:
            return self.entries[-1]
        return self.feeddata

    def _save_author(self, key: str, value: Any, prefix: str = "author") -> None:
        context = self._get_context()
        context.setdefault(prefix + "_detail", {})
        context[prefix + "_detail"][key] = value
        self._sync_author_detail()
        context.setdefault("authors", [{}])
        context["authors"][-1][key] = value

    def _save_contributor(self, key: str, value: Any) -> None:
        context = self._get_context()
        context.setdefault("contributors", [{}])
        context["contributors"][-1][key] = value

    def _sync_author_detail(self, key: str = "author") -> None:
        context = self._get_context()
        detail = context.get(f"{key}s", [{}])[-1]
        if detail:
            name = detail.get("name")
            email = detail.get("email")
            if name and email:
                context[key] = f"{name} ({email})"
            elif name:
                context[key] = name
            elif email:
                context[key] = email
            return
        author, email = context.get(key), None
        if not author:
            return
        emailmatch = _AUTHOR_EMAIL.search(author)
        if emailmatch:
            email = emailmatch.group(0)
            author = author.replace(email, "")
            author = author.replace("()", "")
            author = author.replace("<>", "")
            author = author.replace("&lt;&gt;", "")
            author = author.strip()
            if author and (author[0] == "("):
                author = author[1:]
            if author and (author[-1] == ")"):
                author = author[:-1]
            author = author.strip()
        if author or email:
            context.setdefault(f"{key}_detail", detail)
        if author:
            detail["name"] = author
        if email:
            detail["email"] = email

    def _add_tag(self, term: Any, scheme: Any, label: Any) -> None:
        context = self._get_context()
        tags = context.setdefault("tags", [])
        if (not term) and (not scheme) and (not label):
            return
        value = {"term": term, "scheme": scheme, "label": label}
        if value not in tags:
            tags.append(value)


def resolve_uri(base: str, uri: str) -> str:
    """feedparser's resolve_uri: ``uri`` joined to ``base``, extra slashes after "://" dropped."""
    if not base and ":///" not in uri:
        return uri  # what _urljoin("", uri) gives when its slash fixer finds nothing
    return _urljoin(base, uri)  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=256)
def _join_base(current: str, given: str) -> str:
    """The base URI inside an element: ``given`` (xml:base) resolved against ``current``."""
    if current:
        return make_safe_absolute_uri(current, given) or current
    return _urljoin(current, given)  # type: ignore[no-any-return]


def _unwrap_div(pieces: list[str]) -> list[str]:
    """Atom 1.0 XHTML content: drop the enclosing <div> when everything is inside it."""
    while pieces and len(pieces) > 1 and not pieces[-1].strip():
        del pieces[-1]
    while pieces and len(pieces) > 1 and not pieces[0].strip():
        del pieces[0]
    if (
        pieces
        and (pieces[0] == "<div>" or pieces[0].startswith("<div "))
        and pieces[-1] == "</div>"
    ):
        depth = 0
        for piece in pieces[:-1]:
            if piece.startswith("</"):
                depth -= 1
                if depth == 0:
                    break
            elif piece.startswith("<") and not piece.endswith("/>"):
                depth += 1
        else:
            pieces = pieces[1:-1]
    return pieces
