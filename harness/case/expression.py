"""The expression language of `data: {expression: ...}`: array arithmetic and nothing else.

A case file is untrusted input, and an expression is its one piece of code. NumPy's public table
holds functions that read files and URLs (loadtxt, genfromtxt, fromregex, fromfile through
NumPy's DataSource, which also caches a URL's body under the current directory), change process
state (seterr), build arrays over raw memory (ndarray(..., buffer=...)) and run for minutes;
ndarray methods write files (tofile, dump). An evaluator that starts from that table and removes
what is known to be dangerous (as asteval with `open` removed did) is only as safe as the list of
removals. This one starts from nothing: the expression is parsed with `ast.parse(mode="eval")`
and walked here, and only the node types, names, functions, methods, attributes and keywords in
the tables below mean anything; everything else is refused by name before anything runs. asteval
could not serve: it resolves attribute access on any object it reaches, with no allow-list.

Cost is bounded too: no value may be a string or a function (so no dtype string, no object
array), a subscript takes integers, slices, None and `...` only (views, never larger than the
array), every array a step would make is sized from its arguments before the step runs and
refused beyond MAX_ELEMENTS, integer powers on Python integers are refused past 64 bits, the
expression's length is limited and its wall clock is checked at every step.
"""

from __future__ import annotations

import ast
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from harness.case.limits import MAX_ELEMENTS, MAX_EXPRESSION_CHARS, MAX_EXPRESSION_SECONDS

DOCS = "see docs/security.md for the functions, methods and attributes an expression may use"


class ExpressionRefused(ValueError):
    """An expression the language does not allow, or one that failed; `hint` says what to do.

    A ValueError so that the data source's caller turns it into a CaseError at the field."""

    def __init__(self, message: str, hint: str | None = DOCS) -> None:
        super().__init__(message)
        self.hint = hint


# ---- sizes: how many elements a step will make, from its arguments, before it runs ----------

def _shape_of(value: Any) -> tuple[int, ...]:
    return tuple(np.shape(value))


def _size_of(value: Any) -> int:
    return math.prod(_shape_of(value))


def _broadcast(args, kwargs) -> int | None:
    shapes = [_shape_of(value) for value in args if not _is_dtype(value)]
    try:
        return math.prod(np.broadcast_shapes(*shapes)) if shapes else 0
    except ValueError:
        return None  # NumPy says what does not broadcast


def _inputs(args, kwargs) -> int:
    """Reductions, reshapes, sorts, joins: never more elements than their array arguments."""
    total = 0
    for value in args:
        if isinstance(value, (list, tuple)) and value and isinstance(value[0], (np.ndarray, list, tuple)):
            total += sum(_size_of(item) for item in value)
        elif not _is_dtype(value):
            total += _size_of(value)
    return total


def _shape_argument(position: int, keyword: str = "shape") -> Callable[..., int]:
    def size(args, kwargs) -> int:
        shape = kwargs.get(keyword, args[position] if len(args) > position else None)
        if shape is None:
            return 1
        return math.prod(_whole_numbers(shape, keyword))
    return size


def _whole_numbers(value: Any, what: str) -> tuple[int, ...]:
    items = value if isinstance(value, (tuple, list)) else (value,)
    if not all(isinstance(item, (int, np.integer)) and not isinstance(item, bool) for item in items):
        raise ExpressionRefused(f"`{what}` must be a whole number or a tuple of them, not {value!r}")
    return tuple(int(item) for item in items)


def _eye(args, kwargs) -> int:
    rows = _whole_numbers(args[0] if args else kwargs.get("N", 1), "N")[0]
    columns = args[1] if len(args) > 1 and args[1] is not None else kwargs.get("M") or rows
    return rows * _whole_numbers(columns, "M")[0]


def _arange(args, kwargs) -> int:
    numbers = [float(value) for value in args if not _is_dtype(value)]
    start, stop, step = ([0.0, *numbers[:1]] if len(numbers) == 1 else numbers[:3]) + [1.0] * (len(numbers) < 3)
    if step == 0 or not all(math.isfinite(value) for value in (start, stop, step)):
        raise ExpressionRefused("arange needs finite bounds and a step other than 0")
    return max(0, math.ceil((stop - start) / step))


def _linspace(args, kwargs) -> int:
    return _whole_numbers(args[2] if len(args) > 2 else kwargs.get("num", 50), "num")[0]


