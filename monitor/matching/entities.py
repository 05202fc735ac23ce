"""Named entities: the catalog behind ``@Iran``, ``@NATO`` and ``@"United States"``.

Owns the shipped catalog (``data/entities.yaml``: every UN member state, the observer and
widely covered states and territories, former states, the major international
organizations), its strict validation, the default case rule of an alias, lookup of an
entity by name, and the ``entities:`` overrides of a rules file. Matching itself belongs
to the engine: an entity is a set of aliases, each matched as a phrase (whole words, in
order).

Case rule (:func:`default_case_sensitive`): an alias with upper-case letters and no
lower-case one is an acronym and matches case-sensitively (``US`` is not "give us", ``WHO``
is not "who", also ``U.S.`` and ``G7``); so does a proper name that is also a common
lower-case word (``Turkey``, ``Polish``, ``China``, ``Chad``, ``Guinea``, ...: the list
is ``COMMON_WORD_NAMES``); every other alias is case-insensitive. A YAML alias may set
the rule itself: ``{text: CoE, case_sensitive: true}``.

Text in capitals: a case-sensitive alias with a lower-case letter also matches in
capitals (CHINA, TURKEY, EAST GERMANY) where the text around it is in capitals, as in a
wire headline: the cased words of its sentence, up to 3 on each side of it, are at least
2 and none has a lower-case letter. A sentence ends at a line break and at . ! ? before
a space (not a "." after a one-letter word: U.S.); title and text are separate.
"CHINA RAISES TARIFFS" is China, "the BIG CHINA SALE is on" and "CHINA TARIFFS" are
not; ``US`` is never "us". The engine applies it (``document.View.amid_capitals``), to
entity aliases only: ``case:China`` keeps its exact case.

Kinds: ``country``, ``territory``, ``organization``, and ``former`` for a state that
split up or was absorbed (the Soviet Union, Yugoslavia, Czechoslovakia, East Germany);
a former name of a state that lives on under a new one is an alias of it (Burma of
Myanmar, Zaire of DR Congo). The YAML says which and why.

Lookup (:meth:`EntityCatalog.get`) compares folded words (case, accents, punctuation), so
``usa``, ``U.S.`` and ``united states`` all name the United States. A key wins over an
alias; an alias that several entities share names none of them (``None``), the caller
reports it as unknown or ambiguous.

Overrides (:meth:`EntityCatalog.with_overrides`, the ``entities:`` key): a new name adds
an entity; the name of a shipped entity (its key, compared like lookup) *replaces* that
entity's aliases, keeping its key (still an alias) and kind. Replacing rather than
extending keeps a rule file's meaning readable from the file alone; to extend, list the
shipped aliases again. A name that is only an alias of a shipped entity is refused
(``USA: [...]`` would shadow the United States): override it under its key.

Aliases nested in a longer alias of another entity (Sudan in South Sudan, Guinea in Papua
New Guinea, Chinese in Chinese Taipei) are listed by :meth:`EntityCatalog.shadows`, so
that the matcher can give such an occurrence to the longer entity.

Names in other languages (``entity_names``: ``data/entity_names.json``, made by
``scripts/entity_names.py`` from CLDR, with demonyms and organizations by hand) are
kept beside the entities (:meth:`EntityCatalog.foreign_aliases`, each ``Alias`` with its
``language``): they count in the articles of that language only (Spanish *Irán* and
*iraní* in Spanish articles), so English articles are matched with ``Entity.aliases``,
the English ones, exactly as before. ``@Irán`` and ``@Иран`` name Iran too (a name of
another language is looked up after the keys and English aliases).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

import yaml

from monitor.matching.entity_names import ForeignNames, foreign_names
from monitor.matching.text import tokenize, words

__all__ = [
    "COMMON_WORD_NAMES",
    "CUSTOM",
    "KINDS",
    "Alias",
    "AliasItem",
    "AliasLike",
    "Entity",
    "EntityCatalog",
    "EntityConfigError",
    "default_case_sensitive",
    "default_catalog",
    "parse_catalog",
]

#: Kinds of a shipped entity (``former``: a state that no longer exists and has no single
#: successor); an entity added by an override has kind ``CUSTOM``.
KINDS = frozenset({"country", "territory", "former", "organization"})
#: The kind of an entity added through the ``entities:`` key.
CUSTOM = "custom"

#: Proper names (folded) that are also common lower-case English words, so matched
#: case-sensitively: the bird, to polish, a telephone pole, porcelain, a chad, guinea pigs,
#: chile peppers, lima beans, panama hats, an afghan blanket, a danish, swedes (turnips),
#: to welsh, scot-free, the kiwi fruit, wellington boots, bermuda shorts, a pentagon, a quad.
COMMON_WORD_NAMES = frozenset(
    {
        "afghan",
        "afghans",
        "bermuda",
        "chad",
        "chile",
        "china",
        "danish",
        "guinea",
        "kiwi",
        "kiwis",
        "lima",
        "panama",
        "pentagon",
        "pole",
        "poles",
        "polish",
        "quad",
        "scot",
        "swede",
        "swedes",
        "turkey",
        "welsh",
        "wellington",
    }
)

_ENTRY_FIELDS = frozenset({"kind", "aliases"})
_ALIAS_FIELDS = frozenset({"text", "case_sensitive"})
_DATA_FILE = "data/entities.yaml"


class EntityConfigError(ValueError):
    """An invalid catalog entry or ``entities:`` override; the message says what to fix.

    ``entity`` is the entry's name as written (``None`` for the file or mapping as a
    whole) and ``line`` its 1-based line in the shipped file when known, so that a config
    loader can point at the right place.
    """

    def __init__(self, message: str, *, entity: str | None = None, line: int | None = None):
        super().__init__(message)
        self.entity = entity  #: the entry's name as written, if the error is about one
        self.line = line  #: 1-based line in the shipped YAML, when known


@dataclass(frozen=True, slots=True)
class Alias:
    """One name of an entity, matched as a phrase."""

    text: str  #: the name as written ("Islamic Republic of Iran", "U.S.")
    case_sensitive: bool  #: match the exact case (acronyms, common-word names)
    language: str = ""  #: ISO 639 code of a name of another language ("es"), else ""


@dataclass(frozen=True, slots=True)
class Entity:
    """A named entity: a key and every alias it is known by."""

    key: str  #: the common English short name, what ``@key`` refers to
    aliases: tuple[Alias, ...]  #: every name, the key itself first
    kind: str = CUSTOM  #: country | territory | organization | custom (from an override)


class AliasLike(Protocol):
    """An alias given as an object (``Alias``, or the config's alias model)."""

    @property
    def text(self) -> str: ...
    @property
    def case_sensitive(self) -> bool: ...


#: One item of an ``entities:`` list: a string, ``{text, case_sensitive}``, or an object
#: with those two attributes.
AliasItem = str | Mapping[str, object] | AliasLike


def default_case_sensitive(alias: str) -> bool:
    """The case rule of an alias that does not state one.

    True for acronyms (an upper-case letter and no lower-case one: ``US``, ``U.S.``,
    ``G7``, ``OPEC+``) and for the proper names in :data:`COMMON_WORD_NAMES`
    (``Turkey``, ``Polish``); false for everything else.
    """
    if any(c.isupper() for c in alias) and not any(c.islower() for c in alias):
        return True
    return alias.strip().casefold() in COMMON_WORD_NAMES


def _fold(name: str) -> tuple[str, ...]:
    """The lookup form of a name: its folded words."""
    return tuple(words(name))


def _raw_words(text: str) -> tuple[str, ...]:
    return tuple(text[t.start : t.end] for t in tokenize(text))


def _has_run(longer: str, shorter: str) -> bool:
    """Whether the words of ``shorter``, case kept, are a contiguous run in ``longer``."""
    outer, inner = _raw_words(longer), _raw_words(shorter)
    return any(outer[i : i + len(inner)] == inner for i in range(len(outer) - len(inner) + 1))


def _check_name(text: object, what: str, entity: str | None, line: int | None) -> str:
    if not isinstance(text, str):
        raise EntityConfigError(
            f"{what}: expected a string, got {type(text).__name__} {text!r}",
            entity=entity,
            line=line,
        )
    if not text.strip():
        raise EntityConfigError(f"{what} is empty: write a name", entity=entity, line=line)
    if text != text.strip():
        raise EntityConfigError(
            f"{what} {text!r} has surrounding whitespace: write {text.strip()!r}",
            entity=entity,
            line=line,
        )
    if not words(text):
        raise EntityConfigError(
            f"{what} {text!r} has no word in it: an alias is matched as words",
            entity=entity,
            line=line,
        )
    return text


def _parse_alias(item: object, what: str, entity: str, line: int | None) -> tuple[Alias, bool]:
    """An alias from a string or ``{text, case_sensitive}``; also whether the rule was set."""
    if not isinstance(item, str | Mapping) and hasattr(item, "text"):
        item = {"text": item.text, "case_sensitive": getattr(item, "case_sensitive", None)}
        if item["case_sensitive"] is None:
            del item["case_sensitive"]
    if isinstance(item, Mapping):
        unknown = sorted(str(k) for k in item if k not in _ALIAS_FIELDS)
        if unknown:
            raise EntityConfigError(
                f"{what}: unknown field(s) {', '.join(unknown)}; an alias is a string or "
                "{text: ..., case_sensitive: true|false}",
                entity=entity,
                line=line,
            )
        if "text" not in item:
            raise EntityConfigError(
                f"{what}: missing `text`; write {{text: ..., case_sensitive: true|false}}",
                entity=entity,
                line=line,
            )
        text = _check_name(item["text"], what, entity, line)
        if "case_sensitive" not in item:
            return Alias(text, default_case_sensitive(text)), False
        flag = item["case_sensitive"]
        if not isinstance(flag, bool):
            raise EntityConfigError(
                f"{what}: case_sensitive must be true or false, got {flag!r}",
                entity=entity,
                line=line,
            )
        return Alias(text, flag), True
    text = _check_name(item, what, entity, line)
    return Alias(text, default_case_sensitive(text)), False


def _build_entity(
    key: str, kind: str, items: Sequence[object], *, strict: bool, line: int | None = None
) -> Entity:
    """An entity with the key first among its aliases.

    ``strict`` (the shipped file) refuses a repeated alias; otherwise (overrides) an exact
    repeat is dropped. Either way one text with two case rules is refused. Listing the key
    with an explicit ``case_sensitive`` sets the key's own rule.
    """
    aliases: dict[str, Alias] = {key: Alias(key, default_case_sensitive(key))}
    key_rule_set = False
    for number, item in enumerate(items, start=1):
        what = f"entity {key!r}: alias {number}"
        alias, explicit = _parse_alias(item, what, key, line)
        previous = aliases.get(alias.text)
        if previous is None:
            aliases[alias.text] = alias
        elif alias.text == key and explicit and not key_rule_set:
            aliases[key] = alias
            key_rule_set = True
        elif previous.case_sensitive != alias.case_sensitive:
            raise EntityConfigError(
                f"{what}: {alias.text!r} is listed twice with different case rules; keep one",
                entity=key,
                line=line,
            )
        elif strict:
            raise EntityConfigError(
                f"{what}: {alias.text!r} is listed twice"
                + (" (the key is always an alias)" if alias.text == key else ""),
                entity=key,
                line=line,
            )
    return Entity(key=key, aliases=tuple(aliases.values()), kind=kind)


class EntityCatalog:
    """An immutable set of entities, looked up by key or alias (see the module docstring)."""

    __slots__ = (
        "__weakref__",
        "_by_alias",
        "_by_key",
        "_entities",
        "_foreign",
        "_shadows",
    )

    def __init__(
        self,
        entities: Iterable[Entity],
        foreign: Mapping[str, Sequence[Alias]] | Callable[[], Mapping[str, Sequence[Alias]]] = (
            lambda: {}
        ),
    ) -> None:
        """``foreign``: entity key -> its names in other languages (``Alias.language`` set),
        or a function that gives them: called when first needed (a name not found in
        English, an article in another language), so that a daemon reading English only
        never holds them."""
        self._entities: tuple[Entity, ...] = tuple(entities)
        self._by_key: dict[tuple[str, ...], Entity] = {}
        self._by_alias: dict[tuple[str, ...], list[Entity]] = {}
        #: language -> entity key -> shadows (computed per language on first use).
        self._shadows: dict[str, dict[str, tuple[Alias, ...]]] = {}
        for entity in self._entities:
            folded = _fold(entity.key)
            other = self._by_key.get(folded)
            if other is not None:
                raise EntityConfigError(
                    f"entity {entity.key!r} has the same name as {other.key!r}; rename one",
                    entity=entity.key,
                )
            self._by_key[folded] = entity
            for alias in entity.aliases:
                owners = self._by_alias.setdefault(_fold(alias.text), [])
                if entity not in owners:
                    owners.append(entity)
        self._foreign: ForeignNames[Alias, Entity] = ForeignNames(foreign)

    def _foreign_names(self) -> dict[str, tuple[Alias, ...]]:
        """Entity key -> names in other languages (read on first use)."""
        return self._foreign.load(self._owner_of, lambda alias: _fold(alias.text))

    def _owner_of(self, key: str) -> Entity | None:
        entity = self._by_key.get(_fold(key))
        return entity if entity is not None and entity.key == key else None

    def get(self, name: str) -> Entity | None:
        """The entity named ``name`` (key or alias, case- and accent-insensitive), or None.

        A key wins over another entity's alias; an alias shared by several entities and
        no entity's key gives None, as does an unknown name.
        """
        folded = _fold(name)
        entity = self._by_key.get(folded)
        if entity is not None:
            return entity
        owners = self._by_alias.get(folded) or self._foreign_owners(folded)
        return owners[0] if len(owners) == 1 else None

    def owners(self, name: str) -> list[Entity]:
        """Every entity with ``name`` as key or alias (for an "ambiguous" error message)."""
        folded = _fold(name)
        return list(self._by_alias.get(folded) or self._foreign_owners(folded))

    def _foreign_owners(self, folded: tuple[str, ...]) -> list[Entity]:
        """The entities named ``folded`` in another language (looked up last)."""
        self._foreign_names()
        return self._foreign.owners.get(folded) or []

    def with_overrides(self, extra: Mapping[str, Sequence[AliasItem]]) -> EntityCatalog:
        """A new catalog with the ``entities:`` key of a rules file applied.

        ``{"Acme": ["Acme Corp", "ACME"]}`` adds an entity (kind ``custom``);
        ``{"Iran": ["Tehran"]}`` replaces Iran's aliases by the key and Tehran. An alias is
        a string, a mapping ``{text, case_sensitive}`` or an object with those attributes
        (the config's alias model). Raises
        :class:`EntityConfigError` (a ValueError) naming the entry and what to fix.
        """
        if not isinstance(extra, Mapping):
            raise EntityConfigError(
                "entities: expected a mapping of entity name to a list of aliases, "
                f"got {type(extra).__name__}"
            )
        replaced: dict[str, Entity] = {}
        added: list[Entity] = []
        seen: dict[tuple[str, ...], str] = {}
        for raw_name, items in extra.items():
            name = _check_name(raw_name, "entity name", None, None)
            folded = _fold(name)
            if folded in seen:
                raise EntityConfigError(
                    f"entity {name!r} is the same name as {seen[folded]!r}; merge the two",
                    entity=name,
                )
            seen[folded] = name
            if isinstance(items, str | bytes) or not isinstance(items, Sequence):
                raise EntityConfigError(
                    f"entity {name!r}: expected a list of aliases, got {items!r}; "
                    f"write {name}: [alias, ...]",
                    entity=name,
                )
            shipped = self._by_key.get(folded)
            if shipped is not None:
                try:
                    entity = _build_entity(shipped.key, shipped.kind, items, strict=False)
                except EntityConfigError as e:
                    raise EntityConfigError(str(e), entity=name) from None
                replaced[shipped.key] = entity
                continue
            owners = self._by_alias.get(folded)
            if owners:
                keys = " and ".join(repr(o.key) for o in owners)
                raise EntityConfigError(
                    f"entity {name!r} is an alias of {keys}: to change that entity, override "
                    f"it under its key ({owners[0].key}: [...]); to add a new entity, choose "
                    "another name",
                    entity=name,
                )
            try:
                added.append(_build_entity(name, CUSTOM, items, strict=False))
            except EntityConfigError as e:
                raise EntityConfigError(str(e), entity=name) from None
        entities = [replaced.get(e.key, e) for e in self._entities]

        def foreign() -> dict[str, tuple[Alias, ...]]:
            return {k: v for k, v in self._foreign_names().items() if k not in replaced}

        return EntityCatalog([*entities, *added], foreign)

    def foreign_aliases(self, entity: Entity, language: str) -> tuple[Alias, ...]:
        """The names of ``entity`` in ``language`` (``Alias.language``), none for ""."""
        if not language:
            return ()
        found = self._foreign_names().get(entity.key, ())
        return tuple(a for a in found if a.language == language)

    def shadows(self, entity: Entity, language: str = "") -> tuple[Alias, ...]:
        """Aliases of *other* entities that contain an alias of ``entity`` as whole words,
        among the aliases of no language and of ``language`` (the articles' language).

        ``shadows(Sudan)`` holds "South Sudan" and "South Sudanese"; an occurrence of
        Sudan inside one of them is South Sudan's. Words are compared folded, whatever
        the case rules; the matcher decides whether to apply this (it makes sense for
        places, less for "UN" inside "UN refugee agency").
        """
        found = self._shadows.get(language)
        if found is None:
            found = self._shadows[language] = self._compute_shadows(language)
        return found.get(entity.key, ())

    def _compute_shadows(self, language: str) -> dict[str, tuple[Alias, ...]]:
        # Every strict contiguous run of words of every alias -> the aliases holding it.
        holders: dict[tuple[str, ...], list[tuple[Entity, Alias]]] = {}
        for entity in self._entities:
            for alias in self._of_language(entity, language):
                folded = _fold(alias.text)
                n = len(folded)
                for start in range(n):
                    for end in range(start + 1, n + 1):
                        if end - start < n:
                            holders.setdefault(folded[start:end], []).append((entity, alias))
        result: dict[str, tuple[Alias, ...]] = {}
        for entity in self._entities:
            found: dict[str, Alias] = {}
            for alias in self._of_language(entity, language):
                for other, longer in holders.get(_fold(alias.text), ()):
                    if other.key == entity.key or longer.text in found:
                        continue
                    if alias.case_sensitive and not _has_run(longer.text, alias.text):
                        continue  # "AU" is not in "Port-au-Prince"
                    found[longer.text] = longer
            if found:
                result[entity.key] = tuple(sorted(found.values(), key=lambda a: a.text))
        return result

    def _of_language(self, entity: Entity, language: str) -> tuple[Alias, ...]:
        """The aliases that count in the articles of ``language``: the English ones, and
        the entity's names in ``language``."""
        return (*entity.aliases, *self.foreign_aliases(entity, language))

    def __len__(self) -> int:
        return len(self._entities)

    def __iter__(self) -> Iterator[str]:
        """The keys, as for a dict (``for key in catalog``); see :meth:`entities`."""
        return iter(self.keys())

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` names an entity, as :meth:`get` finds it."""
        return isinstance(name, str) and self.get(name) is not None

    def keys(self) -> list[str]:
        """The entity keys, in catalog order (the shipped file's, then added ones)."""
        return [e.key for e in self._entities]

    def entities(self) -> tuple[Entity, ...]:
        """The entities, in catalog order."""
        return self._entities

    def __repr__(self) -> str:
        return f"<EntityCatalog {len(self)} entities>"


#: libyaml's loader when PyYAML was built with it (ten times faster), else the pure one.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_unique_keys(node: yaml.Node | None, source: str) -> None:
    """Refuse a mapping with a repeated key anywhere (PyYAML would keep the last)."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if isinstance(key_node, yaml.ScalarNode):
                key = str(key_node.value)
                if key in seen:
                    raise EntityConfigError(
                        f"{source}:{line}: {key!r} is repeated (first on line {seen[key]})",
                        entity=key,
                        line=line,
                    )
                seen[key] = line
            _check_unique_keys(value_node, source)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_unique_keys(item, source)


def parse_catalog(text: str, source: str = "entities.yaml") -> EntityCatalog:
    """A catalog from YAML in the shipped format, validated strictly.

    Each top-level key is an entity with exactly ``kind`` (one of :data:`KINDS`) and
    ``aliases`` (a non-empty list of strings or ``{text, case_sensitive}``). Anything
    else (unknown or missing fields, repeated keys or aliases, empty or padded names) is
    an :class:`EntityConfigError` naming the entry and its line.
    """
    try:
        root = yaml.compose(text, Loader=_LOADER)
        _check_unique_keys(root, source)
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as e:
        raise EntityConfigError(f"{source}: not valid YAML: {e}") from None
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        raise EntityConfigError(f"{source}: expected a mapping of entity key to entry")
    lines = {str(k.value): k.start_mark.line + 1 for k, _ in root.value}
    entities: list[Entity] = []
    for raw_key, entry in data.items():
        line = lines.get(str(raw_key))
        where = f"{source}:{line}" if line else source
        key = _check_name(raw_key, f"{where}: entity key", str(raw_key), line)
        if not isinstance(entry, dict):
            raise EntityConfigError(
                f"{where}: entity {key!r}: expected {{kind: ..., aliases: [...]}}",
                entity=key,
                line=line,
            )
        fields = set(entry)
        if fields != _ENTRY_FIELDS:
            problems = [f"unknown field {f!r}" for f in sorted(map(str, fields - _ENTRY_FIELDS))]
            problems += [f"missing field {f!r}" for f in sorted(_ENTRY_FIELDS - fields)]
            raise EntityConfigError(
                f"{where}: entity {key!r}: {', '.join(problems)}", entity=key, line=line
            )
        kind = entry["kind"]
        if not isinstance(kind, str) or kind not in KINDS:
            raise EntityConfigError(
                f"{where}: entity {key!r}: kind {kind!r} is not one of {', '.join(sorted(KINDS))}",
                entity=key,
                line=line,
            )
        items = entry["aliases"]
        if not isinstance(items, list) or not items:
            raise EntityConfigError(
                f"{where}: entity {key!r}: aliases must be a non-empty list",
                entity=key,
                line=line,
            )
        try:
            entities.append(_build_entity(key, kind, items, strict=True, line=line))
        except EntityConfigError as e:
            raise EntityConfigError(f"{where}: {e}", entity=key, line=line) from None
    try:
        return EntityCatalog(entities)
    except EntityConfigError as e:
        raise EntityConfigError(f"{source}: {e}", entity=e.entity) from None


@functools.cache
def default_catalog() -> EntityCatalog:
    """The shipped catalog, read once from the package data (works from a wheel too), with
    the names of other languages (``entity_names``)."""
    text = resources.files("monitor.matching").joinpath(_DATA_FILE).read_text(encoding="utf-8")
    english = parse_catalog(text, source="monitor/matching/data/entities.yaml")

    def foreign() -> dict[str, tuple[Alias, ...]]:
        return {k: tuple(Alias(*name) for name in names) for k, names in foreign_names().items()}

    return EntityCatalog(english.entities(), foreign)
