"""Rule matching: query parser -> AST -> compiled rule set -> matches.

This package imports no I/O library. The public API::

    from monitor.matching import RuleSpec, compile_rules, parse_query
    ruleset = compile_rules([RuleSpec("r1", "Iran AND Russia AND drones")])
    matches = ruleset.match(article)     # -> list[Match]

Query syntax (this version): words, "quoted phrases", AND, OR, NOT (upper case
only), parentheses, ``-word`` for NOT word; two operands side by side mean AND;
NOT binds tighter than AND, AND tighter than OR. Words match whole, case and
accents folded, over the title and the text; "drone" does not match "drones"
(no inflection folding yet). ``*``, ``@`` and ``NEAR`` are reserved.

Modules: ``text`` (words and folding), ``ast`` (tree, ``render``), ``parser``
(``parse_query``, ``lint_query``), ``engine`` (``RuleSet``, ``match_text``,
``explain``), ``highlight``.
"""

from monitor.matching.ast import And, Leaf, Node, Not, Or, Phrase, Term, render
from monitor.matching.engine import (
    CompiledRule,
    Matcher,
    RuleQueryError,
    RuleSet,
    RuleSpec,
    compile_rules,
    explain,
    match_text,
)
from monitor.matching.highlight import highlight
from monitor.matching.parser import lint_query, parse_query
from monitor.matching.text import Token, normalize, tokenize

__all__ = [
    "And",
    "CompiledRule",
    "Leaf",
    "Matcher",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "RuleQueryError",
    "RuleSet",
    "RuleSpec",
    "Term",
    "Token",
    "compile_rules",
    "explain",
    "highlight",
    "lint_query",
    "match_text",
    "normalize",
    "parse_query",
    "render",
    "tokenize",
]
