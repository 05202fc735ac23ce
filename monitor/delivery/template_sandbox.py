"""The bounded Jinja2 sandbox message templates run in.

Jinja2's ``ImmutableSandboxedEnvironment`` already keeps a template away from
Python's internals and from changing its context; it does not stop a template
from running for minutes (nested loops), allocating gigabytes
(``{{ 'a' * 1000000000 }}``, ``'x'.center(10**9)``) or printing without end.
Templates come from the watch config, and one renders for every message, so
``BoundedSandbox`` adds limits, each enforced where the work happens:

- **operations and time**: every attribute or item lookup, call, operator,
  filter and loop step counts one operation; a render stops after
  ``MAX_OPERATIONS`` of them or ``MAX_RENDER_SECONDS`` of wall-clock time,
  whichever comes first (the clock is read at each operation). The template is
  instrumented after parsing so that every ``{% for %}`` step counts, an empty
  loop body too;
- **sizes**: an operator, filter or method that would make a string or list of
  more than ``MAX_VALUE_CHARS`` is refused *before* it runs where the size is
  known in advance (``*``, ``+``, ``%`` and ``format`` widths, ``center``,
  ``indent``, ``join``, ``replace``, ``wordwrap`` ...) and after it ran
  otherwise; integers are kept under ``MAX_INT_BITS`` bits (``10 ** 10 ** 9``);
  item counts (``range``, ``batch``, ``slice``) under ``MAX_ITEMS``; string
  methods are an allow-list (no ``translate`` or ``encode``); ``lipsum`` is gone;
- **output**: everything a render prints, into the message or into a captured
  block (``{% set %}…{% endset %}``, a macro, ``caller()``), counts against
  ``MAX_WRITTEN_CHARS``, and the message itself against ``MAX_OUTPUT_CHARS``,
  checked as it streams out.

A limit that is hit raises ``TemplateLimitError``; ``templates`` turns it, like
any failure inside a template, into a permanent delivery failure naming the
channel, part and line. Limits hold at compile time too: Jinja folds constant
expressions while compiling, and the intercepted operators and wrapped filters
refuse there just the same (an operator is then left for run time).
"""

from __future__ import annotations

import functools
import inspect
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from string import Formatter
from types import BuiltinMethodType, MethodType
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.runtime import Context
from jinja2.sandbox import (
    MAX_RANGE,
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
)
from jinja2.utils import _PassArg
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

#: Most operations (lookups, calls, operators, filters, loop steps) one render may take.
MAX_OPERATIONS = 1_000_000
#: Longest one render may take, in seconds.
MAX_RENDER_SECONDS = 1.0
#: Longest output of one render, in characters.
MAX_OUTPUT_CHARS = 1_000_000
#: Most characters one render may print, captured blocks and macros included.
MAX_WRITTEN_CHARS = 4_000_000
#: Longest string or list an operator, filter or method may make.
MAX_VALUE_CHARS = 1_000_000
#: Most items ``range()``, ``batch`` and ``slice`` may make (Jinja's own range limit).
MAX_ITEMS = MAX_RANGE
#: Largest integer a template may compute, in bits.
MAX_INT_BITS = 4096

#: String methods a template may call (output bounded by input, or checked below).
_STR_METHODS = frozenset(
    """capitalize casefold center count endswith expandtabs find format format_map index
    isalnum isalpha isascii isdecimal isdigit isidentifier islower isnumeric isprintable
    isspace istitle isupper join ljust lower lstrip partition removeprefix removesuffix
    replace rfind rindex rjust rpartition rsplit rstrip split splitlines startswith strip
    swapcase title upper zfill escape unescape striptags""".split()  # noqa: SIM905
)
#: Attributes of numbers a template may use.
_NUMBER_ATTRS = frozenset(
    "real imag numerator denominator bit_length conjugate is_integer as_integer_ratio".split()  # noqa: SIM905
)
#: Width and precision of a ``%`` conversion.
_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
#: Width and precision of a ``format`` spec.
_FORMAT_SPEC = re.compile(r"(?:.?[<>=^])?[+\- ]?z?#?0?(\d*)[,_]?(?:\.(\d+))?")


