"""The fast path's handlers of the extension namespaces feedparser knows.

Owns the replay of feedparser/namespaces/{dc,itunes,mediarss,georss,psc,cc}.py (GML
geometries excepted: a document with one is left to feedparser), under the same names
and aliases as there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.namespaces import georss, psc

from monitor.ingest.fastparse.formats import BaseFormats

_ITUNES_SCHEME = "http://www.itunes.com/"
_MEDIA_CATEGORY_SCHEME = "http://search.yahoo.com/mrss/category_schema"


class Reader(BaseFormats):
    """The whole replay: the machine, the base formats and the extensions."""

    # --- handlers: Dublin Core (feedparser/namespaces/dc.py) ----------------------------------

    def _start_dcterms_valid(self, attrs_d: dict[str, Any]) -> None:
        self.push("validity", 1)

    def _end_dcterms_valid(self) -> None:
        value: Any = self.pop("validity")
        for validity_detail in value.split(";"):
            if "=" in validity_detail:
                key, value = validity_detail.split("=", 1)
                if key == "start":
                    self._save("validity_start", value, overwrite=True)
                    self._save("validity_start_parsed", _parse_date(value), overwrite=True)
                elif key == "end":
                    self._save("validity_end", value, overwrite=True)
                    self._save("validity_end_parsed", _parse_date(value), overwrite=True)

    def _start_dc_contributor(self, attrs_d: dict[str, Any]) -> None:
        self.incontributor = 1
        context = self._get_context()
        context.setdefault("contributors", [])
        context["contributors"].append({})
        self.push("name", 0)

    def _end_dc_contributor(self) -> None:
        self._end_name()
        self.incontributor = 0

    # --- handlers: iTunes (feedparser/namespaces/itunes.py) -------------------------------

    def _end_itunes_keywords(self) -> None:
        value: Any = self.pop("itunes_keywords")
        for term in value.split(","):
            if term.strip():
                self._add_tag(term.strip(), _ITUNES_SCHEME, None)

    def _start_itunes_category(self, attrs_d: dict[str, Any]) -> None:
        self._add_tag(attrs_d.get("text"), _ITUNES_SCHEME, None)
        self.push("category", 1)

    def _start_itunes_owner(self, attrs_d: dict[str, Any]) -> None:
        self.inpublisher = 1
        self.push("publisher", 0)

    def _end_itunes_owner(self) -> None:
        self.pop("publisher")
        self.inpublisher = 0
        self._sync_author_detail("publisher")

    def _start_itunes_image(self, attrs_d: dict[str, Any]) -> None:
        self.push("itunes_image", 0)
        if attrs_d.get("href"):
            self._get_context()["image"] = {"href": attrs_d.get("href")}
        elif attrs_d.get("url"):
            self._get_context()["image"] = {"href": attrs_d.get("url")}

    def _end_itunes_block(self) -> None:
        value = self.pop("itunes_block", 0)
        self._get_context()["itunes_block"] = ((value == "yes" or value == "Yes") and 1) or 0

    def _end_itunes_explicit(self) -> None:
        value = self.pop("itunes_explicit", 0)
        self._get_context()["itunes_explicit"] = (None, False, True)[
            (value == "yes" and 2) or value == "clean" or 0
        ]

    # --- handlers: Media RSS (feedparser/namespaces/mediarss.py) ---------------------------

    def _start_media_category(self, attrs_d: dict[str, Any]) -> None:
        attrs_d.setdefault("scheme", _MEDIA_CATEGORY_SCHEME)
        self._start_category(attrs_d)

    def _end_media_keywords(self) -> None:
        value: Any = self.pop("media_keywords")
        for term in value.split(","):
            if term.strip():
                self._add_tag(term.strip(), None, None)

    def _end_media_title(self) -> None:
        title_depth = self.title_depth
        self._end_title()
        self.title_depth = title_depth

    def _start_media_group(self, attrs_d: dict[str, Any]) -> None:
        pass

    def _start_media_rating(self, attrs_d: dict[str, Any]) -> None:
        self._get_context().setdefault("media_rating", attrs_d)
        self.push("rating", 1)

    def _end_media_rating(self) -> None:
        rating = self.pop("rating")
        if rating is not None and rating.strip():
            self._get_context()["media_rating"]["content"] = rating

    def _start_media_credit(self, attrs_d: dict[str, Any]) -> None:
        context = self._get_context()
        context.setdefault("media_credit", [])
        context["media_credit"].append(attrs_d)
        self.push("credit", 1)

    def _end_media_credit(self) -> None:
        credit = self.pop("credit")
        if credit is not None and credit.strip():
            self._get_context()["media_credit"][-1]["content"] = credit

    def _start_media_restriction(self, attrs_d: dict[str, Any]) -> None:
        self._get_context().setdefault("media_restriction", attrs_d)
        self.push("restriction", 1)

    def _end_media_restriction(self) -> None:
        restriction = self.pop("restriction")
        if restriction is not None and restriction.strip():
            self._get_context()["media_restriction"]["content"] = [
                cc.strip().lower() for cc in restriction.split(" ")
            ]

    def _start_media_license(self, attrs_d: dict[str, Any]) -> None:
        self._get_context().setdefault("media_license", attrs_d)
        self.push("license", 1)

    def _end_media_license(self) -> None:
        license_ = self.pop("license")
        if license_ is not None and license_.strip():
            self._get_context()["media_license"]["content"] = license_

    def _start_media_content(self, attrs_d: dict[str, Any]) -> None:
        context = self._get_context()
        context.setdefault("media_content", [])
        context["media_content"].append(attrs_d)

    def _start_media_thumbnail(self, attrs_d: dict[str, Any]) -> None:
        context = self._get_context()
        context.setdefault("media_thumbnail", [])
        self.push("url", 1)
        context["media_thumbnail"].append(attrs_d)

    def _end_media_thumbnail(self) -> None:
        url = self.pop("url")
        context = self._get_context()
        if url is not None and url.strip() and "url" not in context["media_thumbnail"][-1]:
            context["media_thumbnail"][-1]["url"] = url

    def _start_media_player(self, attrs_d: dict[str, Any]) -> None:
        self.push("media_player", 0)
        self._get_context()["media_player"] = dict(attrs_d)

    def _end_media_player(self) -> None:
        value = self.pop("media_player")
        self._get_context()["media_player"]["content"] = value

    # --- handlers: GeoRSS Simple (feedparser/namespaces/georss.py; GML is not replayed) -----

    def _start_georssgeom(self, attrs_d: dict[str, Any]) -> None:
        self.push("geometry", 0)
        context = self._get_context()
        context["where"] = {}

    def _georss_end(self, parse: Callable[[Any], Any]) -> None:
        geometry = parse(self.pop("geometry"))
        if geometry:
            self._get_context()["where"].update(geometry)

    def _end_georss_point(self) -> None:
        self._georss_end(georss._parse_georss_point)

    def _end_georss_line(self) -> None:
        self._georss_end(georss._parse_georss_line)

    def _end_georss_polygon(self) -> None:
        self._georss_end(georss._parse_georss_polygon)

    def _end_georss_box(self) -> None:
        self._georss_end(georss._parse_georss_box)

    def _start_where(self, attrs_d: dict[str, Any]) -> None:
        self.push("where", 0)
        context = self._get_context()
        context["where"] = {}

    def _end_where(self) -> None:
        self.pop("where")

    # --- handlers: Podlove Simple Chapters (feedparser/namespaces/psc.py) --------------------

    def _start_psc_chapters(self, attrs_d: dict[str, Any]) -> None:
        context = self._get_context()
        if "psc_chapters" not in context:
            self.psc_chapters_flag = True
            attrs_d["chapters"] = []
            context["psc_chapters"] = dict(attrs_d)

    def _end_psc_chapters(self) -> None:
        self.psc_chapters_flag = False

    def _start_psc_chapter(self, attrs_d: dict[str, Any]) -> None:
        if self.psc_chapters_flag:
            start = self._get_attribute(attrs_d, "start")
            attrs_d["start_parsed"] = psc._parse_psc_chapter_start(start)
            context = self._get_context()["psc_chapters"]
            context["chapters"].append(dict(attrs_d))

    # --- handlers: Creative Commons (feedparser/namespaces/cc.py) ---------------------------

    def _start_cc_license(self, attrs_d: dict[str, Any]) -> None:
        context = self._get_context()
        value = self._get_attribute(attrs_d, "rdf:resource")
        link: dict[str, Any] = {"rel": "license"}
        if value:
            link["href"] = value
        context.setdefault("links", []).append(link)

    def _start_creativecommons_license(self, attrs_d: dict[str, Any]) -> None:
        self.push("license", 1)

    def _end_creativecommons_license(self) -> None:
        value = self.pop("license")
        context = self._get_context()
        link: dict[str, Any] = {"rel": "license"}
        if value:
            link["href"] = value
        context.setdefault("links", []).append(link)
        del context["license"]

    # feedparser's aliases
    _start_dc_author = BaseFormats._start_author
    _start_dc_creator = BaseFormats._start_author
    _start_dc_date = BaseFormats._start_updated
    _start_dc_description = BaseFormats._start_description
    _start_dc_language = BaseFormats._start_language
    _start_dc_publisher = BaseFormats._start_webmaster
    _start_dc_rights = BaseFormats._start_rights
    _start_dc_subject = BaseFormats._start_category
    _start_dc_title = BaseFormats._start_title
    _start_dcterms_created = BaseFormats._start_created
    _start_dcterms_issued = BaseFormats._start_published
    _start_dcterms_modified = BaseFormats._start_updated
    _start_itunes_author = BaseFormats._start_author
    _start_itunes_name = BaseFormats._start_name
    _start_itunes_email = BaseFormats._start_email
    _start_itunes_subtitle = BaseFormats._start_subtitle
    _start_itunes_summary = BaseFormats._start_summary
    _start_itunes_link = _start_itunes_image
    _start_media_title = BaseFormats._start_title
    _start_media_description = BaseFormats._start_description
    _start_georss_point = _start_georssgeom
    _start_georss_line = _start_georssgeom
    _start_georss_polygon = _start_georssgeom
    _start_georss_box = _start_georssgeom
    _start_georss_where = _start_where
    _start_creativeCommons_license = _start_creativecommons_license
    _end_dc_author = BaseFormats._end_author
    _end_dc_creator = BaseFormats._end_author
    _end_dc_date = BaseFormats._end_updated
    _end_dc_description = BaseFormats._end_description
    _end_dc_language = BaseFormats._end_language
    _end_dc_publisher = BaseFormats._end_webmaster
    _end_dc_rights = BaseFormats._end_rights
    _end_dc_subject = BaseFormats._end_category
    _end_dc_title = BaseFormats._end_title
    _end_dcterms_created = BaseFormats._end_created
    _end_dcterms_issued = BaseFormats._end_published
    _end_dcterms_modified = BaseFormats._end_updated
    _end_itunes_author = BaseFormats._end_author
    _end_itunes_category = BaseFormats._end_category
    _end_itunes_name = BaseFormats._end_name
    _end_itunes_email = BaseFormats._end_email
    _end_itunes_subtitle = BaseFormats._end_subtitle
    _end_itunes_summary = BaseFormats._end_summary
    _end_media_category = BaseFormats._end_category
    _end_media_description = BaseFormats._end_description
    _end_georss_where = _end_where
    _end_creativeCommons_license = _end_creativecommons_license
