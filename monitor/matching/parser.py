"""Query text -> syntax tree: a regex lexer and a recursive-descent parser.

Grammar, loosest binding first (NOT > NEAR > AND > OR)::

    query   := or END
    or      := and ("OR" and)*
    and     := near (["AND"] near)*          two operands side by side mean AND
    near    := unary ("NEAR/n" unary)?       operands: leaves, field:leaf, (OR of those)
    unary   := ("NOT" | "-") unary | field
    field   := FIELD ":" field | primary     title: text: author: url: source:
    primary := WORD | WORD"*" | '"' words '"' | "@" (WORD | PHRASE)
             | "case:" (WORD | PHRASE) | "lang:" (CODE | "(" CODE ("OR" CODE)* ")")
             | "(" or ")"

Operators are upper case only; ``and``/``or``/``not`` are ordinary words
(``lint_query`` points them out). A bare word made of several words, such as
``Iran's`` or ``e-mail``, is read as the phrase of those words. Every error is
a ``QuerySyntaxError`` carrying the character position and what was expected.
"""

from __future__ import annotations

import re

from monitor.errors import QuerySyntaxError
from monitor.matching.ast import (
    FIELDS,
    LANGUAGE_CODE,
    MIN_PREFIX,
    OPERATORS,
    And,
    Case,
    Entity,
    Field,
    Lang,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    Term,
    is_near,
    iter_leaves,
    matches_empty,
)
from monitor.matching.catalog import EntityLookup, UnknownEntityError
from monitor.matching.text import query_words, raw_words

__all__ = ["MAX_DEPTH", "MAX_DISTANCE", "lint_query", "parse_query"]

#: Deepest nesting of parentheses, fields and NOTs; keeps every recursive walk of a tree safe.
MAX_DEPTH = 100
#: Largest n in NEAR/n.
MAX_DISTANCE = 1000

# Lexeme kinds. Plain strings: the parser compares them millions of times when a large
# rule set compiles, and a str comparison is cheaper than an enum attribute lookup.
_WORD, _PHRASE, _LPAREN, _RPAREN = "word", "phrase", "'('", "')'"
_AND, _OR, _NOT, _NEAR, _MINUS, _AT, _FIELD, _END = (
    "AND",
    "OR",
    "NOT",
    "NEAR",
    "'-'",
    "'@'",
    "field",
    "end of query",
)
_EXPECTED = "a term, phrase, wildcard, entity or '('"
_ENTITY_NAME = 'an entity name (@Iran, @"United States")'
_CASE_OPERAND = "a word or a quoted phrase"
_LANG_OPERAND = "a language code (lang:es) or an OR of codes in parentheses (lang:(es OR pt))"
_NEAR_OPERANDS = "terms, phrases, wildcards, entities or parenthesized OR-groups of those"