def _tile(args, kwargs) -> int:
    reps = args[1] if len(args) > 1 else kwargs.get("reps", 1)
    return _size_of(args[0]) * math.prod(_whole_numbers(reps, "reps"))


def _repeat(args, kwargs) -> int:
    repeats = args[1] if len(args) > 1 else kwargs.get("repeats", 1)
    most = int(np.max(repeats)) if _size_of(repeats) else 0
    return _size_of(args[0]) * max(most, 0)


def _outer(args, kwargs) -> int:
    return _size_of(args[0]) * _size_of(args[1])


def _matmul(args, kwargs) -> int:
    """Multiply-adds, an upper bound of the work and of the result (m*k*n for two matrices)."""
    a, b = (_shape_of(value) for value in args[:2])
    inner = b[-2] if len(b) >= 2 else (b[0] if b else 1)
    return math.prod(a) * math.prod(b) // max(inner, 1)


# ---- the tables ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Function:
    call: Callable[..., Any]
    size: Callable[..., int | None]
    """Elements the call will make (or work it will do), from its arguments, before it runs."""


ELEMENTWISE_NAMES = (
    "abs absolute fabs negative positive sign exp exp2 expm1 log log1p log2 log10 sqrt cbrt square "
    "reciprocal sin cos tan arcsin arccos arctan sinh cosh tanh arcsinh arccosh arctanh floor ceil "
    "trunc rint isnan isfinite isinf logical_not logical_and logical_or logical_xor maximum minimum "
    "fmax fmin arctan2 hypot add subtract multiply divide true_divide floor_divide mod remainder "
    "power float_power logaddexp heaviside copysign greater greater_equal less less_equal equal "
    "not_equal where clip nan_to_num"
).split()
SHAPE_NAMES = (
    "sum mean max min amax amin prod std var median argmax argmin any all cumsum cumprod sort "
    "reshape transpose swapaxes moveaxis expand_dims squeeze ravel flip roll concatenate stack "
    "hstack vstack zeros_like ones_like full_like tril triu round around"
).split()


def _function_table() -> dict[str, Function]:
    table = {name: Function(getattr(np, name), _broadcast) for name in ELEMENTWISE_NAMES}
    table.update({name: Function(getattr(np, name), _inputs) for name in SHAPE_NAMES})
    table.update({
        "zeros": Function(np.zeros, _shape_argument(0)),
        "ones": Function(np.ones, _shape_argument(0)),
        "full": Function(np.full, _shape_argument(0)),
        "eye": Function(np.eye, _eye),
        "identity": Function(np.identity, _eye),
        "arange": Function(np.arange, _arange),
        "linspace": Function(np.linspace, _linspace),
        "tile": Function(np.tile, _tile),
        "repeat": Function(np.repeat, _repeat),
        "broadcast_to": Function(lambda x, shape: np.array(np.broadcast_to(x, shape)), _shape_argument(1)),
        "outer": Function(np.outer, _outer),
        "matmul": Function(np.matmul, _matmul),
        "dot": Function(np.dot, _matmul),
    })
    return table


FUNCTIONS: dict[str, Function] = _function_table()
SEEDED = {"uniform": "uniform(low, high, shape)", "normal": "normal(mean, std, shape)"}
"""Draws from the tensor's own seeded generator (added per evaluation, with its generator)."""

METHODS: dict[str, Callable[..., int | None]] = {
    **{name: _inputs for name in ("sum mean max min prod std var argmax argmin any all cumsum "
                                  "cumprod reshape transpose swapaxes squeeze ravel flatten clip "
                                  "round astype copy").split()},
    "repeat": _repeat,
}
ATTRIBUTES = ("T", "shape", "ndim", "size")
DTYPES: dict[str, type] = {name: getattr(np, name) for name in (
    "float16 float32 float64 int8 int16 int32 int64 uint8 bool_").split()}
CONSTANTS: dict[str, Any] = {"pi": np.pi, "e": np.e, "inf": np.inf, "nan": np.nan, "newaxis": None,
                             **DTYPES}
KEYWORDS = frozenset("axis keepdims dtype ddof decimals axes endpoint num k repeats reps shape "
                     "fill_value".split())

BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a ** b, ast.MatMult: lambda a, b: a @ b,
    ast.BitAnd: lambda a, b: a & b, ast.BitOr: lambda a, b: a | b, ast.BitXor: lambda a, b: a ^ b,
}
UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: lambda a: -a, ast.UAdd: lambda a: +a, ast.Invert: lambda a: ~a,
}
COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b, ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
}
OPERATOR_NAMES = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
                  ast.Mod: "%", ast.Pow: "**", ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|",
                  ast.BitXor: "^"}
INTEGER_BITS = 64
"""Python integers are unbounded: `10**10**6` alone runs for minutes. Integers past 64 bits
have no use in an expression (NumPy's own are 64-bit), so a step that would make one is refused."""


def allowed_names() -> dict[str, list[str]]:
    """Every name an expression may use, by kind (docs/security.md is tested against this)."""
    return {"functions": sorted([*FUNCTIONS, *SEEDED]), "methods": sorted(METHODS),
            "attributes": sorted(ATTRIBUTES), "constants": sorted(CONSTANTS),
            "keywords": sorted(KEYWORDS)}


# ---- the walker ------------------------------------------------------------------------------

def _is_dtype(value: Any) -> bool:
    return any(value is dtype for dtype in DTYPES.values())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number, np.bool_)) and not isinstance(value, complex)


def evaluate(expression: str, scope: dict[str, np.ndarray],
             rng: np.random.Generator | None = None) -> np.ndarray:
    """The value of `expression` over the arrays in `scope`; ExpressionRefused (a ValueError)
    for anything outside the language, past a limit, or failing in NumPy."""
    if len(expression) > MAX_EXPRESSION_CHARS.value():
        raise ExpressionRefused(f"the expression is {len(expression)} characters long",
                                hint=MAX_EXPRESSION_CHARS.hint())
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ExpressionRefused(f"cannot parse {expression!r}: {exc.msg}",
                                hint="an expression is one Python expression, e.g. \"exp(x)\"") from None
    except (RecursionError, MemoryError):
        raise ExpressionRefused(f"cannot parse {expression!r}: nested too deeply", hint=None) from None
    walker = _Walker(expression, scope, rng)
    try:
        with np.errstate(all="ignore"):  # restored on exit; a NaN result is the case's check (check_finite)
            result = walker.value(tree.body)
    except ExpressionRefused:
        raise
    except RecursionError:
        raise ExpressionRefused(f"cannot evaluate {expression!r}: nested too deeply", hint=None) from None
    except (ArithmeticError, ValueError, TypeError, IndexError, MemoryError) as exc:
        where = f" in {walker.step}" if walker.step else ""
        raise ExpressionRefused(f"cannot evaluate {expression!r}{where}: {type(exc).__name__}: {exc}",
                                hint=None) from None
    array = np.asarray(result)
    walker.check_result(array, "the result")
    return array


