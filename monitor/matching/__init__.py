"""Rule matching: query parser -> AST -> compiled rule set -> matches.

This package imports no I/O library. The public API::

    from monitor.matching import RuleSpec, compile_rules, parse_query
    ruleset = compile_rules([RuleSpec("r1", "Iran AND Russia AND drones")])
    matches = ruleset.match(article)     # -> list[Match]
"""
