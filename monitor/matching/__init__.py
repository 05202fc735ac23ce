"""Rule matching: query parser -> AST -> compiled, indexed rule set -> matches.

This package imports no I/O library. The public API::

    from monitor.matching import RuleSpec, compile_rules, match_article
    ruleset = compile_rules([RuleSpec("r1", "@Iran NEAR/10 drone* AND NOT title:opinion")])
    matches = ruleset.match(article)          # -> list[Match], each with its hits
    ruleset.explain(article, "r1")            # the query tree, clauses marked ✓/✗
    match_article("Iran AND drones", article) # one query: its hits, or None

The language is documented in docs/rules.md: terms (inflections folded, in the
article's language), "phrases", ``drone*``, ``case:US``, AND/OR/NOT/-x, parentheses,
``A NEAR/n B``, ``title:`` ``text:`` ``author:`` ``url:`` ``source:``, ``@Entity`` and
``lang:es``.

Modules: ``stem`` and ``text`` (words, folding, inflection keys), ``languages``
(the folding of each language), ``ast``
(tree, ``render``), ``parser`` (``parse_query``, ``lint_query``),
``catalog`` (what the engine needs from the entity catalog), ``document``
(an article's words per field), ``program`` and ``near`` (compiled queries),
``rarity`` (how common a word is), ``index`` (rules filed under their required
terms), ``probe`` (the quick test of a fetched rule), ``compiled`` (the rules
compiled for one language, and their index), ``engine`` (``RuleSet``,
``compile_rules``, ``match_article``), ``explain``,
``highlight``; ``entities`` holds the shipped entity catalog, ``entity_names`` its
names in other languages.
"""

from monitor.matching.ast import (
    And,
    Case,
    Entity,
    Field,
    Lang,
    Leaf,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    Term,
    iter_nodes,
    render,
)
from monitor.matching.catalog import EntityLookup, UnknownEntityError
from monitor.matching.engine import (
    CompiledRule,
    Matcher,
    RuleQueryError,
    RuleSet,
    RuleSpec,
    compile_query,
    compile_rules,
    match_article,
)
from monitor.matching.explain import explain
from monitor.matching.highlight import highlight
from monitor.matching.parser import lint_query, parse_query
from monitor.matching.text import Token, normalize, tokenize

__all__ = [
    "And",
    "Case",
    "CompiledRule",
    "Entity",
    "EntityLookup",
    "Field",
    "Lang",
    "Leaf",
    "Matcher",
    "Near",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "Prefix",
    "RuleQueryError",
    "RuleSet",
    "RuleSpec",
    "Term",
    "Token",
    "UnknownEntityError",
    "compile_query",
    "compile_rules",
    "explain",
    "highlight",
    "iter_nodes",
    "lint_query",
    "match_article",
    "normalize",
    "parse_query",
    "render",
    "tokenize",
]
