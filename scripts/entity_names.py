"""Make ``monitor/matching/data/entity_names.json``: the catalog's places and organizations
named in the news languages (read by ``monitor.matching.entity_names``).

Run from the repository root (needs Babel, in the ``dev`` extra)::

    .venv/bin/python scripts/entity_names.py

For each place of the English catalog (``entities.yaml``) whose name CLDR knows (matched
on its English territory names), in each of ``LANGUAGES``:

- the territory's name (Babel's ``Locale.territories``: *Irán*, *Иран*, *伊朗*), and the
  parts of a name with a parenthesis (*Myanmar (Birmania)*: both);
- its capital, when the English catalog lists it and CLDR names a time zone after it
  (*Teherán*, *Москва*), else ``CAPITALS`` (hand-made: Beijing, Washington...);
- the demonyms of ``DEMONYMS`` (hand-made, the countries most in the news), with their
  feminine and plural forms by the regular endings (``inflect``): the Snowball stemmers
  do not bring every one to the key of the masculine singular (Spanish *alemán* -> alem,
  *alemana* -> aleman), so each form's key is in the index; German names also with the
  genitive -s (*Chinas*), which the German stemmer keeps after a vowel;
- ``EXTRA_NAMES`` (hand-made: *EE.UU.*, *米国*);
- Russian and Ukrainian: the case forms of a one-word name (Иран: Ирана, Ирану, Ираном,
  Иране), which the Snowball stemmer does not all bring to one key; Arabic: the name with
  the clitics و ب ل ف before it (وإيران), likewise.

Organizations: ``ORGANIZATIONS`` (hand-made). A name two entities would share in one
language is left out for both (CLDR's zh "刚果（金）" and "刚果（布）" share 刚果), as are
``AMBIGUOUS`` ones; ``CASE_SENSITIVE`` ones are written case-sensitive. The counts are
printed.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from babel import Locale
from babel.core import get_global
from babel.dates import get_timezone_location

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from entity_names_tables import (  # noqa: E402
    AMBIGUOUS,
    CAPITALS,
    CASE_SENSITIVE,
    DEMONYMS,
    EXTRA_NAMES,
    ORGANIZATIONS,
)

from monitor.matching.entities import parse_catalog  # noqa: E402
from monitor.matching.text import words  # noqa: E402

OUT = ROOT / "monitor" / "matching" / "data" / "entity_names.json"
#: The news languages besides English (the 20 most used in news and more).
LANGUAGES = (
    "es", "fr", "de", "it", "pt", "ru", "ar", "zh", "ja", "ko", "hi", "tr", "nl", "pl",
    "sv", "id", "fa", "uk", "el", "he", "vi", "ro",
)  # fmt: skip
#: CLDR locales read for a language besides its own (Traditional Chinese names too).
EXTRA_LOCALES = {"zh": ("zh_Hant",)}
#: Catalog keys whose English CLDR name differs from every alias: key -> territory code.
CODES = {
    "DR Congo": "CD",
    "Congo Republic": "CG",
    "Ivory Coast": "CI",
    "Palestine": "PS",
    "Vatican City": "VA",
    "Myanmar": "MM",
    "Czech Republic": "CZ",
    "East Timor": "TL",
    "Macau": "MO",
    "Hong Kong": "HK",
    "Micronesia": "FM",
    "Saint Kitts and Nevis": "KN",
    "Saint Lucia": "LC",
    "Saint Vincent and the Grenadines": "VC",
    "Sao Tome and Principe": "ST",
    "Bosnia and Herzegovina": "BA",
    "Turkey": "TR",
    "Eswatini": "SZ",
    "Cape Verde": "CV",
    "North Macedonia": "MK",
    "Antigua and Barbuda": "AG",
    "Trinidad and Tobago": "TT",
}
_PARENS = re.compile(r"\s*[(（]([^)）]*)[)）]\s*")


def english_codes() -> dict[tuple[str, ...], str]:
    """Folded English CLDR territory name (and its parts) -> two-letter code."""
    found: dict[tuple[str, ...], str] = {}
    for code, name in Locale("en").territories.items():
        if len(code) == 2 and code.isalpha():
            for part in split_name(name):
                found.setdefault(tuple(words(part)), code)
    return found


def split_name(name: str) -> list[str]:
    """A CLDR name and the parts of its parenthesis: "Myanmar (Burma)" -> both."""
    inner = _PARENS.findall(name)
    outer = _PARENS.sub(" ", name).strip()
    return [p for p in (outer, *inner) if p and p not in ("SAR China",)]


def ru_cases(name: str) -> list[str]:
    """The case forms of a one-word Russian or Ukrainian name (a sketch of the regular
    declensions; an irregular one only adds forms no text has)."""
    if " " in name or "-" in name or len(name) < 4:
        return []
    stem, last = name[:-1], name[-1]
    if name.endswith("ия"):
        return [name[:-1] + e for e in ("и", "ю", "ей")]
    if last == "а":
        return [stem + e for e in ("ы", "и", "е", "у", "ой")]
    if last in "йь":
        return [stem + e for e in ("я", "ю", "ем", "е")]
    if last in "бвгджзклмнпрстфхцчшщ":
        return [name + e for e in ("а", "у", "ом", "е")]
    return []


#: language -> (ending, replacements): the feminine and plural of a masculine demonym.
_ENDINGS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "es": [
        ("án", ("ana", "anes", "anas")),
        ("és", ("esa", "eses", "esas")),
        ("í", ("íes", "ís")),
        ("o", ("a", "os", "as")),
        ("e", ("es",)),
        ("ol", ("ola", "oles", "olas")),
    ],
    "pt": [
        ("ão", ("ã", "ães", "ãs", "ões")),
        ("ês", ("esa", "eses", "esas")),
        ("o", ("a", "os", "as")),
        ("e", ("es",)),
        ("ol", ("ola", "óis", "olas")),
    ],
    "it": [("o", ("a", "i", "e")), ("e", ("i",))],
    "fr": [
        ("ien", ("ienne", "iens", "iennes")),
        ("ais", ("aise", "aises")),
        ("and", ("ande", "ands", "andes")),
        ("ain", ("aine", "ains", "aines")),
        ("ois", ("oise", "oises")),
        ("c", ("que", "cs", "ques")),
        ("e", ("es",)),
        ("ol", ("ole", "ols", "oles")),
    ],
    "de": [("isch", ("ische", "ischen", "ischer", "isches", "ischem"))],
    "ru": [
        ("ский", ("ского", "ская", "ские", "ском", "ской", "ских")),
        ("ец", ("цы", "ца", "цев")),
    ],
    "nl": [("s", ("se",))],
}


def inflect(language: str, word: str) -> list[str]:
    """The feminine and plural forms of a masculine demonym, by its ending (the first
    ending that fits)."""
    for ending, replacements in _ENDINGS.get(language, []):
        if word.endswith(ending) and " " not in word:
            return [word[: -len(ending)] + r for r in replacements]
    return []


def ar_clitics(name: str) -> list[str]:
    """An Arabic name with the clitics written onto it: and, with/in, for/to, so."""
    if " " in name:
        return []
    return [prefix + name for prefix in ("و", "ب", "ل", "ف")]


def main() -> None:
    catalog = parse_catalog((ROOT / "monitor/matching/data/entities.yaml").read_text("utf-8"))
    codes = english_codes()
    zones: dict[str, list[str]] = defaultdict(list)
    for zone, territory in get_global("zone_territories").items():
        zones[territory].append(zone)
    names: dict[str, dict[str, dict[str, bool]]] = defaultdict(lambda: defaultdict(dict))
    places: dict[tuple[str, str], list[str]] = defaultdict(list)  # names of places: declined

    def add(key: str, language: str, text: str, place: bool = False) -> None:
        text = text.strip()
        if not text or not words(text) or (language, text) in AMBIGUOUS:
            return
        names[key][language][text] = (language, text) in CASE_SENSITIVE
        if place:
            places[(key, language)].append(text)

    matched = 0
    for entity in catalog.entities():
        if entity.kind == "organization":
            continue
        code = CODES.get(entity.key)
        english = {tuple(words(a.text)) for a in entity.aliases}
        if code is None:
            code = next((codes[n] for n in english if n in codes), None)
        if code is None:
            continue
        matched += 1
        capitals = [
            z
            for z in zones.get(code, ())
            if tuple(words(get_timezone_location(z, locale="en", return_city=True))) in english
        ]
        for language in LANGUAGES:
            for locale in (language, *EXTRA_LOCALES.get(language, ())):
                local = Locale.parse(locale)
                for part in split_name(local.territories.get(code, "")):
                    add(entity.key, language, part, place=True)
                for zone in capitals:
                    city = get_timezone_location(zone, local, return_city=True)
                    add(entity.key, language, city, place=True)
        for language, items in CAPITALS.get(entity.key, {}).items():
            for item in items:
                add(entity.key, language, item, place=True)
        for language, items in DEMONYMS.get(entity.key, {}).items():
            for item in items:
                add(entity.key, language, item)
                for form in inflect(language, item):
                    add(entity.key, language, form)
        for language, items in EXTRA_NAMES.get(entity.key, {}).items():
            for item in items:
                add(entity.key, language, item, place=True)
        for text in places[(entity.key, "de")]:
            if " " not in text and text[-1] not in "sßxz":
                add(entity.key, "de", text + "s")
        for language in ("ru", "uk"):
            for text in places[(entity.key, language)]:
                for form in ru_cases(text):
                    add(entity.key, language, form)
        for text in list(names[entity.key].get("ar", {})):
            for form in ar_clitics(text):
                add(entity.key, "ar", form)
    for key, languages in ORGANIZATIONS.items():
        assert catalog.get(key) is not None, key
        for language, items in languages.items():
            for item in items:
                add(key, language, item)
    # A name that two entities share in one language names neither.
    owners: dict[tuple[str, tuple[str, ...]], set[str]] = defaultdict(set)
    for key, languages in names.items():
        for language, texts in languages.items():
            for text in texts:
                owners[(language, tuple(words(text)))].add(key)
    shared = {k for k, v in owners.items() if len(v) > 1}
    out: dict[str, dict[str, list[object]]] = {}
    count = dropped = 0
    for key in sorted(names):
        languages = {}
        for language in sorted(names[key]):
            items: list[object] = []
            for text, case in sorted(names[key][language].items()):
                if (language, tuple(words(text))) in shared:
                    dropped += 1
                    continue
                items.append({"text": text, "case_sensitive": True} if case else text)
            if items:
                languages[language] = items
                count += len(items)
        out[key] = languages
    OUT.write_text(json.dumps(out, ensure_ascii=False, indent=0, sort_keys=True) + "\n", "utf-8")
    print(
        f"{OUT.relative_to(ROOT)}: {count:,} names of {len(out)} entities "
        f"({matched} places matched in CLDR) in {len(LANGUAGES)} languages; "
        f"{dropped} shared by two entities left out"
    )


if __name__ == "__main__":
    main()
