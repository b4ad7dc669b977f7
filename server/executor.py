"""Compiled execution of validated query operations: graphql-core's result without its per-field overhead.

graphql-core executes a document by walking it field by field: for every
field of every object it looks the field up, builds a ``GraphQLResolveInfo``
and a response path, computes the arguments, calls the resolver, then checks
the result against the field's type.  For the customer 360 profile (about 180
fields) that walk costs more than the resolvers themselves.

`PlanExecutor` is graphql-core's executor (Strawberry's subclass of it,
passed to the schema as ``execution_context_class``) with one change: a query
operation is first compiled, once per document text and operation, into a
`Plan` - for every object type and selection set, the collected fields (by
graphql-core's own `collect_fields`), each with how to get its value and how
to complete it:

* a Strawberry field without a resolver is read with ``getattr`` (what
  Strawberry's basic-field resolver does), with no resolve info;
* any other field calls its resolver exactly as graphql-core does, with a
  ``GraphQLResolveInfo`` built by the executor, its response path, and the
  arguments from `get_argument_values` (computed once when they use no
  variables);
* leaves are coerced with the type's own ``coerce_output_value``; lists and
  objects complete their items and sub-selections; awaitable results are
  collected and awaited together (so DataLoaders still batch), then
  completed.

Each selection set runs as a Python function generated for it
(`fields_runner`): straight-line code per field with the field's constants
bound in, and objects of their Strawberry type's own class completed
without the completer's checks (such a value is never null, an exception
or awaitable).

A plan covers only the plain case.  It is not made for mutations and
subscriptions, for documents with directives on selections (``@skip``,
``@include``, ``@defer``, ...) or fragment arguments, for abstract types
(interfaces, unions), introspection (``__schema``, ``__type``) or fields
without a resolver function, nor when resolver middleware or an abort
signal is in use: those always run through graphql-core.  At run time,
anything graphql-core would report as an error - a resolver raising, a null
for a non-null field, a value a scalar cannot serialise, a failed
``is_type_of`` - abandons the plan's result and executes the operation again
through graphql-core, which then produces the errors, paths and partial data.
That re-execution is safe because a query's resolvers only read (GraphQL's
contract for query fields); the first attempt's coroutines are closed.

So the result is always graphql-core's: `tests/server/test_executor.py`
executes the client's, the REST routes' and the bench's documents over many
customers both ways and compares the JSON.
"""

from __future__ import annotations

import asyncio
import keyword
import operator
import logging
import threading
from collections import OrderedDict
from datetime import date, datetime
from decimal import Decimal
from enum import EnumMeta
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLString,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import collect_fields, collect_subfields
from graphql.execution.values import get_argument_values
from graphql.language import ListValueNode, ObjectValueNode, VariableNode
from graphql.pyutils import Path, Undefined, is_iterable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.base import StrawberryList, StrawberryMaybe, StrawberryOptional
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.field import StrawberryField

log = logging.getLogger("c360.server.executor")

DEFINITION = "strawberry-definition"  # where Strawberry keeps a GraphQL field's StrawberryField
PLAN_CACHE_SIZE = 512


# graphql-core's built-in scalars return values of exactly these classes unchanged (finite floats; an int
# out of 32-bit range is an error, so Int is left to the scalar).
UNCHANGED = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool, GraphQLFloat: float}
_ISOFORMAT = repr(operator.methodcaller("isoformat"))


def _isoformat_scalar(type_) -> bool:
    """A scalar that serialises with ``value.isoformat()`` (Strawberry's Date and DateTime): a value of
    class date or datetime is then that, whatever else the scalar would accept."""
    serialize = getattr(type_, "serialize", None)
    return isinstance(serialize, operator.methodcaller) and repr(serialize) == _ISOFORMAT


class Unsupported(Exception):
    """The operation uses something plans do not cover: graphql-core executes it."""


class Fallback(Exception):
    """At run time: graphql-core would report an error here (or do something plans do not cover)."""


