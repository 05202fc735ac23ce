"""``A NEAR/n B``: two operands in one field, at most n words apart, in either order.

Operands are leaves or OR-groups of leaves (the parser allows nothing else).
Their word positions come from the field's ``View``; the positions of an
operand are remembered per article (``Document.occurrences``), since many
rules share a leaf. The test works on bit masks of word positions (a bit per word:
where the operand's occurrences start, where they end): shifting one operand's ends
over the distance and masking with the other's starts; ``pairs``
(the close pairs themselves, for hits) is quadratic but runs only for a
rule that matched.
"""

from __future__ import annotations

from monitor.matching.document import Document
from monitor.matching.program import Leaf, Occurrence, OrProgram, Program, Span

__all__ = ["NearProgram", "Operand"]


class NearProgram(Program):
    """Two operands (leaves, or ORs of leaves) in one field, at most ``distance`` words apart."""

    __slots__ = ("distance", "fields", "left", "right")

    def __init__(self, left: Operand, right: Operand, distance: int) -> None:
        self.left = left
        self.right = right
        self.distance = distance
        self.fields = tuple(f for f in operand_fields(left) if f in operand_fields(right))

    def expense(self) -> int:
        return 3

    def operands(self) -> tuple[Program, Program]:
        return self.left, self.right

    def test(self, doc: Document) -> bool:
        if not (self.left.test(doc) and self.right.test(doc)):
            return False  # cheap set lookups before any position work
        n = self.distance
        for field in self.fields:
            left_starts, left_ends = operand_masks(self.left, doc, field)
            if left_starts:
                right_starts, right_ends = operand_masks(self.right, doc, field)
                if right_starts and (
                    _reach(left_ends, n) & right_starts or _reach(right_ends, n) & left_starts
                ):
                    return True
        return False

    def pairs(self, doc: Document, field: int) -> list[tuple[Span, Span]]:
        """Occurrences of left and right close enough, in ``field``."""
        left = operand_occurrences(self.left, doc, field)
        right = operand_occurrences(self.right, doc, field) if left else []
        n = self.distance
        # Occurrences that overlap (one word matched by both sides) do not count.
        return [
            (a, b)
            for a in left
            for b in right
            if (a[1] <= b[0] and b[0] - a[1] < n) or (b[1] <= a[0] and a[0] - b[1] < n)
        ]

    def support(self, doc: Document, out: list[Occurrence]) -> None:
        for field in self.fields:
            view = doc.view(field)
            for a, b in self.pairs(doc, field):
                [ca, cb] = view.char_spans([a, b])
                out.append((field, *ca, operand_text(self.left, a, doc, field)))
                out.append((field, *cb, operand_text(self.right, b, doc, field)))

    def cost(self) -> float:
        return self.left.cost() * self.right.cost()


#: What NEAR measures: a leaf, or an OR of leaves.
Operand = Leaf | OrProgram


def _reach(ends: int, distance: int) -> int:
    """The word positions at most ``distance - 1`` words after one of ``ends`` (a bit set
    per position): ``ends << 0 | ends << 1 | ... | ends << (distance - 1)``, by doubling.

    A span of the other operand that starts at one of them follows an occurrence close
    enough, and does not overlap it (it starts at or after the occurrence's end).
    """
    if distance <= 0:
        return 0
    span = 1
    while span * 2 <= distance:
        ends |= ends << span
        span *= 2
    if span < distance:
        ends |= ends << (distance - span)
    return ends


def operand_masks(node: Program, doc: Document, field: int) -> tuple[int, int]:
    """The starts and the ends of an operand's occurrences in ``field``, a bit per word
    position (remembered per article, like the occurrences)."""
    key = (node, field)
    found = doc.masks.get(key)
    if found is None:
        if isinstance(node, Leaf):
            found = node.masks(doc, field) if field in node.fields else (0, 0)
        else:
            assert isinstance(node, OrProgram)
            starts = ends = 0
            for child in node.children:
                child_starts, child_ends = operand_masks(child, doc, field)
                starts |= child_starts
                ends |= child_ends
            found = starts, ends
        doc.masks[key] = found
    return found


def operand_fields(node: Program) -> tuple[int, ...]:
    if isinstance(node, Leaf):
        return node.fields
    assert isinstance(node, OrProgram)
    return tuple(sorted({f for c in node.children for f in operand_fields(c)}))


def operand_occurrences(node: Program, doc: Document, field: int) -> list[Span]:
    if isinstance(node, Leaf):
        if field not in node.fields:
            return []
        # Remembered per article: NEAR operands are leaves shared by many rules.
        key = (node, field)
        found = doc.occurrences.get(key)
        if found is None:
            found = node.occurrences_if_found(doc, field)
            doc.occurrences[key] = found
        return found
    assert isinstance(node, OrProgram)
    or_key = (node, field)
    merged = doc.occurrences.get(or_key)
    if merged is None:
        merged = sorted({s for c in node.children for s in operand_occurrences(c, doc, field)})
        doc.occurrences[or_key] = merged
    return merged


def operand_text(node: Program, span: Span, doc: Document, field: int) -> str:
    """The term as written of the leaf of an operand that occurs at ``span``."""
    if isinstance(node, OrProgram):
        for child in node.children:
            if span in operand_occurrences(child, doc, field):
                return operand_text(child, span, doc, field)
    assert isinstance(node, Leaf)
    return node.text
