"""Query text -> syntax tree: a regex lexer and a recursive-descent parser.

Grammar, loosest binding first (NOT > AND > OR)::

    query   := or END
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*        two operands side by side mean AND
    unary   := ("NOT" | "-") unary | primary
    primary := WORD | '"' words '"' | "(" or ")"

Operators are upper case only; ``and``/``or``/``not`` are ordinary words
(``lint_query`` points them out). A bare word made of several words, such as
``Iran's`` or ``e-mail``, is read as the phrase of those words. Every error is
a ``QuerySyntaxError`` carrying the character position and what was expected.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from monitor.errors import QuerySyntaxError
from monitor.matching.ast import (
    OPERATORS,
    RESERVED_CHARS,
    And,
    Node,
    Not,
    Or,
    Phrase,
    Term,
    is_near,
    matches_empty,
)
from monitor.matching.text import query_words

__all__ = ["MAX_DEPTH", "lint_query", "parse_query"]

#: Deepest nesting of parentheses and NOTs accepted; keeps every recursive walk of a tree safe.
MAX_DEPTH = 100


class _Kind(enum.Enum):
    WORD = "word"
    PHRASE = "phrase"
    LPAREN = "'('"
    RPAREN = "')'"
    AND = "AND"
    OR = "OR"
    NOT = "NOT"
    MINUS = "'-'"
    END = "end of query"


@dataclass(frozen=True, slots=True)
class _Lexeme:
    kind: _Kind
    #: The word as written, or a phrase's text between its quotes.
    text: str
    #: Offset of the lexeme's first character in the query.
    pos: int


# Every character is covered by one alternative, so the lexer never skips text.
# A '-' is the NOT prefix only when an operand follows right away ("-x", "-(a OR b)").
_LEX_RE = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<lparen>\()
    | (?P<rparen>\))
    | "(?P<phrase>[^"]*)(?P<closed>"?)
    | (?P<minus>-)(?=[^\s)])
    | (?P<word>[^\s()"]+)
    """,
    re.VERBOSE,
)
#: A word that looks like a field query (``title:Iran``), not like a time (``10:30``).
_FIELD_LIKE = re.compile(r"[^\W\d]\w*:\S")
_OPERAND_START = frozenset({_Kind.WORD, _Kind.PHRASE, _Kind.LPAREN, _Kind.NOT, _Kind.MINUS})