class _Walker:
    def __init__(self, expression: str, scope: dict[str, np.ndarray],
                 rng: np.random.Generator | None) -> None:
        self.expression, self.scope, self.rng = expression, scope, rng
        self.deadline = time.monotonic() + MAX_EXPRESSION_SECONDS.value()
        self.max_elements = MAX_ELEMENTS.value()
        self.step = ""

    def refuse(self, message: str, hint: str | None = DOCS) -> ExpressionRefused:
        return ExpressionRefused(f"{message} (in {self.expression!r})", hint)

    def value(self, node: ast.AST) -> Any:
        if time.monotonic() > self.deadline:
            raise self.refuse("the expression ran out of time", MAX_EXPRESSION_SECONDS.hint())
        visit = getattr(self, "visit_" + type(node).__name__, None)
        if visit is None:
            raise self.refuse(f"{_describe(node)} is not allowed in an expression")
        return visit(node)

    def check_size(self, elements: int | None, what: str) -> None:
        if elements is not None and elements > self.max_elements:
            raise self.refuse(f"{what} would make {elements:,} elements", MAX_ELEMENTS.hint())

    def check_result(self, value: Any, what: str) -> Any:
        if isinstance(value, (np.ndarray, np.generic)):
            if value.dtype.kind not in "biuf":
                raise self.refuse(f"{what} has dtype {value.dtype}; an expression makes numbers only",
                                  hint=None)
            self.check_size(value.size, what)
        elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > INTEGER_BITS:
            raise self.refuse(f"{what} is an integer beyond {INTEGER_BITS} bits", hint=None)
        return value

    # -- leaves --

    def visit_Constant(self, node: ast.Constant) -> Any:
        if node.value is None or node.value is Ellipsis or _is_number(node.value):
            if isinstance(node.value, complex):
                raise self.refuse("complex numbers are not allowed", hint=None)
            return self.check_result(node.value, "a number")
        raise self.refuse(f"the literal {node.value!r} is not allowed (numbers, None and ... only)",
                          hint="dtypes are names, e.g. x.astype(float32); " + DOCS)

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in self.scope:
            return self.scope[node.id]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in FUNCTIONS or node.id in SEEDED:
            raise self.refuse(f"the function {node.id!r} can only be called", hint=None)
        known = ", ".join(sorted(self.scope)) or "none"
        raise self.refuse(f"unknown name {node.id!r} (the tensors defined before this one: {known})",
                          hint="an expression reads inputs, earlier targets, and " + DOCS[4:])

    def visit_Tuple(self, node: ast.Tuple) -> tuple:
        return tuple(self.value(item) for item in node.elts)

    def visit_List(self, node: ast.List) -> list:
        return [self.value(item) for item in node.elts]

    # -- operators --

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        operation = BINARY.get(type(node.op))
        symbol = OPERATOR_NAMES.get(type(node.op), type(node.op).__name__)
        if operation is None:
            raise self.refuse(f"the operator {symbol} is not allowed")
        left, right = self.value(node.left), self.value(node.right)
        for operand in (left, right):
            if not (_is_number(operand) or isinstance(operand, np.ndarray)):
                raise self.refuse(f"{symbol} takes numbers and arrays, not {type(operand).__name__}",
                                  hint="arithmetic on lists and tuples is not allowed; use concatenate "
                                       "or tile")
        self.step = f"the operator {symbol}"
        if isinstance(node.op, ast.Pow):
            self.check_power(left, right)
        if isinstance(node.op, ast.MatMult):
            self.check_size(_matmul((left, right), {}), "the operator @")
        else:
            self.check_size(_broadcast((left, right), {}), f"the operator {symbol}")
        return self.check_result(operation(left, right), f"the operator {symbol}")

    def check_power(self, base: Any, exponent: Any) -> None:
        if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
            if (abs(base).bit_length() - 1) * exponent > INTEGER_BITS:
                raise self.refuse(f"{base} ** {exponent} is an integer beyond {INTEGER_BITS} bits",
                                  hint="write a float (e.g. 10.0 ** 20) for a large number")

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        operation = UNARY.get(type(node.op))
        if operation is None:
            raise self.refuse(f"the operator {type(node.op).__name__} is not allowed")
        operand = self.value(node.operand)
        if not (_is_number(operand) or isinstance(operand, np.ndarray)):
            raise self.refuse(f"a sign takes numbers and arrays, not {type(operand).__name__}", hint=None)
        return self.check_result(operation(operand), "a sign")

    def visit_Compare(self, node: ast.Compare) -> Any:
        if len(node.ops) != 1 or type(node.ops[0]) not in COMPARE:
            raise self.refuse("a comparison takes one of <, <=, >, >=, ==, != between two values "
                              "(combine several with & and |)")
        left, right = self.value(node.left), self.value(node.comparators[0])
        self.check_size(_broadcast((left, right), {}), "a comparison")
        return self.check_result(COMPARE[type(node.ops[0])](left, right), "a comparison")

    # -- subscripts and attributes --

    def visit_Subscript(self, node: ast.Subscript) -> Any:
        target = self.value(node.value)
        if not isinstance(target, (np.ndarray, tuple)):
            raise self.refuse(f"a subscript applies to arrays (and .shape), not {type(target).__name__}",
                              hint=None)
        index = self.index(node.slice)
        return self.check_result(target[index], "a subscript")

    def index(self, node: ast.AST) -> Any:
        """Basic indexing only (integers, slices, None, ...): a view, never larger than its array;
        an index array could repeat rows without bound."""
        if isinstance(node, ast.Tuple):
            return tuple(self.index(item) for item in node.elts)
        if isinstance(node, ast.Slice):
            parts = [None if part is None else self.value(part) for part in (node.lower, node.upper, node.step)]
            for part in parts:
                self.whole_index(part)
            return slice(*parts)
        value = self.value(node)
        self.whole_index(value)
        return value

    def whole_index(self, value: Any) -> None:
        if value is None or value is Ellipsis:
            return
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return
        raise self.refuse(f"an index is a whole number, a slice, None or ..., not {type(value).__name__}",
                          hint="select with where(condition, a, b) instead of an index array")

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        target = self.value(node.value)
        if node.attr not in ATTRIBUTES:
            raise self.refuse(f"the attribute .{node.attr} is not allowed (attributes: "
                              f"{', '.join(ATTRIBUTES)}; methods are called)")
        if not isinstance(target, (np.ndarray, np.generic)):
            raise self.refuse(f".{node.attr} applies to arrays, not {type(target).__name__}", hint=None)
        return self.check_result(getattr(target, node.attr), f".{node.attr}")

    # -- calls --

    def visit_Call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Name):
            name = node.func.id
            if name in SEEDED:
                return self.seeded(name, node)
            function = FUNCTIONS.get(name)
            if function is None:
                raise self.refuse(f"{name!r} is not an allowed function")
            args, kwargs = self.arguments(node, name)
            self.step = f"{name}()"
            self.check_size(function.size(args, kwargs), f"{name}()")
            return self.check_result(function.call(*args, **kwargs), f"{name}()")
        if isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name not in METHODS:
                raise self.refuse(f"the method .{name}() is not allowed")
            target = self.value(node.func.value)
            if not isinstance(target, (np.ndarray, np.generic)):
                raise self.refuse(f".{name}() applies to arrays, not {type(target).__name__}", hint=None)
            args, kwargs = self.arguments(node, "." + name)
            self.step = f".{name}()"
            self.check_size(METHODS[name]((target, *args), kwargs), f".{name}()")
            return self.check_result(getattr(target, name)(*args, **kwargs), f".{name}()")
        raise self.refuse(f"only named functions and array methods can be called, not {_describe(node.func)}")

    def arguments(self, node: ast.Call, name: str) -> tuple[list[Any], dict[str, Any]]:
        args = []
        for item in node.args:
            if isinstance(item, ast.Starred):
                raise self.refuse(f"*arguments are not allowed (in {name})")
            args.append(self.value(item))
        kwargs = {}
        for keyword in node.keywords:
            if keyword.arg is None or keyword.arg not in KEYWORDS:
                shown = "**" if keyword.arg is None else keyword.arg + "="
                raise self.refuse(f"the keyword {shown} is not allowed (in {name}; keywords: "
                                  f"{', '.join(sorted(KEYWORDS))})", hint=None)
            kwargs[keyword.arg] = self.value(keyword.value)
        for value in [*args, *kwargs.values()]:
            self.check_argument(value, name)
        return args, kwargs

    def check_argument(self, value: Any, name: str) -> None:
        """Arguments are numbers, arrays, dtypes from the table, None, and lists or tuples of them."""
        if value is None or value is Ellipsis or _is_number(value) or _is_dtype(value):
            return
        if isinstance(value, np.ndarray):
            return
        if isinstance(value, (list, tuple)):
            for item in value:
                self.check_argument(item, name)
            return
        raise self.refuse(f"{name} cannot take a {type(value).__name__}", hint=None)

    def seeded(self, name: str, node: ast.Call) -> np.ndarray:
        if self.rng is None:
            raise self.refuse(f"{name}() draws from the tensor's seeded generator, which is not "
                              "available here", hint=None)
        args, kwargs = self.arguments(node, name)
        if kwargs or len(args) != 3:
            raise self.refuse(f"{name}() takes three positional arguments: {SEEDED[name]}", hint=None)
        first, second, shape = args
        self.step = f"{name}()"
        self.check_size(math.prod(_whole_numbers(shape, "shape")), f"{name}()")
        draw = self.rng.uniform if name == "uniform" else self.rng.normal
        return self.check_result(draw(first, second, size=shape), f"{name}()")


def _describe(node: ast.AST) -> str:
    names = {"Lambda": "a lambda", "ListComp": "a comprehension", "GeneratorExp": "a generator",
             "DictComp": "a comprehension", "SetComp": "a comprehension", "Dict": "a mapping",
             "Set": "a set", "IfExp": "`a if c else b` (use where(c, a, b))",
             "BoolOp": "and/or (use & and |)", "NamedExpr": "an assignment", "JoinedStr": "an f-string",
             "Await": "await", "Yield": "yield", "Starred": "*unpacking"}
    kind = type(node).__name__
    return names.get(kind, f"the syntax {kind}")