class TemplateLimitError(Exception):
    """A template went past one of the limits of this module."""


class _Budget:
    """What one render has used so far."""

    __slots__ = ("deadline", "operations", "written")

    def __init__(self) -> None:
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS
        self.operations = 0
        self.written = 0


#: The budget of the render in progress (None: compiling, or no render).
_BUDGET: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def _tick() -> None:
    budget = _BUDGET.get()
    if budget is None:
        return
    budget.operations += 1
    if budget.operations > MAX_OPERATIONS:
        raise TemplateLimitError(
            f"stopped after {MAX_OPERATIONS:,} operations (loop steps, lookups, calls), "
            "the limit of one render"
        )
    if time.monotonic() > budget.deadline:
        raise TemplateLimitError(
            f"stopped after {MAX_RENDER_SECONDS:g} s, the longest one render may take"
        )


def _write(chars: int) -> None:
    budget = _BUDGET.get()
    if budget is None:
        return
    budget.written += chars
    if budget.written > MAX_WRITTEN_CHARS:
        raise TemplateLimitError(
            f"printed more than {MAX_WRITTEN_CHARS:,} characters (captured blocks and macros "
            "included), the limit of one render"
        )


def _too_big(what: str, size: int) -> TemplateLimitError:
    return TemplateLimitError(
        f"{what} would make a value of {size:,} characters or items; at most "
        f"{MAX_VALUE_CHARS:,} are allowed"
    )


def _check_size(what: str, size: int) -> None:
    if size > MAX_VALUE_CHARS:
        raise _too_big(what, size)


def _checked(value: Any, what: str = "an operation") -> Any:
    """``value`` when it is within the size limits (after the fact)."""
    if isinstance(value, str | list | tuple | bytes | bytearray | dict | set | frozenset):
        _check_size(what, len(value))
    elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimitError(f"{what} would make a number over {MAX_INT_BITS:,} bits")
    return value


def _number(text: str | None, what: str) -> None:
    if text and text != "*" and (len(text) > 7 or int(text) > MAX_VALUE_CHARS):
        shown = text if len(text) <= 12 else text[:12] + "…"
        raise TemplateLimitError(f"{what} of {shown} is too large; at most {MAX_VALUE_CHARS:,}")


def _check_printf(template: str) -> None:
    """Refuse ``%`` formatting whose widths or precisions would make a huge string."""
    for found in _PRINTF.finditer(template):
        width, precision = found.group(1), found.group(2)
        if "*" in (width, precision):
            raise TemplateLimitError("'%*' widths are not allowed in templates")
        _number(width, "a % width")
        _number(precision, "a % precision")


def _check_format_spec(spec: str) -> None:
    found = _FORMAT_SPEC.match(spec)
    if found:
        _number(found.group(1), "a format width")
        _number(found.group(2), "a format precision")


def _text_size(value: Any) -> int:
    return len(value) if isinstance(value, str) else len(str(value))


def _joined_size(items: list[Any], separator: str) -> int:
    return sum(_text_size(item) for item in items) + len(separator) * max(len(items) - 1, 0)


def _replaced_size(text: str, old: str, new: str, count: Any) -> int:
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(len(new) - len(old), 0)


# --- operators and calls -------------------------------------------------------------------


def _check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse an operation whose result is known to be too large before computing it."""
    sequence = (str, list, tuple)
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, sequence) and isinstance(times, int):
                _check_size("'*'", len(seq) * max(times, 0))
        both_ints = isinstance(left, int) and isinstance(right, int)
        if both_ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TemplateLimitError(f"'*' would make a number over {MAX_INT_BITS:,} bits")
    elif operator == "**":
        both_ints = isinstance(left, int) and isinstance(right, int)
        if both_ints and abs(left) > 1 and right > 0 and left.bit_length() * right > MAX_INT_BITS:
            raise TemplateLimitError(f"'**' would make a number over {MAX_INT_BITS:,} bits")
    elif operator == "+":
        if isinstance(left, sequence) and isinstance(right, sequence):
            _check_size("'+'", len(left) + len(right))
    elif operator == "%" and isinstance(left, str):
        _check_printf(left)


def _check_call(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Refuse a string method call whose result would be too large; the arguments to call
    it with (an iterable ``join`` is given is read into a list first)."""
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if not isinstance(owner, str) or not isinstance(obj, MethodType | BuiltinMethodType):
        return args
    what = f"str.{name}()"
    if name in ("ljust", "rjust", "center", "zfill") and args and isinstance(args[0], int):
        _check_size(what, args[0])
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            _check_size(what, len(owner) + owner.count("\t") * size)
    elif name == "join" and args:
        items = list(_bounded_iter(args[0]))
        _check_size(what, _joined_size(items, owner))
        return (items, *args[1:])
    elif name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        _check_size(what, _replaced_size(owner, args[0], args[1], count))
    return args


