"""The slice of SOQL the emulator understands.

``SELECT f, ... FROM Obj [WHERE f op literal [AND ...]] [ORDER BY f [ASC|DESC]] [LIMIT n]``
with ``op`` one of ``= != <> < <= > >=`` and literals: datetimes
(``2026-11-01T00:00:00Z``, optional milliseconds, ``+hh:mm`` offsets), dates,
numbers, quoted strings, ``true``/``false``/``null``.  Anything else (OR,
IN, functions, sub-queries) is refused with Salesforce's MALFORMED_QUERY, so
a test can never pass on a query a real org would read differently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})(?![\dT])
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<str>'(?:[^'\\]|\\.)*')
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<punct>[,()*])
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<bad>\S)
    )""",
    re.X,
)
_KEYWORDS = {"select", "from", "where", "and", "order", "by", "asc", "desc", "limit"}


class SoqlError(ValueError):
    """Carries Salesforce's errorCode for the ``[{"message", "errorCode"}]`` body."""

    def __init__(self, message: str, error_code: str = "MALFORMED_QUERY"):
        super().__init__(message)
        self.error_code = error_code


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # = != < <= > >=
    kind: str  # dt | date | num | str | bool | null
    value: Any  # datetime (UTC) | str | float | bool | None


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    sobject: str
    where: tuple[Condition, ...] = ()
    order_by: tuple[str, bool] | None = None  # (field, descending)
    limit: int | None = None


def parse_datetime_literal(text: str) -> datetime:
    t = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", t):
        t = t[:-2] + ":" + t[-2:]
    return datetime.fromisoformat(t).astimezone(UTC)


def _tokens(soql: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    text = soql.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            break
        kind = m.lastgroup or "bad"
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, soql: str):
        self.soql = soql
        self.toks = _tokens(soql)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def fail(self) -> SoqlError:
        tok = self.peek()
        where = f"unexpected token: '{tok[1]}'" if tok else "unexpected end of query"
        return SoqlError(f"\n{self.soql}\nERROR at token {self.i + 1}\n{where}")

    def keyword(self, word: str, required: bool = True) -> bool:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].lower() == word:
            self.i += 1
            return True
        if required:
            raise self.fail()
        return False

    def name(self) -> str:
        tok = self.peek()
        if tok is None or tok[0] != "word" or tok[1].lower() in _KEYWORDS:
            raise self.fail()
        self.i += 1
        return tok[1]

    def literal(self) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise self.fail()
        kind, text = tok
        self.i += 1
        if kind == "dt":
            return "dt", parse_datetime_literal(text)
        if kind == "date":
            return "date", text
        if kind == "num":
            return "num", float(text)
        if kind == "str":
            return "str", re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "word" and text.lower() in ("true", "false"):
            return "bool", text.lower() == "true"
        if kind == "word" and text.lower() == "null":
            return "null", None
        self.i -= 1
        raise self.fail()

    def parse(self) -> Query:
        self.keyword("select")
        fields = [self.name()]
        while self.peek() == ("punct", ","):
            self.i += 1
            fields.append(self.name())
        self.keyword("from")
        sobject = self.name()
        where: list[Condition] = []
        if self.keyword("where", required=False):
            while True:
                field = self.name()
                tok = self.peek()
                if tok is None or tok[0] != "op":
                    raise self.fail()
                self.i += 1
                op = "!=" if tok[1] == "<>" else tok[1]
                kind, value = self.literal()
                if kind in ("bool", "null", "str") and op not in ("=", "!="):
                    self.i -= 1
                    raise self.fail()
                where.append(Condition(field, op, kind, value))
                if not self.keyword("and", required=False):
                    break
        order_by = None
        if self.keyword("order", required=False):
            self.keyword("by")
            field = self.name()
            desc = False
            if self.keyword("desc", required=False):
                desc = True
            else:
                self.keyword("asc", required=False)
            order_by = (field, desc)
        limit = None
        if self.keyword("limit", required=False):
            tok = self.peek()
            if tok is None or tok[0] != "num" or not tok[1].isdigit():
                raise self.fail()
            self.i += 1
            limit = int(tok[1])
        if self.peek() is not None:
            raise self.fail()
        return Query(tuple(fields), sobject, tuple(where), order_by, limit)


def parse(soql: str) -> Query:
    """Parse or raise `SoqlError` (MALFORMED_QUERY)."""
    if not soql or not soql.strip():
        raise SoqlError("query is empty")
    return _Parser(soql).parse()