# How a field's value is read: an attribute, Strawberry's resolver of a field without one, a resolver function
# called through Strawberry's wrapper (arguments converted, field extensions, exception handlers), the same
# function called directly (nothing for that wrapper to do: no arguments, extensions or handlers), __typename.
ATTR, CALL_DEFAULT, RESOLVE, DIRECT, TYPENAME = range(5)

Completer = Callable[[Any, Path | None, "Run"], Any]


class FieldPlan:
    __slots__ = ("args", "attr", "call", "complete", "enum_names", "field_def", "int32", "iso", "key", "kind", "node", "nodes",
                 "nullable", "parent_type", "path_needed", "resolve", "same", "value")

    def __init__(self, key: str, kind: int, parent_type: GraphQLObjectType) -> None:
        self.key = key
        self.kind = kind
        self.parent_type = parent_type
        self.attr: str | None = None
        self.resolve: Callable[..., Any] | None = None
        self.field_def = None
        self.node: FieldNode | None = None
        self.nodes: list[FieldNode] = []
        self.args: dict[str, Any] | None = {}  # None: computed per run (the arguments use variables)
        self.complete: Completer | None = None
        self.path_needed = False  # something below needs the response path (a resolver's info)
        self.value: Any = None  # TYPENAME: the type's name
        self.same: type = _Never  # a leaf whose values of this class are returned unchanged (see UNCHANGED)
        self.enum_names: dict[int, str] = {}  # an enum leaf: the GraphQL name of each member, by id (see _enum_names)
        self.iso = False  # a leaf serialised by isoformat(): a date or datetime is that (see _isoformat_scalar)
        self.int32 = False  # an Int leaf: an int in 32-bit range is the result as it is
        self.nullable = False
        # DIRECT: (function, pass source first, info parameter, source parameters, Info class, arguments) where
        # arguments are (GraphQL name, Python name, copy the list) of each argument
        self.call: tuple | None = None


class _Never:
    """No value is of this class."""


class Run:
    """The state of one execution of a plan."""

    __slots__ = ("build_info", "executor", "hide_suggestions", "is_awaitable", "pending", "variable_values")

    def __init__(self, executor: StrawberryGraphQLCoreExecutionContext) -> None:
        self.executor = executor
        self.build_info = executor.build_resolve_info
        self.variable_values = executor.variable_values
        self.hide_suggestions = executor.hide_suggestions
        self.is_awaitable = executor.is_awaitable
        # (awaitable, completer, container, key, path): resolver results still to await
        self.pending: list[tuple[Any, Completer, dict[str, Any], str, Path]] = []

    def discard(self) -> None:
        for awaitable, *_ in self.pending:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()  # never awaited: no "coroutine was never awaited" warning
        self.pending = []


# ---------------------------------------------------------------------------- running


def resolve_value(f: FieldPlan, source: Any, field_path: Path, run: Run) -> Any:
    """A field's value from its resolver (kinds DIRECT, CALL_DEFAULT, RESOLVE): what graphql-core's
    resolve_field would pass to completion, possibly awaitable."""
    kind = f.kind
    if kind == DIRECT:
        func, pass_source, info_name, source_names, info_class, arguments = f.call
        kwargs = {name: source for name in source_names}
        if arguments:
            args = f.args
            if args is None:
                args = get_argument_values(f.field_def, f.node, run.variable_values, None, run.hide_suggestions)
            for graphql_name, python_name, copy in arguments:
                if graphql_name in args:
                    value = args[graphql_name]
                    # a list is copied, as Strawberry does: graphql-core gives every request the same default
                    kwargs[python_name] = list(value) if copy and value is not None else value
        if info_name is not None:
            kwargs[info_name] = info_class(_raw_info=run.build_info(f.field_def, f.nodes, f.parent_type, field_path), _field=f.value)
        return func(source, **kwargs) if pass_source else func(**kwargs)
    if kind == CALL_DEFAULT:
        return f.resolve(source, None)
    info = run.build_info(f.field_def, f.nodes, f.parent_type, field_path)
    args = f.args
    if args is None:
        args = get_argument_values(f.field_def, f.node, run.variable_values, None, run.hide_suggestions)
    return f.resolve(source, info, **args)


