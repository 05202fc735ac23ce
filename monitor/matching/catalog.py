"""What the engine needs from an entity catalog, and the error for an unknown entity.

The catalog itself (``monitor.matching.entities``) is read from package data;
the engine codes against the small protocols below so that tests can pass a
stub and so that compiling rules never depends on how the catalog is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from monitor.errors import QuerySyntaxError

__all__ = [
    "SHADOWED_KINDS",
    "AliasLike",
    "EntityLike",
    "EntityLookup",
    "LazyCatalog",
    "UnknownEntity",
    "UnknownEntityError",
    "foreign_aliases_of",
    "resolve_catalog",
    "shadows_of",
]


class AliasLike(Protocol):
    """One name of an entity (an alias may also have a ``language``, an ISO 639 code: it
    then counts in the articles of that language only; see ``compiler``)."""

    @property
    def text(self) -> str: ...
    @property
    def case_sensitive(self) -> bool: ...


class EntityLike(Protocol):
    """A named entity: its key and its aliases (and, optionally, a ``kind``: see
    ``SHADOWED_KINDS``; without one an entity is not a place)."""

    @property
    def key(self) -> str: ...
    @property
    def aliases(self) -> Sequence[AliasLike]: ...


class EntityLookup(Protocol):
    """Finds an entity by name (key or alias), case-insensitively; None if unknown.

    A catalog may also have ``shadows(entity, language="")``: the longer aliases of
    *other* entities that contain an alias of ``entity`` (South Sudan for Sudan), among the
    aliases of no language and of ``language``. Not part of the protocol, so that a stub
    needs only ``get``; without it an entity has no shadows.
    """

    def get(self, name: str) -> EntityLike | None: ...


#: Kinds of entity (``Entity.kind``) whose aliases do not count inside a shadowing alias:
#: places, former states included. "Sudan" in "South Sudan" is not Sudan, "Yugoslav" in
#: "Former Yugoslav Republic of Macedonia" not Yugoslavia, but "UN" in "UN Security
#: Council" is the UN.
SHADOWED_KINDS = frozenset({"country", "territory", "former"})


def foreign_aliases_of(catalog: object, entity: EntityLike, language: str) -> tuple[AliasLike, ...]:
    """The names of ``entity`` in ``language`` when the catalog has them
    (``foreign_aliases(entity, language)``, as the shipped catalog does), else none."""
    found = getattr(catalog, "foreign_aliases", None)
    return () if found is None or not language else tuple(found(entity, language))


def shadows_of(catalog: object, entity: EntityLike, language: str = "") -> tuple[AliasLike, ...]:
    """The aliases that shadow ``entity``'s (see ``EntityLookup``) in the articles of
    ``language`` ("": English and unknown), for a place only.

    Empty when the catalog has no ``shadows`` or the entity's kind (no ``kind``: none)
    is not in ``SHADOWED_KINDS``.
    """
    if getattr(entity, "kind", None) not in SHADOWED_KINDS:
        return ()
    shadows = getattr(catalog, "shadows", None)
    if shadows is None:
        return ()
    return tuple(shadows(entity, language) if language else shadows(entity))


class UnknownEntity(Exception):
    """Raised while compiling a tree; the caller knows the query text and reports it."""

    def __init__(self, name: str, position: int) -> None:
        super().__init__(name)
        self.name = name
        self.position = position


class UnknownEntityError(QuerySyntaxError):
    """``@Name`` names no entity of the catalog.

    A ``QuerySyntaxError``: ``position`` points at the ``@``, and a config loader
    that reports query errors with file:line reports this one the same way.
    """

    def __init__(self, name: str, query: str, position: int) -> None:
        super().__init__(
            f"unknown entity @{name}: not in the entity catalog "
            "(add it under 'entities:' in a rules file)",
            query,
            position,
        )
        #: The entity name as written.
        self.name = name


def resolve_catalog(catalog: EntityLookup | None) -> EntityLookup:
    """``catalog``, or the shipped catalog when None."""
    if catalog is not None:
        return catalog
    from monitor.matching.entities import default_catalog  # the catalog imports this package

    return default_catalog()


class LazyCatalog:
    """Loads the shipped catalog only when a query names an entity."""

    __slots__ = ("_catalog", "_given")

    def __init__(self, catalog: EntityLookup | None) -> None:
        self._given = catalog
        self._catalog: EntityLookup | None = None

    def get(self, name: str) -> EntityLike | None:
        if self._catalog is None:
            self._catalog = resolve_catalog(self._given)
        return self._catalog.get(name)

    def foreign_aliases(self, entity: EntityLike, language: str) -> tuple[AliasLike, ...]:
        """The wrapped catalog's ``foreign_aliases`` (empty if it has none)."""
        if self._catalog is None:
            self._catalog = resolve_catalog(self._given)
        return foreign_aliases_of(self._catalog, entity, language)

    def shadows(self, entity: EntityLike, language: str = "") -> tuple[AliasLike, ...]:
        """The wrapped catalog's ``shadows`` (empty if it has none)."""
        if self._catalog is None:
            self._catalog = resolve_catalog(self._given)
        shadows = getattr(self._catalog, "shadows", None)
        if shadows is None:
            return ()
        return tuple(shadows(entity, language) if language else shadows(entity))
