"""The fast path's handlers of the base formats: RSS 0.9x/1.0/2.0, Atom 0.3/1.0, CDF bits.

Owns the replay of feedparser/namespaces/_base.py, handler by handler and under the same
names (and aliases), so each can be read against the original.
"""

from __future__ import annotations

from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.urls import make_safe_absolute_uri

from monitor.ingest.fastparse.machine import (
    HTML_TYPES,
    XHTML,
    GiveUp,
    Machine,
    enforce_href,
    map_content_type,
    resolve_uri,
)


class BaseFormats(Machine):
    """feedparser's base-format handlers (feedparser.namespaces._base.Namespace)."""

    def _start_rss(self, attrs_d: dict[str, Any]) -> None:
        if not self.version or not self.version.startswith("rss"):
            attr_version = attrs_d.get("version", "")
            version = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}.get(
                attr_version
            )
            if version:
                self.version = version
            elif attr_version.startswith("2."):
                self.version = "rss20"
            else:
                self.version = "rss"

    def _start_channel(self, attrs_d: dict[str, Any]) -> None:
        self.infeed = 1
        self._cdf_common(attrs_d)

    @staticmethod
    def _cdf_common(attrs_d: dict[str, Any]) -> None:
        if "lastmod" in attrs_d or "href" in attrs_d:
            raise GiveUp("CDF attributes")

    def _start_feed(self, attrs_d: dict[str, Any]) -> None:
        self.infeed = 1
        if not self.version:
            version = {"0.1": "atom01", "0.2": "atom02", "0.3": "atom03"}.get(
                attrs_d.get("version")  # type: ignore[arg-type]
            )
            self.version = version or "atom"

    def _end_channel(self) -> None:
        self.infeed = 0

    def _start_image(self, attrs_d: dict[str, Any]) -> None:
        context = self._get_context()
        if not self.inentry:
            context.setdefault("image", {})
        self.inimage = 1
        self.title_depth = -1
        self.push("image", 0)

    def _end_image(self) -> None:
        self.pop("image")
        self.inimage = 0

    def _start_textinput(self, attrs_d: dict[str, Any]) -> None:
        context = self._get_context()
        context.setdefault("textinput", {})
        self.intextinput = 1
        self.title_depth = -1
        self.push("textinput", 0)

    def _end_textinput(self) -> None:
        self.pop("textinput")
        self.intextinput = 0

    def _start_author(self, attrs_d: dict[str, Any]) -> None:
        self.inauthor = 1
        self.push("author", 1)
        context = self._get_context()
        context.setdefault("authors", [])
        context["authors"].append({})

    def _end_author(self) -> None:
        self.pop("author")
        self.inauthor = 0
        self._sync_author_detail()

    def _start_contributor(self, attrs_d: dict[str, Any]) -> None:
        self.incontributor = 1
        context = self._get_context()
        context.setdefault("contributors", [])
        context["contributors"].append({})
        self.push("contributor", 0)

    def _end_contributor(self) -> None:
        self.pop("contributor")
        self.incontributor = 0

    def _start_name(self, attrs_d: dict[str, Any]) -> None:
        self.push("name", 0)

    def _end_name(self) -> None:
        value = self.pop("name")
        if self.inpublisher:
            self._save_author("name", value, "publisher")
        elif self.inauthor:
            self._save_author("name", value)
        elif self.incontributor:
            self._save_contributor("name", value)
        elif self.intextinput:
            context = self._get_context()
            context["name"] = value

    def _start_width(self, attrs_d: dict[str, Any]) -> None:
        self.push("width", 0)

    def _end_width(self) -> None:
        self._dimension_end("width")

    def _start_height(self, attrs_d: dict[str, Any]) -> None:
        self.push("height", 0)

    def _end_height(self) -> None:
        self._dimension_end("height")

    def _dimension_end(self, key: str) -> None:
        value: Any = self.pop(key)
        try:
            value = int(value)
        except ValueError:
            value = 0
        if self.inimage:
            context = self._get_context()
            context[key] = value

    def _start_url(self, attrs_d: dict[str, Any]) -> None:
        self.push("href", 1)

    def _end_url(self) -> None:
        value = self.pop("href")
        if self.inauthor:
            self._save_author("href", value)
        elif self.incontributor:
            self._save_contributor("href", value)

    def _start_email(self, attrs_d: dict[str, Any]) -> None:
        self.push("email", 0)

    def _end_email(self) -> None:
        value = self.pop("email")
        if self.inpublisher:
            self._save_author("email", value, "publisher")
        elif self.inauthor:
            self._save_author("email", value)
        elif self.incontributor:
            self._save_contributor("email", value)

    def _start_subtitle(self, attrs_d: dict[str, Any]) -> None:
        self.push_content("subtitle", attrs_d, "text/plain", 1)

    def _end_subtitle(self) -> None:
        self.pop_content("subtitle")

    def _start_rights(self, attrs_d: dict[str, Any]) -> None:
        self.push_content("rights", attrs_d, "text/plain", 1)

    def _end_rights(self) -> None:
        self.pop_content("rights")

    def _start_item(self, attrs_d: dict[str, Any]) -> None:
        self.entries.append({})
        self.depth_maps.append({})
        self.push("item", 0)
        self.inentry = 1
        self._guidislink = 0
        self.title_depth = -1
        about = self._get_attribute(attrs_d, "rdf:about")
        if about:
            context = self._get_context()
            context["id"] = about
        self._cdf_common(attrs_d)

    def _end_item(self) -> None:
        self.pop("item")
        self.inentry = 0
        self.has_content = 0

    def _start_language(self, attrs_d: dict[str, Any]) -> None:
        self.push("language", 1)

    def _end_language(self) -> None:
        self.pop("language")  # sets xml:lang, which nothing here reads

    def _start_webmaster(self, attrs_d: dict[str, Any]) -> None:
        self.push("publisher", 1)

    def _end_webmaster(self) -> None:
        self.pop("publisher")
        self._sync_author_detail("publisher")

    def _start_published(self, attrs_d: dict[str, Any]) -> None:
        self.push("published", 1)

    def _end_published(self) -> None:
        value = self.pop("published")
        self._save("published_parsed", _parse_date(value), overwrite=True)

    def _start_updated(self, attrs_d: dict[str, Any]) -> None:
        self.push("updated", 1)

    def _end_updated(self) -> None:
        value = self.pop("updated")
        self._save("updated_parsed", _parse_date(value), overwrite=True)

    def _start_created(self, attrs_d: dict[str, Any]) -> None:
        self.push("created", 1)

    def _end_created(self) -> None:
        value = self.pop("created")
        self._save("created_parsed", _parse_date(value), overwrite=True)

    def _start_expirationdate(self, attrs_d: dict[str, Any]) -> None:
        self.push("expired", 1)

    def _end_expirationdate(self) -> None:
        self._save("expired_parsed", _parse_date(self.pop("expired")), overwrite=True)

    def _start_category(self, attrs_d: dict[str, Any]) -> None:
        term = attrs_d.get("term")
        scheme = attrs_d.get("scheme", attrs_d.get("domain"))
        label = attrs_d.get("label")
        self._add_tag(term, scheme, label)
        self.push("category", 1)

    def _end_category(self) -> None:
        value = self.pop("category")
        if not value:
            return
        context = self._get_context()
        tags = context["tags"]
        if value and len(tags) and not tags[-1]["term"]:
            tags[-1]["term"] = value
        else:
            self._add_tag(value, None, None)

    def _start_cloud(self, attrs_d: dict[str, Any]) -> None:
        self._get_context()["cloud"] = dict(attrs_d)

    def _start_link(self, attrs_d: dict[str, Any]) -> None:
        attrs_d.setdefault("rel", "alternate")
        if attrs_d["rel"] == "self":
            attrs_d.setdefault("type", "application/atom+xml")
        else:
            attrs_d.setdefault("type", "text/html")
        context = self._get_context()
        attrs_d = enforce_href(attrs_d)
        if "href" in attrs_d:
            attrs_d["href"] = resolve_uri(self.baseuri, attrs_d["href"])
        expecting_text = self.infeed or self.inentry or self.insource
        context.setdefault("links", [])
        if not (self.inentry and self.inimage):
            context["links"].append(dict(attrs_d))
        if "href" in attrs_d:
            if (
                attrs_d.get("rel") == "alternate"
                and map_content_type(attrs_d.get("type")) in HTML_TYPES
            ):
                context["link"] = attrs_d["href"]
        else:
            self.push("link", expecting_text)

    def _end_link(self) -> None:
        self.pop("link")

    def _start_guid(self, attrs_d: dict[str, Any]) -> None:
        self._guidislink = attrs_d.get("ispermalink", "true") == "true"
        self.push("id", 1)

    def _end_guid(self) -> None:
        value = self.pop("id")
        self._save("guidislink", self.guidislink() and "link" not in self._get_context())
        if self.guidislink():
            self._save("link", value)

    def _start_title(self, attrs_d: dict[str, Any]) -> None:
        self.push_content(
            "title", attrs_d, "text/plain", self.infeed or self.inentry or self.insource
        )

    def _end_title(self) -> None:
        value = self.pop_content("title")
        if not value:
            return
        self.title_depth = self.depth

    def _start_description(self, attrs_d: dict[str, Any]) -> None:
        context = self._get_context()
        if "summary" in context and not self.has_content:
            self.summary_key = "content"
            self._start_content(attrs_d)
        else:
            self.push_content(
                "description", attrs_d, "text/html", self.infeed or self.inentry or self.insource
            )

    def _start_abstract(self, attrs_d: dict[str, Any]) -> None:
        self.push_content(
            "description", attrs_d, "text/plain", self.infeed or self.inentry or self.insource
        )

    def _end_description(self) -> None:
        if self.summary_key == "content":
            self._end_content()
        else:
            self.pop_content("description")
        self.summary_key = None

    def _start_info(self, attrs_d: dict[str, Any]) -> None:
        self.push_content("info", attrs_d, "text/plain", 1)

    def _end_info(self) -> None:
        self.pop_content("info")

    def _start_generator(self, attrs_d: dict[str, Any]) -> None:
        if attrs_d:
            attrs_d = enforce_href(attrs_d)
            if "href" in attrs_d:
                attrs_d["href"] = resolve_uri(self.baseuri, attrs_d["href"])
        self._get_context()["generator_detail"] = dict(attrs_d)
        self.push("generator", 1)

    def _end_generator(self) -> None:
        value = self.pop("generator")
        context = self._get_context()
        if "generator_detail" in context:
            context["generator_detail"]["name"] = value

    def _start_summary(self, attrs_d: dict[str, Any]) -> None:
        context = self._get_context()
        if "summary" in context and not self.has_content:
            self.summary_key = "content"
            self._start_content(attrs_d)
        else:
            self.summary_key = "summary"
            self.push_content(self.summary_key, attrs_d, "text/plain", 1)

    def _end_summary(self) -> None:
        if self.summary_key == "content":
            self._end_content()
        else:
            self.pop_content(self.summary_key or "summary")
        self.summary_key = None

    def _start_enclosure(self, attrs_d: dict[str, Any]) -> None:
        attrs_d = enforce_href(attrs_d)
        context = self._get_context()
        attrs_d["rel"] = "enclosure"
        context.setdefault("links", []).append(dict(attrs_d))

    def _start_source(self, attrs_d: dict[str, Any]) -> None:
        if "url" in attrs_d:
            self.sourcedata["href"] = attrs_d["url"]
        self.push("source", 1)
        self.insource = 1
        self.title_depth = -1

    def _end_source(self) -> None:
        self.insource = 0
        value = self.pop("source")
        if value:
            self.sourcedata["title"] = value
        self._get_context()["source"] = dict(self.sourcedata)
        self.sourcedata.clear()

    def _start_content(self, attrs_d: dict[str, Any]) -> None:
        self.has_content = 1
        self.push_content("content", attrs_d, "text/plain", 1)
        src = attrs_d.get("src")
        if src:
            self.contentparams["src"] = src
        self.push("content", 1)  # sic: a second frame, never popped

    def _start_body(self, attrs_d: dict[str, Any]) -> None:
        self.push_content("content", attrs_d, XHTML, 1)

    def _start_content_encoded(self, attrs_d: dict[str, Any]) -> None:
        self.has_content = 1
        self.push_content("content", attrs_d, "text/html", 1)

    def _end_content(self) -> None:
        copy_to_summary = map_content_type(self.contentparams.get("type")) in (
            {"text/plain"} | HTML_TYPES
        )
        value = self.pop_content("content")
        if copy_to_summary:
            self._save("summary", value)

    def _start_newlocation(self, attrs_d: dict[str, Any]) -> None:
        self.push("newlocation", 1)

    def _end_newlocation(self) -> None:
        url: Any = self.pop("newlocation")
        context = self._get_context()
        if context is not self.feeddata:
            return
        context["newlocation"] = make_safe_absolute_uri(self.baseuri, url.strip())

    def _start_tags(self, attrs_d: dict[str, Any]) -> None:
        self.push("tags", 1)

    def _end_tags(self) -> None:
        value: Any = self.pop("tags")
        for term in value.split(","):
            self._add_tag(term.strip(), None, None)

    # feedparser's aliases
    _start_textInput = _start_textinput
    _start_managingeditor = _start_author
    _start_homepage = _start_url
    _start_uri = _start_url
    _start_tagline = _start_subtitle
    _start_copyright = _start_rights
    _start_entry = _start_item
    _start_issued = _start_published
    _start_pubdate = _start_published
    _start_modified = _start_updated
    _start_lastbuilddate = _start_updated
    _start_keywords = _start_category
    _start_id = _start_guid
    _start_feedburner_browserfriendly = _start_info
    _start_xhtml_body = _start_body
    _start_fullitem = _start_content_encoded
    _end_feed = _end_channel
    _end_textInput = _end_textinput
    _end_managingeditor = _end_author
    _end_homepage = _end_url
    _end_uri = _end_url
    _end_tagline = _end_subtitle
    _end_copyright = _end_rights
    _end_entry = _end_item
    _end_issued = _end_published
    _end_pubdate = _end_published
    _end_modified = _end_updated
    _end_lastbuilddate = _end_updated
    _end_keywords = _end_category
    _end_id = _end_guid
    _end_abstract = _end_description
    _end_feedburner_browserfriendly = _end_info
    _end_body = _end_content
    _end_xhtml_body = _end_content
    _end_content_encoded = _end_content
    _end_fullitem = _end_content