FieldsRunner = Callable[[Any, Path | None, Run], dict[str, Any]]


def fields_runner(fields: tuple[FieldPlan, ...], type_name: str) -> FieldsRunner:
    """A function (source, path, run) -> the selection's result dict, generated for these fields.

    Straight-line Python, one block per field, with each field's constants (key, attribute, leaf class,
    enum names, completer) bound in: about half the cost per field of a loop that looks them up on the
    `FieldPlan` and dispatches on its kind, which matters for a profile's ~60 objects and ~250 fields.
    Per field, in order:

    * ATTR: read the attribute; a value of the leaf's unchanged class (a finite float; an Int's int in
      32-bit range), a null of a nullable field, or an enum member with a name is the result as it is; a
      date or datetime of a scalar serialised by isoformat() is its isoformat(); anything else goes to
      the field's completer (which also raises `Fallback` for a null of a non-null field);
    * TYPENAME: the type's name;
    * a resolver: `resolve_value`, then the completer, or - when the value is awaitable - a null that
      keeps the key's place and an entry in ``run.pending`` (appended once the dict exists, in field order).
    """
    env: dict[str, Any] = {"Path": Path, "resolve_value": resolve_value, "_date": date, "_datetime": datetime}
    body: list[str] = []
    later: list[str] = []
    awaits = False
    for i, f in enumerate(fields):
        key = repr(f.key)
        if f.kind == TYPENAME:
            body.append(f"    v{i} = {f.value!r}")
            continue
        env[f"c{i}"] = f.complete
        direct = getattr(f.complete, "direct", None)  # (class, runner) of an object type's values
        if direct is not None:
            env[f"o{i}"], env[f"r{i}"] = direct
        if f.kind != ATTR:
            awaits = True
            env[f"f{i}"] = f
            body += [
                f"    p{i} = Path(path, {key}, {type_name!r})",
                f"    v{i} = resolve_value(f{i}, source, p{i}, run)",
            ]
            if direct is not None:
                body += [f"    if v{i}.__class__ is o{i}:", f"        a{i}, v{i} = None, r{i}(v{i}, p{i}, run)", f"    elif is_awaitable(v{i}):"]
            else:
                body.append(f"    if is_awaitable(v{i}):")
            body += [
                f"        a{i}, v{i} = v{i}, None",
                "    else:",
                f"        a{i}, v{i} = None, c{i}(v{i}, p{i}, run)",
            ]
            later += [f"    if a{i} is not None:", f"        run.pending.append((a{i}, c{i}, out, {key}, p{i}))"]
            continue
        if not f.attr.isidentifier() or keyword.iskeyword(f.attr):  # not a Python attribute name Strawberry makes
            raise Unsupported(f"attribute {f.attr!r}")
        body.append(f"    v{i} = source.{f.attr}")
        path = f"Path(path, {key}, {type_name!r})" if f.path_needed else "None"
        slow = f"c{i}(v{i}, {path}, run)"
        if direct is not None:  # an object of its type's own class: its fields, without the completer's checks
            slow = f"r{i}(v{i}, {path}, run) if v{i}.__class__ is o{i} else {slow}"
        test = []
        if f.same is not _Never:
            env[f"s{i}"] = f.same
            test.append(f"v{i}.__class__ is s{i}" + (f" and v{i} - v{i} == 0.0" if f.same is float else ""))
        if f.int32:
            test.append(f"v{i}.__class__ is int and -2147483648 <= v{i} <= 2147483647")
        if f.nullable:
            test.append(f"v{i} is None")
        if f.iso:  # a date or datetime: its isoformat(), what the scalar's serialize gives, without the call into it
            body += [f"    if v{i}.__class__ is _date or v{i}.__class__ is _datetime:", f"        v{i} = v{i}.isoformat()"]
        if test:
            body.append(f"    {'el' if f.iso else ''}if not ({' or '.join(f'({t})' for t in test)}):")
            indent = "        "
        elif f.iso:
            body.append("    else:")
            indent = "        "
        else:
            indent = "    "
        if f.enum_names:
            env[f"n{i}"] = f.enum_names
            body += [f"{indent}n = n{i}.get(id(v{i}))", f"{indent}v{i} = {slow} if n is None else n"]
        else:
            body.append(f"{indent}v{i} = {slow}")
    head = ["def run(source, path, run):"] + (["    is_awaitable = run.is_awaitable"] if awaits else [])
    result = "{" + ", ".join(f"{f.key!r}: v{i}" for i, f in enumerate(fields)) + "}"
    tail = ([f"    out = {result}", *later, "    return out"] if later else [f"    return {result}"])
    source = "\n".join(head + body + tail) + "\n"
    exec(compile(source, f"<plan {type_name}>", "exec"), env)  # noqa: S102 - our own text, from validated names
    runner = env["run"]
    runner.source = source  # for reading a plan when debugging
    return runner


