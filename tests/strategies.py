"""Hypothesis strategies shared by the query tests: random query trees over given leaves."""

from __future__ import annotations

from hypothesis import strategies as st

from monitor.matching import And, Field, Near, Node, Not, Or


def query_trees(
    leaves: st.SearchStrategy[Node],
    fields: st.SearchStrategy[str],
    *,
    max_distance: int,
    max_children: int,
    max_leaves: int,
) -> st.SearchStrategy[Node]:
    """Trees of every construct: NOT, fields, AND/OR, and NEAR over leaves, fields and OR-groups."""
    near_operands = st.one_of(
        leaves,
        st.builds(Field, fields, leaves),
        st.lists(leaves, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    )
    near = st.builds(Near, near_operands, near_operands, st.integers(1, max_distance))
    return st.recursive(
        st.one_of(leaves, near),
        lambda kids: st.one_of(
            st.builds(Not, kids),
            st.builds(Field, fields, kids),
            st.lists(kids, min_size=2, max_size=max_children).map(lambda xs: And(tuple(xs))),
            st.lists(kids, min_size=2, max_size=max_children).map(lambda xs: Or(tuple(xs))),
        ),
        max_leaves=max_leaves,
    )
