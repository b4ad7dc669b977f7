"""Impact estimates: small arithmetic expressions over number facts.

A recommendation's ``impact`` is text such as ``arr_usd`` or
``arr_usd * churn_risk / 100``.  It is parsed once (with Python's own
parser, then checked node by node, never ``eval``-ed) into a tree that
evaluates on whole numpy columns, so the batch path computes a million
estimates in one pass and the per-customer path uses the same code on one row.

Allowed: number fields, numeric literals, ``+ - * /``, unary minus,
parentheses, ``min(a, b, ...)``, ``max(a, b, ...)`` and ``coalesce(a, b, ...)``
(the first non-null).  A null input gives a null estimate (except inside
coalesce); dividing by zero gives null, not infinity.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rules.conditions import ConditionError
from rules.fields import FIELDS

_BINARY: dict[type, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
}


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    return np.divide(a, b, out=np.full(a.shape, np.nan), where=(b != 0) & ~np.isnan(b))


def _coalesce(*args: np.ndarray) -> np.ndarray:
    out = np.asarray(args[0], np.float64).copy()
    for arg in args[1:]:
        out = np.where(np.isnan(out), arg, out)
    return out


def _nan_reduce(ufunc: np.ufunc) -> Callable[..., np.ndarray]:
    def reduce(*args: np.ndarray) -> np.ndarray:
        out = np.asarray(args[0], np.float64)
        for arg in args[1:]:
            out = ufunc(out, arg)  # np.maximum / np.minimum propagate NaN: null in, null out
        return out

    return reduce


_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "min": _nan_reduce(np.minimum),
    "max": _nan_reduce(np.maximum),
    "coalesce": _coalesce,
}


@dataclass(frozen=True)
class Expression:
    source: str
    tree: ast.expr
    fields: frozenset[str]

    def evaluate(self, column: Callable[[str], np.ndarray], n: int) -> np.ndarray:
        """Evaluate over n rows; `column(name)` returns a float64 array (NaN = null)."""
        with np.errstate(invalid="ignore", over="ignore"):
            out = _eval(self.tree, column)
        return np.broadcast_to(np.asarray(out, np.float64), (n,)).copy()


def _eval(node: ast.expr, column: Callable[[str], np.ndarray]) -> np.ndarray:
    if isinstance(node, ast.Constant):
        return np.float64(node.value)
    if isinstance(node, ast.Name):
        return column(node.id)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, column)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, column), _eval(node.right, column)
        if isinstance(node.op, ast.Div):
            return _divide(left, right)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        return _FUNCTIONS[node.func.id](*(_eval(a, column) for a in node.args))
    raise AssertionError(f"unchecked node {ast.dump(node)}")  # parse_expression admits nothing else


def _check(node: ast.AST, path: str, source: str, fields: set[str]) -> None:
    def bad(what: str) -> ConditionError:
        return ConditionError(path, f"{what} in expression {source!r}")

    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise bad(f"wrong type: literal {node.value!r} is not a number")
    elif isinstance(node, ast.Name):
        if node.id not in FIELDS:
            raise bad(f"unknown field {node.id!r}")
        if FIELDS[node.id].type != "number":
            raise bad(f"wrong type: {node.id!r} is a {FIELDS[node.id].type} field, not a number")
        fields.add(node.id)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        _check(node.operand, path, source, fields)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        _check(node.left, path, source, fields)
        _check(node.right, path, source, fields)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            raise bad(f"unknown function (allowed: {', '.join(_FUNCTIONS)})")
        if node.keywords or not node.args:
            raise bad(f"{node.func.id}() takes one or more positional arguments")
        for arg in node.args:
            _check(arg, path, source, fields)
    else:
        raise bad(f"unsupported syntax {type(node).__name__}")


def parse_expression(text: object, path: str) -> Expression:
    """Parse and check an impact expression; raises ConditionError naming the problem."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = repr(text)
    if not isinstance(text, str) or not text.strip():
        raise ConditionError(path, f"must be an expression over number fields, got {text!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ConditionError(path, f"unparseable expression {text!r}: {exc.msg}") from None
    fields: set[str] = set()
    _check(tree, path, text, fields)
    return Expression(text.strip(), tree, frozenset(fields))