class Plan:
    def __init__(self, root_type: GraphQLObjectType, fields: tuple[FieldPlan, ...]):
        self.root_type = root_type
        self.fields = fields
        self.run_fields = fields_runner(fields, root_type.name)

    def execute(self, executor: StrawberryGraphQLCoreExecutionContext) -> Any:
        """The operation's data; None when graphql-core must execute it; or an awaitable of either."""
        run = Run(executor)
        try:
            data = self.run_fields(executor.root_value, None, run)
        except Exception:  # noqa: BLE001 - graphql-core runs it again and reports the error properly
            run.discard()
            return None
        if not run.pending:
            return data
        return self._settle(data, run)

    @staticmethod
    async def _settle(data: dict[str, Any], run: Run) -> dict[str, Any] | None:
        try:
            while run.pending:
                batch, run.pending = run.pending, []
                values = await asyncio.gather(*(p[0] for p in batch), return_exceptions=True)
                for (_, complete, container, key, path), value in zip(batch, values, strict=True):
                    if isinstance(value, BaseException):
                        raise Fallback from value
                    container[key] = complete(value, path, run)
        except Exception:  # noqa: BLE001
            run.discard()
            return None
        return data


# ---------------------------------------------------------------------------- compiling


def _uses_variables(value) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_uses_variables(v) for v in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_uses_variables(f.value) for f in value.fields)
    return False


_PLAIN_SCALARS = (str, int, float, bool, strawberry.ID, date, datetime, Decimal)


def _plain_leaf(type_) -> bool:
    """A type whose values Strawberry's argument conversion returns unchanged: a built-in scalar or an enum
    (graphql-core already gives the enum member), optional or not - never Maybe, GlobalID, input types."""
    if isinstance(type_, StrawberryMaybe):
        return False
    if isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    return type_ in _PLAIN_SCALARS or isinstance(type_, StrawberryEnumDefinition) or has_enum_definition(type_)


def plain_arguments(sfield: StrawberryField, field_def, config) -> tuple[tuple[str, str, bool], ...] | None:
    """(GraphQL name, Python name, is a list) of each argument when all are plain leaves or lists of them
    (what Strawberry's convert_arguments passes on as they are, a list copied); None otherwise."""
    out = []
    for argument in sfield.arguments:
        type_ = argument.type
        if isinstance(type_, StrawberryOptional) and not isinstance(type_, StrawberryMaybe):
            type_ = type_.of_type
        is_list = isinstance(type_, StrawberryList)
        if argument.directives or not argument.python_name or not _plain_leaf(type_.of_type if is_list else type_):
            return None
        out.append((config.name_converter.from_argument(argument), argument.python_name, is_list))
    if {name for name, _, _ in out} != set(field_def.args):
        return None
    return tuple(out)


def _check_selections(selection_set: SelectionSetNode | None, fragments: dict, seen: set[str]) -> None:
    """Refuse what collecting fields once per document would get wrong: directives and fragment arguments."""
    if selection_set is None:
        return
    for sel in selection_set.selections:
        if sel.directives:
            raise Unsupported("directives on selections")
        if isinstance(sel, FragmentSpreadNode):
            if getattr(sel, "arguments", None):
                raise Unsupported("fragment arguments")
            name = sel.name.value
            if name not in seen:
                seen.add(name)
                frag = fragments.get(name)
                if frag is None:
                    raise Unsupported(f"unknown fragment {name}")
                if frag.directives or getattr(frag, "variable_definitions", None):
                    raise Unsupported("fragment directives or variables")
                _check_selections(frag.selection_set, fragments, seen)
        elif isinstance(sel, (FieldNode, InlineFragmentNode)):
            _check_selections(sel.selection_set, fragments, seen)


