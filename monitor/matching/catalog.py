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
    "AliasLike",
    "EntityLike",
    "EntityLookup",
    "LazyCatalog",
    "UnknownEntity",
    "UnknownEntityError",
    "resolve_catalog",
]


class AliasLike(Protocol):
    """One name of an entity."""

    @property
    def text(self) -> str: ...
    @property
    def case_sensitive(self) -> bool: ...


class EntityLike(Protocol):
    """A named entity: its key and its aliases."""

    @property
    def key(self) -> str: ...
    @property
    def aliases(self) -> Sequence[AliasLike]: ...


class EntityLookup(Protocol):
    """Finds an entity by name (key or alias), case-insensitively; None if unknown."""

    def get(self, name: str) -> EntityLike | None: ...


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