def _lex(query: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    for m in _LEX_RE.finditer(query):
        pos = m.start()
        if m["lparen"]:
            out.append(_Lexeme(_Kind.LPAREN, "(", pos))
        elif m["rparen"]:
            out.append(_Lexeme(_Kind.RPAREN, ")", pos))
        elif m["phrase"] is not None:
            if not m["closed"]:
                raise QuerySyntaxError("unclosed quote", query, pos)
            out.append(_Lexeme(_Kind.PHRASE, m["phrase"], pos))
        elif m["minus"]:
            out.append(_Lexeme(_Kind.MINUS, "-", pos))
        elif word := m["word"]:
            kind = _Kind[word] if word in OPERATORS else _Kind.WORD
            out.append(_Lexeme(kind, word, pos))
    out.append(_Lexeme(_Kind.END, "", len(query)))
    return out


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.lexemes = _lex(query)
        self.i = 0
        self.depth = 0

    def error(self, message: str, pos: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.query, pos)

    def peek(self) -> _Lexeme:
        return self.lexemes[self.i]

    def advance(self) -> _Lexeme:
        lexeme = self.lexemes[self.i]
        self.i += 1
        return lexeme

    def parse(self) -> Node:
        if self.peek().kind is _Kind.END:
            raise self.error("empty query", 0)
        node = self.or_(after=None)
        if (extra := self.peek()).kind is _Kind.RPAREN:
            raise self.error("unbalanced ')'", extra.pos)
        return node

    def or_(self, after: _Lexeme | None) -> Node:
        children = [self.and_(after)]
        while self.peek().kind is _Kind.OR:
            op = self.advance()
            children.append(self.and_(op))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_(self, after: _Lexeme | None) -> Node:
        children = [self.unary(after)]
        while True:
            nxt = self.peek()
            if nxt.kind is _Kind.AND:
                self.advance()
                children.append(self.unary(nxt))
            elif nxt.kind in _OPERAND_START:
                children.append(self.unary(None))
            else:
                break
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self, after: _Lexeme | None) -> Node:
        op = self.peek()
        if op.kind not in (_Kind.NOT, _Kind.MINUS):
            return self.primary(after)
        self.advance()
        self.enter(op)
        child = self.unary(op)
        self.depth -= 1
        return Not(child)

    def primary(self, after: _Lexeme | None) -> Node:
        lexeme = self.advance()
        match lexeme.kind:
            case _Kind.WORD:
                return self.term(lexeme)
            case _Kind.PHRASE:
                words = query_words(lexeme.text)
                if not words:
                    raise self.error("empty phrase", lexeme.pos)
                return Phrase(tuple(words), lexeme.text)
            case _Kind.LPAREN:
                if self.peek().kind is _Kind.RPAREN:
                    raise self.error("empty parentheses", self.peek().pos)
                self.enter(lexeme)
                node = self.or_(lexeme)
                if self.advance().kind is not _Kind.RPAREN:
                    raise self.error("unclosed '('", lexeme.pos)
                self.depth -= 1
                return node
        raise self.error(self.expected(lexeme, after), lexeme.pos)

    def expected(self, found: _Lexeme, after: _Lexeme | None) -> str:
        if found.kind is _Kind.RPAREN and after is None:
            return "unbalanced ')'"
        if found.kind in (_Kind.AND, _Kind.OR) and (after is None or after.kind is _Kind.LPAREN):
            return f"expected a term, phrase or '(' before {found.kind.value}"
        where = f"after {after.kind.value}" if after is not None else f"before {found.kind.value}"
        return f"expected a term, phrase or '(' {where}"

    def enter(self, lexeme: _Lexeme) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"query nested too deeply (over {MAX_DEPTH} levels)", lexeme.pos)

    def term(self, lexeme: _Lexeme) -> Term | Phrase:
        text = lexeme.text
        if is_near(text):
            raise self.error(
                "NEAR is not supported yet; write 'near' or \"NEAR\" to match the word",
                lexeme.pos,
            )
        for i, char in enumerate(text):
            if char in RESERVED_CHARS:
                raise self.error(
                    f"{RESERVED_CHARS[char]} are not supported yet; quote the term to match "
                    f"it literally",
                    lexeme.pos + i,
                )
        words = query_words(text)
        if not words:
            if text == "-":
                raise self.error("expected a term, phrase or '(' right after '-'", lexeme.pos)
            raise self.error(f"{text!r} has no letters or digits to match", lexeme.pos)
        return Term(text) if len(words) == 1 else Phrase(tuple(words), text)


def parse_query(text: str) -> Node:
    """Parse a rule query; raises ``QuerySyntaxError`` with the position of the problem."""
    return _Parser(text).parse()


def lint_query(text: str) -> list[str]:
    """Warnings about a valid query that may not mean what it says.

    Raises ``QuerySyntaxError`` if the query does not parse at all.
    """
    node = parse_query(text)
    warnings: list[str] = []
    for lexeme in _lex(text):
        if lexeme.kind is not _Kind.WORD:
            continue
        word = lexeme.text
        if word.upper() in OPERATORS:
            case = "lowercase" if word.islower() else "mixed-case"
            warnings.append(
                f"{case} {word!r} is matched as a word; write {word.upper()} for the operator"
            )
        elif _FIELD_LIKE.match(word):
            shown = " ".join(query_words(word))
            warnings.append(
                f"{word!r} is matched as the words {shown!r}; "
                "field queries (title:...) are not supported yet"
            )
    if matches_empty(node):
        warnings.append(
            "the query also matches articles that contain none of its terms "
            "(it is satisfied by a NOT alone)"
        )
    return warnings