def _enum_names(type_) -> dict[int, str]:
    """A Strawberry enum's members' GraphQL names, as its coerce_output_value gives them, by the member's id
    (members live as long as their class, so an id names one; a dict keyed by the members would call the
    Python-level ``Enum.__hash__`` per value).  A member it refuses is left out: at run time it goes the
    slow way, to the same error."""
    enum_class = getattr(type_, "wrapped_cls", None) if isinstance(type_, GraphQLEnumType) else None
    if not isinstance(enum_class, EnumMeta):
        return {}
    names = {}
    for member in enum_class:
        try:
            names[id(member)] = type_.coerce_output_value(member)
        except Exception:  # noqa: BLE001, S112
            continue
    return names


class Compiler:
    def __init__(self, executor: StrawberryGraphQLCoreExecutionContext):
        self.schema = executor.schema
        self.fragments = executor.fragments
        self.variable_values = executor.variable_values  # only @skip/@include would read them: refused above
        self.operation = executor.operation
        self.hide_suggestions = executor.hide_suggestions

    def compile(self) -> Plan:
        op = self.operation
        if op.directives:
            raise Unsupported("operation directives")
        _check_selections(op.selection_set, {n: d.definition for n, d in self.fragments.items()}, set())
        root_type = self.schema.get_root_type(op.operation)
        if root_type is None:
            raise Unsupported("no root type")
        collected = collect_fields(self.schema, self.fragments, self.variable_values, root_type, op, self.hide_suggestions)
        return Plan(root_type, self.fields(root_type, collected.grouped_field_set))

    def fields(self, parent_type: GraphQLObjectType, grouped: dict) -> tuple[FieldPlan, ...]:
        return tuple(self.field(parent_type, key, details) for key, details in grouped.items())

    def field(self, parent_type: GraphQLObjectType, key: str, details: list) -> FieldPlan:
        node: FieldNode = details[0].node
        name = node.name.value
        if name == "__typename":
            f = FieldPlan(key, TYPENAME, parent_type)
            f.value = parent_type.name
            return f
        if name.startswith("__"):
            raise Unsupported("introspection")
        field_def = parent_type.fields.get(name)
        if field_def is None or field_def.resolve is None:
            raise Unsupported(f"{parent_type.name}.{name} has no resolver function")
        resolve = field_def.resolve
        sfield = (field_def.extensions or {}).get(DEFINITION)
        if getattr(resolve, "_is_default", False):  # Strawberry's resolver of a field without one: no info, no arguments
            if isinstance(sfield, StrawberryField) and sfield.base_resolver is None and sfield.default_resolver is getattr:
                f = FieldPlan(key, ATTR, parent_type)
                f.attr = sfield.python_name
            else:
                f = FieldPlan(key, CALL_DEFAULT, parent_type)
        elif (call := self.direct_call(resolve, sfield, field_def, node)) is not None:
            f = FieldPlan(key, DIRECT, parent_type)
            f.call = call
            f.value = sfield
        else:
            f = FieldPlan(key, RESOLVE, parent_type)
        if f.kind in (DIRECT, RESOLVE) and (field_def.args or node.arguments):
            if any(_uses_variables(a.value) for a in node.arguments or ()):
                f.args = None
            else:
                f.args = get_argument_values(field_def, node, self.variable_values, None, self.hide_suggestions)
        f.resolve = resolve
        f.field_def = field_def
        f.node = node
        f.nodes = [d.node for d in details]
        f.complete, below = self.completer(field_def.type, details, (field_def, parent_type))
        f.path_needed = f.kind != ATTR or below
        f.nullable = not is_non_null_type(field_def.type)
        leaf = field_def.type.of_type if is_non_null_type(field_def.type) else field_def.type
        f.same = UNCHANGED.get(leaf, _Never) if is_leaf_type(leaf) else _Never
        f.enum_names = _enum_names(leaf)
        f.iso = is_leaf_type(leaf) and _isoformat_scalar(leaf)
        f.int32 = leaf is GraphQLInt
        return f

    def direct_call(self, resolve, sfield, field_def, node: FieldNode) -> tuple | None:
        """How to call a resolver function without Strawberry's wrapper, when the wrapper has nothing to do:
        Strawberry's own wrapper (not a custom resolve), no field extensions, no exception handlers in the
        schema, and arguments that Strawberry passes on as graphql-core coerced them (`plain_arguments`).
        It passes exactly what the wrapper would: the source as ``self`` or as the parent/root parameter, a
        Strawberry ``Info`` around graphql-core's resolve info, and the arguments by their Python names."""
        strawberry_schema = getattr(self.schema, "_strawberry_schema", None)
        if (strawberry_schema is None or getattr(strawberry_schema, "exception_handlers", ()) or not isinstance(sfield, StrawberryField)
                or sfield.base_resolver is None or sfield.extensions
                or not getattr(resolve, "__qualname__", "").startswith("GraphQLCoreConverter.from_resolver.")):
            return None
        arguments = plain_arguments(sfield, field_def, strawberry_schema.config)
        if arguments is None:
            return None
        resolver = sfield.base_resolver
        func = resolver.wrapped_func
        if not callable(func):
            return None
        info = resolver.info_parameter
        sources = tuple(p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p is not None)
        return (func, resolver.self_parameter is not None, None if info is None else info.name, sources, strawberry_schema.config.info_class,
                arguments)

    def completer(self, type_, details: list, owner: tuple) -> tuple[Completer, bool]:
        """How to complete a value of `type_`, and whether that needs the response path.

        `owner` is (field definition, parent type) of the field whose value this is: an
        object type's ``is_type_of`` gets that field's resolve info, as in graphql-core.
        """
        if is_non_null_type(type_):
            inner, needs_path = self.completer(type_.of_type, details, owner)

            def complete_non_null(value, path, run):
                out = inner(value, path, run)
                if out is None:
                    raise Fallback("null for a non-null field")
                return out

            complete_non_null.direct = getattr(inner, "direct", None)  # a value of the class is not null
            return complete_non_null, needs_path

        if is_list_type(type_):
            item, needs_path = self.completer(type_.of_type, details, owner)

            # items that are objects of their type's own class: their fields, without the item's completer
            cls, run_item = getattr(item, "direct", None) or (_Never, None)

            def complete_list(value, path, run):
                if value is None:
                    return None
                if type(value) is not list and type(value) is not tuple:
                    if isinstance(value, Exception) or not is_iterable(value) or run.executor.is_async_iterable(value):
                        raise Fallback("not a list")
                is_awaitable = run.is_awaitable
                out = []
                for i, v in enumerate(value):
                    if v.__class__ is cls:
                        out.append(run_item(v, Path(path, i, None) if needs_path else None, run))
                        continue
                    if is_awaitable(v):
                        raise Fallback("awaitable list item")
                    out.append(item(v, Path(path, i, None) if needs_path else None, run))
                return out

            return complete_list, needs_path

        if is_leaf_type(type_):
            coerce = type_.coerce_output_value
            same = UNCHANGED.get(type_)  # a class whose values the built-in scalar returns as they are
            is_int = type_ is GraphQLInt
            iso = _isoformat_scalar(type_)
            # a Strawberry enum: each member's name, as its coerce_output_value gives it (which searches the values)
            names = _enum_names(type_)

            def complete_leaf(value, path, run):
                if value is None:
                    return None
                cls = value.__class__
                if cls is same and (same is not float or value - value == 0.0):  # finite floats only
                    return value
                name = names.get(id(value))
                if name is not None:
                    return name
                if is_int and cls is int and -2147483648 <= value <= 2147483647:  # what GraphQLInt returns unchanged
                    return value
                if iso and (cls is date or cls is datetime):
                    return value.isoformat()
                if isinstance(value, Exception):
                    raise Fallback("an exception as a value")
                out = coerce(value)
                if out is None or out is Undefined:
                    raise Fallback("a value the type cannot serialise")
                return out

            return complete_leaf, False

        if is_object_type(type_):
            collected = collect_subfields(self.schema, self.fragments, self.variable_values, self.operation, type_, details,
                                          self.hide_suggestions)
            fields = self.fields(type_, collected.grouped_field_set)
            run_fields = fields_runner(fields, type_.name)
            is_type_of = type_.is_type_of
            if is_type_of is None:

                def complete_object(value, path, run):
                    if value is None:
                        return None
                    if isinstance(value, Exception):
                        raise Fallback("an exception as a value")
                    return run_fields(value, path, run)

                definition = (type_.extensions or {}).get("strawberry-definition")
                origin = getattr(definition, "origin", None)
                # values of the Strawberry type's own class need none of the checks above (never null, an
                # exception or awaitable: Strawberry types define no __await__)
                if isinstance(origin, type) and not hasattr(origin, "__await__"):
                    complete_object.direct = (origin, run_fields)
                return complete_object, any(f.path_needed for f in fields)

            field_def, parent_type = owner
            nodes = [d.node for d in details]

            def complete_checked_object(value, path, run):
                if value is None:
                    return None
                if isinstance(value, Exception):
                    raise Fallback("an exception as a value")
                if is_type_of(value, run.build_info(field_def, nodes, parent_type, path)) is not True:
                    raise Fallback("is_type_of refused the value (or is async)")
                return run_fields(value, path, run)

            return complete_checked_object, True

        raise Unsupported(f"abstract type {type_}")