# Every character is covered by one alternative, so the lexer never skips text.
# A '-' is the NOT prefix only when an operand follows right away ("-x", "-(a OR b)").
_LEX_RE = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<lparen>\()
    | (?P<rparen>\))
    | "(?P<phrase>[^"]*)(?P<closed>"?)
    | (?P<minus>-)(?=[^\s)])
    | (?P<field>(?:title|text|author|url|source|case|lang):)
    | (?P<at>@)
    | (?P<word>[^\s()"]+)
    """,
    re.VERBOSE,
)
_NEAR_RE = re.compile(r"NEAR/(\d{1,6})")
#: A word that looks like a field query (``Title:Iran``), not like a time (``10:30``).
_FIELD_LIKE = re.compile(r"([^\W\d]\w*):\S")
_OPERAND_START = frozenset({_WORD, _PHRASE, _LPAREN, _NOT, _MINUS, _AT, _FIELD})

#: (kind, text, position): text is the word as written, or a phrase's text between quotes.
_Lexeme = tuple[str, str, int]


def _lex(query: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    append = out.append
    for m in _LEX_RE.finditer(query):
        kind = m.lastgroup
        if kind == "space":
            continue
        pos = m.start()
        if kind == "word":
            word = m.group()
            if word in OPERATORS:
                append((word, word, pos))
            elif is_near(word):
                append((_NEAR, word, pos))
            else:
                append((_WORD, word, pos))
        elif kind == "phrase" or kind == "closed":
            if not m["closed"]:
                raise QuerySyntaxError("unclosed quote", query, pos)
            append((_PHRASE, m["phrase"], pos))
        elif kind == "lparen":
            append((_LPAREN, "(", pos))
        elif kind == "rparen":
            append((_RPAREN, ")", pos))
        elif kind == "minus":
            append((_MINUS, "-", pos))
        elif kind == "field":
            append((_FIELD, m.group()[:-1], pos))
        else:
            append((_AT, "@", pos))
    out.append((_END, "", len(query)))
    return out


class _Parser:
    __slots__ = ("depth", "i", "lexemes", "query")

    def __init__(self, query: str) -> None:
        self.query = query
        self.lexemes = _lex(query)
        self.i = 0
        self.depth = 0

    def error(self, message: str, pos: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.query, pos)

    def parse(self) -> Node:
        if self.lexemes[0][0] == _END:
            raise self.error("empty query", 0)
        node = self.or_(None)
        kind, _, pos = self.lexemes[self.i]
        if kind == _RPAREN:
            raise self.error("unbalanced ')'", pos)
        return node

    def or_(self, after: _Lexeme | None) -> Node:
        children = [self.and_(after)]
        while self.lexemes[self.i][0] == _OR:
            op = self.lexemes[self.i]
            self.i += 1
            children.append(self.and_(op))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_(self, after: _Lexeme | None) -> Node:
        children = [self.near(after)]
        while True:
            nxt = self.lexemes[self.i]
            if nxt[0] == _AND:
                self.i += 1
                children.append(self.near(nxt))
            elif nxt[0] in _OPERAND_START:
                children.append(self.near(None))
            else:
                break
        return children[0] if len(children) == 1 else And(tuple(children))

    def near(self, after: _Lexeme | None) -> Node:
        start = self.lexemes[self.i][2]
        left = self.unary(after)
        op = self.lexemes[self.i]
        if op[0] != _NEAR:
            return left
        m = _NEAR_RE.fullmatch(op[1])
        if m is None or not 1 <= int(m[1]) <= MAX_DISTANCE:
            raise self.error(
                f"expected NEAR/n with n from 1 to {MAX_DISTANCE}, e.g. NEAR/10", op[2]
            )
        self.i += 1
        right_start = self.lexemes[self.i][2]
        right = self.unary(op)
        for node, pos in ((left, start), (right, right_start)):
            if not _near_operand(node):
                raise self.error(f"NEAR operands may be {_NEAR_OPERANDS}", pos)
        if (chained := self.lexemes[self.i])[0] == _NEAR:
            raise self.error(f"NEAR operands may be {_NEAR_OPERANDS}, not a NEAR", chained[2])
        return Near(left, right, int(m[1]))

    def unary(self, after: _Lexeme | None) -> Node:
        op = self.lexemes[self.i]
        if op[0] != _NOT and op[0] != _MINUS:
            return self.field(after)
        self.i += 1
        self.enter(op)
        child = self.unary(op)
        self.depth -= 1
        return Not(child)

    def field(self, after: _Lexeme | None) -> Node:
        lexeme = self.lexemes[self.i]
        if lexeme[0] != _FIELD or lexeme[1] in ("case", "lang"):
            return self.primary(after)
        self.i += 1
        self.adjacent(lexeme, f"{lexeme[1]}:")
        self.enter(lexeme)
        child = self.field(lexeme)
        self.depth -= 1
        return Field(lexeme[1], child)

    def primary(self, after: _Lexeme | None) -> Node:
        lexeme = self.lexemes[self.i]
        self.i += 1
        kind = lexeme[0]
        if kind == _WORD:
            return self.word(lexeme)
        if kind == _PHRASE:
            words = query_words(lexeme[1])
            if not words:
                raise self.error("empty phrase", lexeme[2])
            return Phrase(tuple(words), lexeme[1])
        if kind == _LPAREN:
            if self.lexemes[self.i][0] == _RPAREN:
                raise self.error("empty parentheses", self.lexemes[self.i][2])
            self.enter(lexeme)
            node = self.or_(lexeme)
            if self.lexemes[self.i][0] != _RPAREN:
                raise self.error("unclosed '('", lexeme[2])
            self.i += 1
            self.depth -= 1
            return node
        if kind == _AT:
            return self.entity(lexeme)
        if kind == _FIELD:  # case: or lang:
            return self.lang(lexeme) if lexeme[1] == "lang" else self.case(lexeme)
        raise self.error(self.expected(lexeme, after), lexeme[2])

    def adjacent(self, lexeme: _Lexeme, shown: str, expected: str = _EXPECTED) -> _Lexeme:
        """The lexeme right after ``lexeme``, which must follow it with no space."""
        nxt = self.lexemes[self.i]
        if nxt[2] != lexeme[2] + len(shown) or nxt[0] in (_END, _RPAREN):
            raise self.error(f"expected {expected} right after {shown}", lexeme[2] + len(shown))
        return nxt

    def entity(self, at: _Lexeme) -> Entity:
        nxt = self.adjacent(at, "@", _ENTITY_NAME)
        if nxt[0] not in (_WORD, _PHRASE) or not query_words(nxt[1]):
            raise self.error(f"expected {_ENTITY_NAME} right after @", at[2] + 1)
        self.i += 1
        return Entity(nxt[1].strip(), at[2])

    def case(self, lexeme: _Lexeme) -> Case:
        nxt = self.adjacent(lexeme, "case:", _CASE_OPERAND)
        if nxt[0] not in (_WORD, _PHRASE) or (nxt[0] == _WORD and "*" in nxt[1]):
            raise self.error(f"expected {_CASE_OPERAND} right after case:", nxt[2])
        if not raw_words(nxt[1]):
            raise self.error(f"{nxt[1]!r} has no letters or digits to match", nxt[2])
        self.i += 1
        return Case(nxt[1])

    def lang(self, lexeme: _Lexeme) -> Lang:
        nxt = self.adjacent(lexeme, "lang:", _LANG_OPERAND)
        if nxt[0] == _WORD:
            self.i += 1
            return Lang((self.code(nxt),))
        if nxt[0] != _LPAREN:
            raise self.error(f"expected {_LANG_OPERAND} right after lang:", nxt[2])
        self.i += 1
        codes = [self.code(self.next_code(nxt))]
        while self.lexemes[self.i][0] == _OR:
            self.i += 1
            codes.append(self.code(self.next_code(nxt)))
        if self.lexemes[self.i][0] != _RPAREN:
            raise self.error(
                "expected OR or ')' between the codes of lang:(es OR pt)", self.lexemes[self.i][2]
            )
        self.i += 1
        return Lang(tuple(dict.fromkeys(codes)))

    def next_code(self, paren: _Lexeme) -> _Lexeme:
        """The word that must come next inside ``lang:( ... )``."""
        lexeme = self.lexemes[self.i]
        if lexeme[0] != _WORD:
            raise self.error("expected a language code, as in lang:(es OR pt)", lexeme[2])
        self.i += 1
        return lexeme

    def code(self, lexeme: _Lexeme) -> str:
        """A language code, lower-cased; anything else is an error at its place."""
        code = lexeme[1].lower()
        if not LANGUAGE_CODE.fullmatch(code):
            raise self.error(
                f"{lexeme[1]!r} is not a language code: write an ISO 639 code such as es, fr, zh",
                lexeme[2],
            )
        return code

    def expected(self, found: _Lexeme, after: _Lexeme | None) -> str:
        kind = found[0]
        if kind == _RPAREN and after is None:
            return "unbalanced ')'"
        if kind in (_AND, _OR, _NEAR) and (after is None or after[0] == _LPAREN):
            return f"expected {_EXPECTED} before {kind}"
        if after is not None and after[0] == _MINUS:
            return f"expected {_EXPECTED} right after '-'"
        if after is not None and after[0] == _FIELD:
            return f"expected {_EXPECTED} right after {after[1]}:"
        where = f"after {after[0]}" if after is not None else f"before {kind}"
        return f"expected {_EXPECTED} {where}"

    def enter(self, lexeme: _Lexeme) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"query nested too deeply (over {MAX_DEPTH} levels)", lexeme[2])

    def word(self, lexeme: _Lexeme) -> Node:
        text, pos = lexeme[1], lexeme[2]
        star = text.find("*")
        if star >= 0:
            if star != len(text) - 1:
                raise self.error("a wildcard * may only end a word, as in drone*", pos + star)
            prefix = query_words(text[:-1])
            if len(prefix) != 1 or len(prefix[0]) < MIN_PREFIX:
                raise self.error(
                    f"a wildcard needs at least {MIN_PREFIX} letters of one word before *",
                    pos + star,
                )
            return Prefix(text)
        words = query_words(text)
        if not words:
            if text == "-":
                raise self.error(f"expected {_EXPECTED} right after '-'", pos)
            raise self.error(f"{text!r} has no letters or digits to match", pos)
        return Term(text) if len(words) == 1 else Phrase(tuple(words), text)


def _near_operand(node: Node) -> bool:
    match node:
        case Term() | Phrase() | Prefix() | Case() | Entity():
            return True
        case Field(_, child):
            return _near_operand(child)
        case Or(children):
            return all(_near_operand(c) for c in children)
    return False


def parse_query(text: str) -> Node:
    """Parse a rule query; raises ``QuerySyntaxError`` with the position of the problem."""
    return _Parser(text).parse()


def lint_query(text: str, catalog: EntityLookup | None = None) -> list[str]:
    """Warnings about a valid query that may not mean what it says.

    Raises ``QuerySyntaxError`` if the query does not parse at all. With a
    ``catalog``, every ``@Name`` is also looked up, and an unknown one raises
    ``UnknownEntityError`` (a ``QuerySyntaxError`` pointing at the ``@``).
    """
    node = parse_query(text)
    if catalog is not None:
        for leaf in iter_leaves(node):
            if isinstance(leaf, Entity) and catalog.get(leaf.name) is None:
                raise UnknownEntityError(leaf.name, text, leaf.position)
    warnings: list[str] = []
    for kind, word, _ in _lex(text):
        if kind != _WORD:
            continue
        if word.upper() in OPERATORS:
            case = "lowercase" if word.islower() else "mixed-case"
            warnings.append(
                f"{case} {word!r} is matched as a word; write {word.upper()} for the operator"
            )
        elif m := _FIELD_LIKE.match(word):
            shown = " ".join(query_words(word))
            warnings.append(
                f"{word!r} is matched as the words {shown!r}; {m[1]!r} is not a field "
                f"(fields: {', '.join(FIELDS)}, in lower case)"
            )
    if matches_empty(node):
        warnings.append(
            "the query also matches articles that contain none of its terms "
            "(it is satisfied by a NOT alone)"
        )
    return warnings
