"""Compiled plans (server/executor.py) give exactly graphql-core's result.

Every document is executed twice through the same Strawberry schema: with
`PlanExecutor` (the served one) and with Strawberry's plain graphql-core
executor, and the two results are compared as JSON text (so key order
counts).  The real schema runs the client's operations, the REST routes'
documents and the bench's over many customers of the sample snapshot; a
small schema covers what the sample never produces (resolver errors, nulls
for non-null fields, non-finite floats, async fields and DataLoader
batching, interfaces, directives).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
from datetime import date, datetime, timezone
from enum import Enum

import pytest
import strawberry
from graphql import NonNullTypeNode, OperationDefinitionNode, parse
from strawberry.dataloader import DataLoader
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from etl.settings import REPO_ROOT
from server.app import create_app
from server.bench import DASHBOARD_QUERY, PROFILE_QUERY, SEARCH_QUERY
from server.executor import Plan, PlanExecutor
from server.keys import Principal
from server.rest import DOCUMENTS
from server.schema import build_schema
from server.view import new_context
from tests.server.conftest import copy_published
from tests.server.harness import CONFIG_DIR, server_config

CLIENT_OPERATIONS = REPO_ROOT / "client" / "src" / "graphql"


def as_json(result) -> str:
    return json.dumps({"data": result.data, "errors": [e.formatted for e in result.errors] if result.errors else None})


DUMMY = {"ID": "x", "String": "x", "Int": 1, "Float": 1.0, "Boolean": False}


def plan_of(schema: strawberry.Schema, query: str, operation_name: str | None = None) -> Plan | None:
    """The plan the served executor would use for this operation (None: graphql-core executes it)."""
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode)
                     and (operation_name is None or d.name.value == operation_name))
    variables = {v.variable.name.value: DUMMY[v.type.type.name.value] for v in operation.variable_definitions or ()
                 if isinstance(v.type, NonNullTypeNode) and v.default_value is None}  # plans do not depend on the values
    executor = PlanExecutor.build(schema._schema, document, raw_variable_values=variables, operation_name=operation_name)
    assert not isinstance(executor, list), executor
    return executor.plan()


# ---------------------------------------------------------------------------- the real schema on the sample


@pytest.fixture(scope="module")
def served(published, tmp_path_factory):
    app = create_app(copy_published(published, tmp_path_factory.mktemp("executor")), CONFIG_DIR, config=server_config(),
                     environ={}, salesforce=None)
    services = app.state.services
    snap = services.holder.get()
    fast = build_schema(services.config)
    slow = build_schema(services.config)
    slow.execution_context_class = StrawberryGraphQLCoreExecutionContext
    return services, snap, fast, slow


def run_both(served, query: str, variables: dict | None = None, operation_name: str | None = None, role: str = "viewer"):
    services, _, fast, slow = served

    async def go(schema):
        ctx = new_context(services, Principal("test", role, None), None, None)
        return await schema.execute(query, variable_values=variables, operation_name=operation_name, context_value=ctx)

    a, b = asyncio.run(go(fast)), asyncio.run(go(slow))
    assert as_json(a) == as_json(b), (operation_name, variables)
    return a


def client_document() -> str:
    return "\n".join(p.read_text() for p in sorted(CLIENT_OPERATIONS.glob("*.graphql")))


def test_the_bench_documents_are_planned_and_equal_over_many_customers(served):
    _, snap, fast, _ = served
    ids = list(snap.metrics.index)
    assert plan_of(fast, PROFILE_QUERY) is not None and plan_of(fast, SEARCH_QUERY) is not None
    with_data = 0
    for account in random.Random(1).sample(ids, min(150, len(ids))) + ["001-unknown"]:
        data = run_both(served, PROFILE_QUERY, {"id": account}, "Customer360").data
        with_data += bool(data["customer"] and (data["customer"]["alerts"] or data["customer"]["recommendations"]))
    assert with_data > 10  # the sample exercises the nested lists
    for term in ("a", "ab", "tel", "zzzz", "Acme"):
        run_both(served, SEARCH_QUERY, {"query": term, "limit": 8}, "SearchCustomers")
    run_both(served, DASHBOARD_QUERY, {"top": 10}, "DashboardSummary")


def test_the_client_operations_are_planned_and_equal(served):
    _, snap, fast, _ = served
    doc = client_document()
    names = re.findall(r"^query (\w+)", doc, flags=re.M)
    assert {"CustomerProfile", "CustomerTimeline", "CustomerList", "SearchCustomers"} <= set(names)
    for name in names:
        assert plan_of(fast, doc, name) is not None, name
    ids = random.Random(2).sample(list(snap.metrics.index), 40)
    masters = [] if snap.master_members is None else list(dict.fromkeys(snap.master_members.df["master_id"]))[:10]
    for account in ids:
        for name in ("CustomerProfile", "CustomerName", "CustomerLinks", "CustomerActions"):
            run_both(served, doc, {"id": account}, name)
        run_both(served, doc, {"id": account, "first": 5}, "CustomerTimeline")
        run_both(served, doc, {"id": account, "types": ["BILLING", "SUPPORT"], "first": 3, "after": None}, "CustomerTimeline")
        run_both(served, doc, {"id": account, "since": "2025-01-01", "until": "2026-06-30"}, "CustomerTimeline")
    for master in masters:
        run_both(served, doc, {"id": master}, "MasterAccount")
    for variables in ({}, {"first": 3}, {"filter": {"region": "EMEA"}, "sort": {"field": "NAME", "descending": False}},
                      {"filter": {"healthCategory": "CRITICAL", "minArrUsd": 1000}, "first": 10}):
        run_both(served, doc, variables, "CustomerList")
    run_both(served, doc, {"top": 5}, "DashboardSummary")
    run_both(served, doc, {"query": "ac"}, "SearchCustomers")
    run_both(served, doc, {}, "LinkReviewQueue", role="admin")
    errors = run_both(served, doc, {}, "LinkReviewQueue", role="viewer").errors  # FORBIDDEN: the plan hands over
    assert errors and errors[0].extensions["code"] == "FORBIDDEN"


def test_the_rest_documents_are_equal(served):
    _, snap, _, _ = served
    for account in random.Random(3).sample(list(snap.metrics.index), 20):
        for name in ("customer", "alerts", "recommendations"):
            run_both(served, DOCUMENTS[name], {"id": account})
        run_both(served, DOCUMENTS["timeline"], {"id": account, "first": 7, "after": None})
    run_both(served, DOCUMENTS["customers"], {"first": 20, "after": None})
    run_both(served, DOCUMENTS["search"], {"q": "co", "limit": 5})
    run_both(served, DOCUMENTS["dashboard"], {"top": 3})


def test_errors_and_unusual_documents_match_graphql_core(served):
    _, snap, fast, _ = served
    account = snap.metrics.index[0]
    queries = [
        # a client error inside a nested field: graphql-core's partial data, path and message
        ("query($id: ID!) { customer(id: $id) { id timeline(first: 100000) { totalCount } } }", {"id": account}),
        ("query($id: ID!) { customer(id: $id) { id timeline(after: \"not-a-cursor\") { totalCount } } }", {"id": account}),
        # aliases, the same field twice, fragments, __typename
        ("""query($id: ID!) { a: customer(id: $id) { id ...F n: name } b: customer(id: $id) { __typename id }
            c: customer(id: $id) { id ... on Customer { region arrUsd } } }
            fragment F on Customer { name healthBreakdown { score components { name } } healthBreakdown { components { weight } } }""",
         {"id": account}),
        ("{ snapshot { customers asOf { date runId } } }", None),
        ("query($ids: [TimelineEventType!]) { customer(id: \"%s\") { timeline(types: $ids, first: 2) { events { type } } } }" % account,
         {"ids": ["BILLING"]}),
        # variables that do not coerce, and directives (graphql-core executes these)
        ("query($id: ID!) { customer(id: $id) { id } }", {"id": None}),
        ("query($x: Boolean!) { customer(id: \"%s\") { id name @include(if: $x) } }" % account, {"x": False}),
        ("{ __schema { queryType { name } } }", None),
    ]
    for query, variables in queries:
        run_both(served, query, variables)
    assert plan_of(fast, queries[-2][0]) is None and plan_of(fast, queries[-1][0]) is None


# ---------------------------------------------------------------------------- a small schema for the rare cases


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Person(Named):
    age: int


@strawberry.type
class Item:
    name: str
    price: float | None
    label: str | None = None
    loud: str = strawberry.field(resolver=lambda: "static")

    @strawberry.field
    def boom(self) -> str | None:
        raise ValueError("boom")

    @strawberry.field
    def must(self) -> str:
        return None  # type: ignore[return-value] - a null for a non-null field

    @strawberry.field
    async def later(self, info: strawberry.Info) -> int:
        return await info.context["loader"].load(len(self.name))

    @strawberry.field
    def upper(self, parent: strawberry.Parent[Item]) -> str:  # the source as self and as the parent
        return parent.name.upper() + str(self is parent)

    @strawberry.field
    def quiet(self, root: strawberry.Parent[Item], info: strawberry.Info) -> str:
        return f"{root.name.lower()} ({info.field_name}, {info.path.key}, {info.path.prev.key})"

    @strawberry.field
    def child(self) -> Item | None:
        return Item(name=self.name + "!", price=None) if len(self.name) < 4 else None

    twin: Item | None = None  # an object read as an attribute


@strawberry.type
class Moment:
    """Leaves the plan completes in line: dates and datetimes (isoformat) and Ints (in 32-bit range)."""

    day: date
    maybe_day: date | None
    at: datetime
    count: int
    big: int | None


class PlainItem(Item):
    """Not the Strawberry type's own class: its values go through the completer's checks, not the shortcut."""


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.input
class Where:
    colour: Colour


DEFAULT_TAGS = ["a"]


@strawberry.type
class Query:
    @strawberry.field
    def items(self, first: int = 3) -> list[Item]:
        return [Item(name="x" * (i + 1), price=i * 1.5) for i in range(first)]

    @strawberry.field
    def nan_item(self) -> Item:
        return Item(name="n", price=math.inf)

    @strawberry.field
    def person(self) -> Person:
        return Person(name="ada", age=36)

    @strawberry.field
    def mixed(self) -> list[Item]:
        return [Item(name="a", price=1.0, twin=PlainItem(name="b", price=None)), PlainItem(name="c", price=2.0, twin=Item(name="d", price=None))]

    @strawberry.field
    def holes(self) -> list[Item]:
        return [Item(name="a", price=1.0), None]  # type: ignore[list-item] - a null item of a non-null list

    @strawberry.field
    def lone(self) -> Item:
        return PlainItem(name="e", price=3.0, twin=Item(name="f", price=None, twin=PlainItem(name="g", price=None)))

    @strawberry.field
    def named(self) -> Named:
        return Person(name="grace", age=45)

    @strawberry.field
    def maybe(self, flag: bool) -> str | None:
        return "yes" if flag else None

    @strawberry.field
    def picked(self, colours: list[Colour] | None = None, tags: list[str] = DEFAULT_TAGS,
               since: date | None = None, limit_to: int = 2) -> str:
        tags.append("seen")  # a resolver changing its default list must not change the next request's
        return f"{[c.value for c in colours or []]} {tags} {since} {limit_to}"

    @strawberry.field
    def moments(self) -> list[Moment]:
        utc = timezone.utc
        return [Moment(day=date(2026, 1, 2), maybe_day=None, at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=utc), count=7, big=None),
                # a datetime as a Date is its isoformat() too (the scalar's serialize); Int's bounds are kept
                Moment(day=datetime(2026, 1, 2, 3, 4), maybe_day=date(2025, 12, 31), at=datetime(2026, 1, 2, 3, 4, 5, 6),
                       count=-2147483648, big=2147483647)]

    @strawberry.field
    def bad_day(self) -> Moment:  # a string as a Date: the scalar cannot serialise it
        return Moment(day="2026-01-02", maybe_day=None, at=datetime(2026, 1, 2), count=1, big=None)  # type: ignore[arg-type]

    @strawberry.field
    def bad_int(self) -> Moment:  # an Int out of 32-bit range: an error
        return Moment(day=date(2026, 1, 2), maybe_day=None, at=datetime(2026, 1, 2), count=2**31, big=None)

    @strawberry.field
    def filtered(self, where: Where | None = None) -> str:  # an input type: Strawberry converts it
        return "none" if where is None else f"{type(where).__name__}:{where.colour.value}"


def small_schemas():
    fast = strawberry.Schema(query=Query, types=[Person], execution_context_class=PlanExecutor)
    slow = strawberry.Schema(query=Query, types=[Person])
    return fast, slow


def run_small(schema, query, variables=None):
    batches: list[list[int]] = []

    async def load(keys):
        batches.append(list(keys))
        return [k * 10 for k in keys]

    async def go():
        return await schema.execute(query, variable_values=variables, context_value={"loader": DataLoader(load)})

    return asyncio.run(go()), batches


def plan_data(schema, query, variables=None):
    """What the plan itself gives (None when it hands over to graphql-core): a plan that fell back on
    every request would pass a comparison of final results and never be used."""

    async def load(keys):
        return [k * 10 for k in keys]

    async def go():
        executor = PlanExecutor.build(schema._schema, parse(query), None, {"loader": DataLoader(load)}, variables)
        data = executor.try_plan()
        return await data if asyncio.iscoroutine(data) else data

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("query", "planned"),
    [
        ("{ items { name price label child { name child { name } } } }", True),
        ("{ items { upper quiet loud q: quiet } }", True),  # resolvers called directly: self, parent, info
        ("{ items(first: 5) { name later child { later } } }", True),  # async fields, one DataLoader batch per round
        ("{ items { name boom } }", True),  # a resolver raising: graphql-core's error and partial data
        ("{ items { name must } }", True),  # null for a non-null field: the null propagates
        ("{ nanItem { name price } }", True),  # a Float that cannot be serialised
        ("{ person { __typename name age } }", True),  # an object type with is_type_of (it implements an interface)
        # objects of the type's own class and of a subclass, in lists, as attributes and from resolvers
        ("{ mixed { name twin { name price twin { name } } } lone { name twin { name twin { name } } } }", True),
        ("{ holes { name } }", True),  # a null item of a non-null list: the error and the null propagate
        ("{ moments { day maybeDay at count big } }", True),  # leaves completed in line
        ("{ badDay { count day } }", True),  # ... and the values they refuse: graphql-core's errors
        ("{ badInt { day count } }", True),
        ("query($f: Boolean!) { a: maybe(flag: $f) b: maybe(flag: true) }", True),
        # arguments passed straight to the resolver: enums, lists (copied), dates, defaults, camelCase names
        ('{ a: picked b: picked(colours: [RED, BLUE], tags: ["x"], since: "2026-01-02", limitTo: 5) c: picked }', True),
        ("query($c: [Colour!], $d: Date) { picked(colours: $c, since: $d) again: picked }", True),
        ("{ filtered(where: {colour: RED}) none: filtered }", True),  # an input type: through Strawberry's wrapper
        ("{ named { name ... on Person { age } } }", False),  # an interface: graphql-core
        ("{ items { name @skip(if: true) price } }", False),  # a directive: graphql-core
    ],
)
def test_small_schema_matches_graphql_core(query, planned):
    fast, slow = small_schemas()
    variables = {"f": False, "c": ["BLUE"], "d": "2026-03-04"}
    run_small(fast, query, variables)  # twice: a plan's arguments computed once must not carry one request's changes into the next
    (a, batches_a), (b, batches_b) = run_small(fast, query, variables), run_small(slow, query, variables)
    assert not a.errors or any(w in query for w in ("boom", "must", "nanItem", "holes", "bad")), a.errors
    assert as_json(a) == as_json(b)
    assert (plan_of(fast, query) is not None) == planned
    if planned:  # no errors: the plan's own answer; an error: graphql-core's
        data = plan_data(fast, query, variables)
        assert (data is None) == bool(b.errors) and (data is None or json.dumps(data) == json.dumps(b.data)), data
    if "later" in query:
        assert len(batches_a) <= len(batches_b) and sorted(k for bt in batches_a for k in bt) == [1, 2, 3, 4, 5]


def test_a_plan_is_compiled_once_per_document():
    fast, _ = small_schemas()
    query = "{ items { name } }"
    assert plan_of(fast, query) is plan_of(fast, query)


def test_the_served_schema_executes_with_plans():
    schema = build_schema(server_config())
    assert schema.execution_context_class is PlanExecutor


def test_only_plain_arguments_skip_strawberrys_argument_conversion():
    """Scalars, enums and lists of them are passed as graphql-core coerced them; an input type is not."""
    from server.executor import plain_arguments

    fast, _ = small_schemas()
    fields = fast._schema.query_type.fields

    def plain(name):
        return plain_arguments(fields[name].extensions["strawberry-definition"], fields[name], fast.config)

    assert plain("picked") == (("colours", "colours", True), ("tags", "tags", True), ("since", "since", False), ("limitTo", "limit_to", False))
    assert plain("filtered") is None