# ---------------------------------------------------------------------------- the executor

_plans: OrderedDict[tuple, tuple[Any, Plan | None]] = OrderedDict()
_plans_lock = threading.Lock()  # execute_sync may run in worker threads


def plan_for(executor: StrawberryGraphQLCoreExecutionContext) -> Plan | None:
    """The operation's plan, compiled on first use; None when graphql-core must execute it."""
    op = executor.operation
    source = op.loc.source.body if op.loc is not None else None
    key = (id(executor.schema), source if source is not None else id(op), op.name.value if op.name else None)
    with _plans_lock:
        entry = _plans.get(key)
        if entry is not None and (source is not None or entry[0] is op):
            _plans.move_to_end(key)
            return entry[1]
    try:
        plan: Plan | None = Compiler(executor).compile()
    except Unsupported as exc:
        log.debug("graphql-core executes %s: %s", key[2] or "the operation", exc)
        plan = None
    except Exception:  # graphql-core internals changed?  Its own executor still works.
        log.warning("could not compile %s; graphql-core executes it", key[2] or "the operation", exc_info=True)
        plan = None
    with _plans_lock:
        _plans[key] = (op, plan)  # the operation is kept so its id is not reused while cached
        while len(_plans) > PLAN_CACHE_SIZE:
            _plans.popitem(last=False)
    return plan


class PlanExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, running a query operation's compiled plan first (see the module docstring)."""

    def plan(self) -> Plan | None:
        if self.operation.operation != OperationType.QUERY or self.abort_signal is not None:
            return None
        mm = self.middleware_manager
        if mm is not None and mm.middlewares:
            return None
        return plan_for(self)

    def execute_operation(self, serially: bool | None = None):
        plan = self.plan() if serially is None else None
        if plan is None:
            return super().execute_operation(serially)
        data = plan.execute(self)
        if data is None:
            return super().execute_operation(serially)
        if not isinstance(data, dict):  # an awaitable: resolvers returned awaitables
            return self._finish_async(data)
        return self.finish(self.build_response(data))

    async def _finish_async(self, pending):
        data = await pending
        if data is None:
            result = super().execute_operation()
            return await result if self.is_awaitable(result) else result
        return self.finish(self.build_response(data))

    def try_plan(self):
        """The data when the plan ran cleanly, else None (or an awaitable of either): for callers that
        handle the other cases with the whole Strawberry pipeline (the view's fast lane)."""
        plan = self.plan()
        return None if plan is None else plan.execute(self)