def _bounded_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    """``iterable``, each item counted as an operation."""
    for item in iterable:
        _tick()
        yield item


class _BoundedFormatter(SandboxedFormatter):
    def format_field(self, value: Any, format_spec: str) -> Any:
        _tick()
        _check_format_spec(format_spec)
        return super().format_field(value, format_spec)


class _BoundedEscapeFormatter(SandboxedEscapeFormatter):
    def format_field(self, value: Any, format_spec: str) -> Any:
        _tick()
        _check_format_spec(format_spec)
        return super().format_field(value, format_spec)


# --- filters -------------------------------------------------------------------------------


def _filter_checks(name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse a call of filter ``name`` whose result would be too large; the arguments to
    replace (an iterable ``join`` is given, read into a list)."""
    what = f"the '{name}' filter"
    get = arguments.get
    width, value = get("width"), get("value")
    if name == "center" and isinstance(width, int):
        _check_size(what, width)
    elif name == "indent":
        text, width = str(get("s", "")), get("width", 4)
        size = width if isinstance(width, int) else len(str(width))
        _check_size(what, len(text) + (text.count("\n") + 1) * max(size, 0))
    elif name == "join":
        items = list(_bounded_iter(get("value", ())))
        _check_size(what, _joined_size(items, str(get("d", ""))))
        return {"value": items}
    elif name == "replace":
        s, old, new = get("s"), get("old"), get("new")
        if isinstance(s, str) and isinstance(old, str) and isinstance(new, str):
            _check_size(what, _replaced_size(s, old, new, get("count")))
    elif name == "wordwrap":
        text, width = str(get("s", "")), get("width", 79)
        wrap = get("wrapstring") or "\n"
        lines = len(text) // max(width if isinstance(width, int) else 1, 1) + text.count(" ") + 1
        _check_size(what, len(text) + lines * len(str(wrap)))
    elif name == "format" and isinstance(value, str):
        _check_printf(value)
    elif name in ("batch", "slice"):
        count = get("linecount" if name == "batch" else "slices")
        if isinstance(count, int) and count > MAX_ITEMS:
            raise TemplateLimitError(f"{what} would make over {MAX_ITEMS:,} items")
    elif name == "sum" and not isinstance(get("start", 0), int | float):
        raise TemplateLimitError(f"{what} adds numbers only")
    return {}


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` with each call counted, checked before (``_filter_checks``) and after."""
    passes = _PassArg.from_obj(func) is not None
    try:
        params = list(inspect.signature(func).parameters.values())
    except ValueError:  # a builtin without a signature (markupsafe's escape): nothing to check
        params = None
    if params and passes and params[0].name in ("eval_ctx", "context", "environment"):
        params = params[1:]
    signature = inspect.Signature(params) if params is not None else None

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        head, rest = (args[:1], args[1:]) if passes else ((), args)
        try:
            if signature is None:
                raise TypeError
            bound = signature.bind(*rest, **kwargs)
        except TypeError:  # a wrong call: let the filter itself say what is wrong
            return _checked(func(*args, **kwargs), f"the '{name}' filter")
        replaced = _filter_checks(name, bound.arguments)
        if replaced:
            bound.arguments.update(replaced)
        return _checked(func(*head, *bound.args, **bound.kwargs), f"the '{name}' filter")

    return bounded


# --- instrumenting a parsed template -------------------------------------------------------


def _hook(name: str, arg: nodes.Node, where: nodes.Node) -> nodes.Filter:
    """``arg|<name>``: one of the environment's counting filters (they take the context, so
    Jinja never folds them into constants while compiling)."""
    return nodes.Filter(arg, name, [], [], None, None, lineno=where.lineno)


class _Instrument(NodeTransformer):
    """Counts every loop step, every printed character and the size of every ``~``."""

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        literal = sum(len(c.data) for c in node.nodes if isinstance(c, nodes.TemplateData))
        children: list[nodes.Expr] = []
        if literal:
            children.append(_hook("nm_wrote", nodes.Const(literal), node))
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                children.append(child)
            else:
                children.append(_hook("nm_print", child, child))
        node.nodes = children
        return node

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _hook("nm_iterate", node.iter, node)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _hook("nm_value", node, node)


@jinja2.pass_context
def _nm_wrote(context: Context, chars: int) -> str:
    _write(chars)
    return ""


@jinja2.pass_context
def _nm_print(context: Context, value: Any) -> Any:
    _write(_text_size(value) if value is not None else 0)
    return value


@jinja2.pass_context
def _nm_iterate(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    return _bounded_iter(iterable)


@jinja2.pass_context
def _nm_value(context: Context, value: Any) -> Any:
    return _checked(value, "'~'")


#: The filters instrumented templates call (not counted as operations themselves).
_HOOKS = {
    "nm_wrote": _nm_wrote,
    "nm_print": _nm_print,
    "nm_iterate": _nm_iterate,
    "nm_value": _nm_value,
}


# --- the environment -----------------------------------------------------------------------


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with the limits of this module."""

    intercepted_binops = frozenset({"*", "**", "+", "-", "/", "//", "%"})
    intercepted_unops = frozenset({"+", "-"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals.pop("lipsum", None)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.filters.update(_HOOKS)

    def set_filter(self, name: str, func: Callable[..., Any]) -> None:
        """Add or replace filter ``name``, counted and checked like the others."""
        self.filters[name] = _bounded_filter(name, func)

    def instrument(self, source_ast: nodes.Template) -> nodes.Template:
        """``source_ast`` (as ``parse`` made it) with every loop step and print counted."""
        _Instrument().visit(source_ast)
        source_ast.set_environment(self)
        return source_ast

    # The sandbox's own hooks, counted and checked.
    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr not in _STR_METHODS:
            return False
        if isinstance(obj, int | float) and attr not in _NUMBER_ATTRS:
            return False
        if isinstance(obj, bytes | bytearray):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        _check_binop(operator, left, right)
        return _checked(super().call_binop(context, operator, left, right), f"'{operator}'")

    def call_unop(self, context: Context, operator: str, arg: Any) -> Any:
        _tick()
        return super().call_unop(context, operator, arg)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _tick()
        args = _check_call(obj, args, kwargs)
        return _checked(super().call(context, obj, *args, **kwargs), "a call")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's sandboxed ``str.format``, with every field's width checked."""
        if not isinstance(value, MethodType | BuiltinMethodType) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        owner = value.__self__
        if not isinstance(owner, str):
            return None
        formatter: Formatter
        if isinstance(owner, Markup):
            formatter = _BoundedEscapeFormatter(self, escape=owner.escape)
        else:
            formatter = _BoundedFormatter(self)
        kind, is_map = type(owner), value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            return kind(_checked(formatter.vformat(owner, args, kwargs), "str.format()"))

        return functools.update_wrapper(wrapper, value)


def render_bounded(template: jinja2.Template, variables: Mapping[str, Any]) -> str:
    """``template`` rendered with ``variables`` within the limits of this module;
    TemplateLimitError (or whatever the template raises) when it cannot be."""
    token = _BUDGET.set(_Budget())
    try:
        parts: list[str] = []
        size = 0
        for part in template.generate(variables):
            size += len(part)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateLimitError(
                    f"output longer than {MAX_OUTPUT_CHARS:,} characters, the limit of one render"
                )
            parts.append(part)
        return "".join(parts)
    finally:
        _BUDGET.reset(token)
