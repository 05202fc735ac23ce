"""The shipped catalog's names in other languages: ``data/entity_names.json``.

Made by ``scripts/entity_names.py`` (run it again to refresh; the daemon reads only the
JSON, it does not need Babel): for each place of the English catalog, its name in each
language from CLDR (Babel's territory names: *Irán*, *Иран*, *伊朗*), its capital's
where CLDR names the city (the time-zone cities: *Teherán*), and the demonyms of a
hand-made table; for the organizations, names by hand (*OTAN*, *ООН*, *联合国*).

The file maps an entity key to ``{language: [name, ...]}``; a name is a string (case
rule: an acronym, with capitals and no lower-case letter, is case-sensitive; any other
name is not) or ``{"text": ..., "case_sensitive": true}``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Generic, TypeVar

__all__ = ["DATA_FILE", "ForeignNames", "foreign_names"]

_A = TypeVar("_A")
_E = TypeVar("_E")

#: Where the names are, in the package.
DATA_FILE = "data/entity_names.json"

#: One name: (text, case_sensitive, language).
Name = tuple[str, bool, str]


def _acronym(text: str) -> bool:
    return any(c.isupper() for c in text) and not any(c.islower() for c in text)


@functools.cache
def foreign_names() -> dict[str, tuple[Name, ...]]:
    """Entity key -> its names in other languages (empty if the file is missing)."""
    data_file = resources.files("monitor.matching").joinpath(DATA_FILE)
    if not data_file.is_file():
        return {}
    data = json.loads(data_file.read_text(encoding="utf-8"))
    found: dict[str, tuple[Name, ...]] = {}
    for key, languages in data.items():
        names: dict[tuple[str, str], Name] = {}
        for language, items in languages.items():
            for item in items:
                if isinstance(item, str):
                    name = (item, _acronym(item), language)
                else:
                    name = (item["text"], bool(item.get("case_sensitive", False)), language)
                names.setdefault((name[0], language), name)
        found[key] = tuple(names.values())
    return found


class ForeignNames(Generic[_A, _E]):
    """An entity catalog's names in other languages, read on first use (``load``): entity
    key -> its names (``names``) and folded name -> the entities it names (``owners``)."""

    def __init__(
        self, source: Mapping[str, Sequence[_A]] | Callable[[], Mapping[str, Sequence[_A]]]
    ):
        self._source = source
        self.loaded = False
        self.names: dict[str, tuple[_A, ...]] = {}
        self.owners: dict[tuple[str, ...], list[_E]] = {}

    def load(
        self, owner_of: Callable[[str], _E | None], fold: Callable[[_A], tuple[str, ...]]
    ) -> dict[str, tuple[_A, ...]]:
        """The names by entity key; ``owner_of(key)`` is the entity of a key (None: the
        entity was replaced by an override, or is unknown: its names are dropped)."""
        if self.loaded:
            return self.names
        source = self._source
        for key, names in (source() if callable(source) else source).items():
            owner = owner_of(key)
            if owner is None:
                continue
            self.names[key] = tuple(names)
            for name in names:
                owners = self.owners.setdefault(fold(name), [])
                if owner not in owners:
                    owners.append(owner)
        self.loaded = True
        return self.names
