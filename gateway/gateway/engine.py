"""The federated engine: validate a client operation, plan it (cached), execute, shape.

Results follow GraphQL over HTTP: a *request error* (the document does not parse or
validate, the operation is missing, variables do not coerce) is a result **without a
`data` key**, `{"errors": [...]}` with codes GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED
or BAD_USER_INPUT; `is_request_error(result)` says so. Anything that got as far as
execution has a `data` key, possibly null, with errors beside it.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    experimental_execute_incrementally,
    get_variable_values,
    parse,
    print_ast,
    validate,
)
from opentelemetry import trace
from opentelemetry.trace import TracerProvider
from servicekit.errors import ErrorCode

from gateway.authorization import Authorization, PolicyHook
from gateway.coldwork import ColdWork
from gateway.deadlines import Deadlines
from gateway.demand import COST_TOO_EXPENSIVE, DemandControl
from gateway.executor.run import Execution
from gateway.executor.shape import Shaper, ShapeSet
from gateway.metrics import GatewayMetrics
from gateway.overrides import OverrideLabels
from gateway.planner import Plan, PlanningError, QueryPlanner
from gateway.planner.operation import condition_variables, without_deferred
from gateway.supergraph import Supergraph
from gateway.tracing import spans_exported
from gateway.types import (
    DEFER_SPEC_20220824,
    JSON,
    GraphQLRequest,
    RequestContext,
    SubgraphTransport,
)
from gateway.variables import SimpleVariable, coerce_simple, simple_variables

__all__ = ["FederatedEngine", "is_request_error"]


_NOTHING_DENIED: frozenset[tuple[str, str]] = frozenset()
_NO_LABELS: frozenset[str] = frozenset()

# Operation text, operation name, `@skip`/`@include` variable values, denied coordinates,
# enabled override labels.
_PlanKey = tuple[str, str | None, tuple[bool, ...], frozenset[tuple[str, str]], frozenset[str]]


def is_request_error(result: Mapping[str, Any]) -> bool:
    """True when the result rejects the request itself (no execution happened)."""
    return "data" not in result


def _request_error(message: str, code: str) -> JSON:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


@dataclass(slots=True)
class _Document:
    """A parsed, validated client document (cached by its text)."""

    document: DocumentNode | None
    errors: JSON | None
    normalized: str = ""
    operations: dict[str | None, OperationDefinitionNode] = field(default_factory=dict)
    fragments: dict[str, FragmentDefinitionNode] = field(default_factory=dict)
    conditions: dict[str | None, tuple[str, ...]] = field(default_factory=dict)
    # Per operation name: its variables when they all take the fast coercion path.
    simple: dict[str | None, tuple[SimpleVariable, ...] | None] = field(default_factory=dict)


# A plan ready to run (with its variables and document), or the result that answers instead.
_Prepared = tuple[Plan, dict[str, Any], _Document] | JSON


class _CostMeter:
    """The actual cost of an incremental answer: each payload's data as it is sent.

    The first payload is measured with the whole operation's selections (a deferred
    field it lacks costs nothing there), each deferred object with its fragment's; a
    field both inside and outside a deferred fragment is sent, and counted, in both. The
    figures are recorded once the last payload is sent; a client that leaves before
    has its estimate recorded alone, as a refused operation's is.
    """

    def __init__(
        self, demand: DemandControl, metrics: GatewayMetrics, plan: Plan, estimated: int
    ) -> None:
        self._demand = demand
        self._metrics = metrics
        self._plan = plan
        self._estimated = estimated
        self._actual = 0

    def first(self, data: Any) -> None:
        plan = self._plan
        self._actual += self._demand.actual(plan.kind, plan.shape.type_name, plan.selections, data)

    def part(self, type_name: str, selections: Sequence[Any], data: Any) -> None:
        self._actual += self._demand.measured(type_name, selections, data)

    def done(self, finished: bool) -> None:
        self._metrics.observe_cost(self._estimated, self._actual if finished else None)


class FederatedEngine:
    """Implements `gateway.types.Engine` over a supergraph and a `SubgraphTransport`.

    `plan_cache_size` bounds both the parsed-document cache and the plan cache.
    `fetch_timeout` bounds each fetch of a transport that does not time its fetches out
    itself (`HttpTransport` does, with its own `timeout`). `metrics` records fetches and
    plan-cache look-ups (a private `GatewayMetrics` unless the composition root passes
    the gateway's); spans come from `tracer_provider` (none unless one is passed).
    `plan_cache_hits` and `plan_cache_misses` count plan look-ups.

    `execute` and `subscribe` never parse, validate or plan on the event loop: a cache
    miss runs in `cold_workers` threads (identical misses share one run), while a cache
    hit is answered on the loop at once.
    """

    def __init__(
        self,
        supergraph: Supergraph,
        transport: SubgraphTransport,
        *,
        plan_cache_size: int = 2048,
        fetch_timeout: float = 10.0,
        metrics: GatewayMetrics | None = None,
        tracer_provider: TracerProvider | None = None,
        hide_suggestions: bool = False,
        scope_claim: str = "scope",
        policy_hook: PolicyHook | None = None,
        max_directive_cost: int | None = None,
        list_size: int = 100,
        cold_workers: int = 2,
        override_labels: Iterable[str] = (),
        override_random: random.Random | None = None,
    ) -> None:
        self.supergraph = supergraph
        # `@authenticated` / `@requiresScopes` / `@policy`: the caller's grants come from
        # the verified token's claims (`ctx.claims`), scopes from `scope_claim`, policies
        # from `policy_hook` (none granted without one).
        self._authorization = Authorization.from_schema(supergraph.schema)
        self._scope_claim = scope_claim
        self._policy_hook = policy_hook
        # Demand control: costs are computed when the supergraph weighs anything with
        # `@cost`/`@listSize` or a maximum is set; over `max_directive_cost` is refused.
        self._demand = DemandControl(supergraph.schema, list_size=list_size)
        self._max_directive_cost = max_directive_cost
        self._costed = self._demand.weighted or max_directive_cost is not None
        # Progressive `@override`: the labels enabled per request (`override_labels` are
        # the feature flags switched on; `percent(N)` drawn from `override_random`).
        self._labels = OverrideLabels(
            supergraph.override_labels, enabled=override_labels, random=override_random
        )
        # "Did you mean …" names schema members: off whenever introspection is.
        self._hide_suggestions = hide_suggestions
        self._schema = supergraph.api_schema
        self._transport = transport
        # Fetches of a transport without its own timeout are bounded here.
        self._deadlines = (
            None if getattr(transport, "enforces_timeout", False) else Deadlines(fetch_timeout)
        )
        self._metrics = metrics if metrics is not None else GatewayMetrics()
        self._tracer_provider = (
            tracer_provider if tracer_provider is not None else trace.NoOpTracerProvider()
        )
        self._tracer = self._tracer_provider.get_tracer("gateway.engine")
        self._planner = QueryPlanner(supergraph)
        size = max(1, plan_cache_size)
        self._documents: LRUCache[str, _Document] = LRUCache(size)
        self._plans: LRUCache[_PlanKey, Plan | JSON] = LRUCache(size)
        self.plan_cache_hits = 0
        self.plan_cache_misses = 0
        self._cold = ColdWork(cold_workers)

    def _execution(
        self, plan: Plan, ctx: RequestContext, variables: Mapping[str, Any]
    ) -> Execution:
        return Execution(
            plan,
            self._transport,
            ctx,
            variables,
            self._deadlines,
            metrics=self._metrics,
            tracer=self._tracer,
            traced=spans_exported(self._tracer_provider),
        )

    async def execute(self, request: GraphQLRequest, ctx: RequestContext) -> JSON:
        """Run a query or mutation; see the module docstring for the result's shape."""
        denied = await self._denied(ctx) if self._authorization.rules else _NOTHING_DENIED
        prepared = self._prepare(request, subscription=False, denied=denied)
        if not isinstance(prepared, (dict, tuple)):
            prepared = await prepared
        if isinstance(prepared, dict):
            return prepared
        plan, variables, entry = prepared
        estimated = None
        if self._costed:
            estimated = self._demand.estimate(
                plan.kind, plan.shape.type_name, plan.selections, variables
            )
            limit = self._max_directive_cost
            if limit is not None and estimated > limit:
                self._metrics.observe_cost(estimated, None)
                return {
                    "errors": [
                        {
                            "message": f"Operation estimated cost {estimated} exceeds the "
                            f"maximum of {limit}.",
                            "extensions": {
                                "code": COST_TOO_EXPENSIVE,
                                "cost": {"estimated": estimated, "max": limit},
                            },
                        }
                    ]
                }
        execution = self._execution(plan, ctx, variables)
        await execution.run()
        if plan.deferred:  # asked without incremental delivery: every part, then one answer
            for part in plan.deferred:
                for step in part.steps:
                    await execution.run_step(step)
        if plan.introspection:
            self._introspect(entry, request, variables, execution.data)
        result = self._respond(plan, execution)
        if estimated is not None:
            actual = self._demand.actual(
                plan.kind, plan.shape.type_name, plan.selections, result.get("data")
            )
            self._metrics.observe_cost(estimated, actual)
        return result

    async def execute_incremental(
        self, request: GraphQLRequest, ctx: RequestContext, *, spec: str = DEFER_SPEC_20220824
    ) -> AsyncIterator[JSON] | JSON:
        """`execute` for a client taking incremental delivery: payloads when `@defer` is used.

        An operation without deferred fragments (or one refused) is answered by `execute`
        as one result; otherwise an iterator of payloads in the format `spec` names
        (`gateway.incremental`), its cost estimated, refused and measured as `execute`'s.
        """
        denied = await self._denied(ctx) if self._authorization.rules else _NOTHING_DENIED
        prepared = self._prepare(request, subscription=False, denied=denied)
        if not isinstance(prepared, (dict, tuple)):
            prepared = await prepared
        if isinstance(prepared, dict) or not (prepared[0].deferred or prepared[0].streams):
            return await self.execute(request, ctx)
        plan, variables, _ = prepared
        meter = None
        if self._costed:
            estimated = self._demand.estimate(
                plan.kind, plan.shape.type_name, plan.selections, variables
            )
            limit = self._max_directive_cost
            if limit is not None and estimated > limit:  # refused as `execute` refuses it
                return await self.execute(request, ctx)
            meter = _CostMeter(self._demand, self._metrics, plan, estimated)
        from gateway.incremental import payloads

        return payloads(plan, self._execution(plan, ctx, variables), spec=spec, meter=meter)

    async def subscribe(
        self, request: GraphQLRequest, ctx: RequestContext
    ) -> AsyncIterator[JSON] | JSON:
        """Start a subscription: an iterator of shaped events, or a result holding errors."""
        denied = await self._denied(ctx) if self._authorization.rules else _NOTHING_DENIED
        prepared = self._prepare(request, subscription=True, denied=denied)
        if not isinstance(prepared, (dict, tuple)):
            prepared = await prepared
        if isinstance(prepared, dict):
            return prepared
        plan, variables, _ = prepared
        if not plan.steps[0].roots:
            return _request_error(
                "A subscription must select one field of the Subscription type.",
                "GRAPHQL_VALIDATION_FAILED",
            )
        return self._events(plan, variables, ctx)

    def plan_for(
        self, request: GraphQLRequest, denied: frozenset[tuple[str, str]] = frozenset()
    ) -> Plan | JSON:
        """The plan an operation would run with (for tests and diagnostics)."""
        prepared = self._prepare_here(request, subscription=None, denied=denied)
        return prepared if isinstance(prepared, dict) else prepared[0]

    def estimated_cost(self, request: GraphQLRequest) -> int | JSON:
        """The `@cost`/`@listSize` estimate of an operation (for tests and diagnostics)."""
        prepared = self._prepare_here(request, subscription=None, denied=frozenset())
        if isinstance(prepared, dict):
            return prepared
        plan, variables, _ = prepared
        return self._demand.estimate(plan.kind, plan.shape.type_name, plan.selections, variables)

    async def _events(
        self, plan: Plan, variables: Mapping[str, Any], ctx: RequestContext
    ) -> AsyncIterator[JSON]:
        step = plan.steps[0]
        root = step.roots[0]
        used = {name: variables[name] for name in root.variable_names if name in variables}
        source = self._transport.subscribe(root.graph, plan.root_document(root), used, ctx)
        try:
            async for payload in source:
                execution = self._execution(plan, ctx, variables)
                execution.absorb_root(root, payload)
                await execution.run_waves(step)
                yield self._respond(plan, execution)
        finally:
            close = getattr(source, "aclose", None)
            if close is not None:
                await close()

    # Preparing an operation ------------------------------------------------------------------

    async def _denied(self, ctx: RequestContext) -> frozenset[tuple[str, str]]:
        """The coordinates this caller may not see (asked only when the supergraph guards any)."""
        authorization = self._authorization
        grants = await authorization.grants(
            ctx.claims, scope_claim=self._scope_claim, policy_hook=self._policy_hook
        )
        return authorization.denied(grants)

    def _prepare(
        self,
        request: GraphQLRequest,
        *,
        subscription: bool | None,
        denied: frozenset[tuple[str, str]],
    ) -> _Prepared | Awaitable[_Prepared]:
        """`_prepare_here` from the caches, or what to await while the work runs off the loop.

        A plain function, not a coroutine, so that a cache hit costs no coroutine.
        """
        query = request.query
        entry = self._documents.get(query)
        if entry is None:
            return self._cold_document(request, subscription=subscription, denied=denied)
        selected = self._select(entry, request, subscription, denied)
        if isinstance(selected, dict):
            return selected
        operation, variables, key = selected
        plan = self._cached_plan(key)
        if plan is None:
            return self._cold_plan(entry, operation, variables, key)
        if isinstance(plan, dict):
            return plan
        return plan, variables, entry

    async def _cold_document(
        self,
        request: GraphQLRequest,
        *,
        subscription: bool | None,
        denied: frozenset[tuple[str, str]],
    ) -> _Prepared:
        """Parse and validate in a worker, cache on the loop, then prepare as usual."""
        query = request.query
        self._documents[query] = await self._cold.run(
            ("document", query), self._build_document, query
        )
        prepared = self._prepare(request, subscription=subscription, denied=denied)
        return prepared if isinstance(prepared, (dict, tuple)) else await prepared

    async def _cold_plan(
        self,
        entry: _Document,
        operation: OperationDefinitionNode,
        variables: dict[str, Any],
        key: _PlanKey,
    ) -> _Prepared:
        """Plan in a worker (or join the run of the same key), cache on the loop."""
        plan = await self._cold.run(
            ("plan", key), self._build_plan, entry, operation, variables, key[3], key[4]
        )
        self._plans[key] = plan
        if isinstance(plan, dict):
            return plan
        return plan, variables, entry

    def _prepare_here(
        self,
        request: GraphQLRequest,
        *,
        subscription: bool | None,
        denied: frozenset[tuple[str, str]],
    ) -> _Prepared:
        """Validate, select the operation, coerce its variables and plan it (cached).

        All of it on the calling thread: for `plan_for` and `estimated_cost`, which serve
        tests and diagnostics, never a client on the loop.
        """
        query = request.query
        entry = self._documents.get(query)
        if entry is None:
            entry = self._documents[query] = self._build_document(query)
        selected = self._select(entry, request, subscription, denied)
        if isinstance(selected, dict):
            return selected
        operation, variables, key = selected
        plan = self._cached_plan(key)
        if plan is None:
            plan = self._build_plan(entry, operation, variables, denied, key[4])
            self._plans[key] = plan
        if isinstance(plan, dict):
            return plan
        return plan, variables, entry

    def _select(
        self,
        entry: _Document,
        request: GraphQLRequest,
        subscription: bool | None,
        denied: frozenset[tuple[str, str]],
    ) -> tuple[OperationDefinitionNode, dict[str, Any], _PlanKey] | JSON:
        """The operation the request names, its coerced variables and its plan's cache key.

        Or the request error that stops it there.
        """
        if entry.errors is not None:
            return entry.errors
        operation = entry.operations.get(request.operation_name)
        if operation is None:
            if request.operation_name is None:
                return _request_error(
                    "Must provide operation name if query contains multiple operations.",
                    "GRAPHQL_VALIDATION_FAILED",
                )
            return _request_error(
                f'Unknown operation named "{request.operation_name}".',
                "GRAPHQL_VALIDATION_FAILED",
            )
        is_subscription = operation.operation == OperationType.SUBSCRIPTION
        if subscription is not None and is_subscription != subscription:
            return _request_error(
                "Subscriptions are started with subscribe, not execute."
                if is_subscription
                else "Only subscription operations can be subscribed to.",
                "GRAPHQL_VALIDATION_FAILED",
            )
        variables: dict[str, Any] = {}
        definitions = operation.variable_definitions
        fast = None
        if definitions:
            name = request.operation_name
            if name in entry.simple:
                spec = entry.simple[name]
            else:
                spec = entry.simple[name] = simple_variables(self._schema, definitions)
            if spec is not None:
                fast = coerce_simple(spec, request.variables or {})
        if fast is not None:
            variables = fast
        elif definitions:
            coerced = get_variable_values(
                self._schema,
                definitions,
                dict(request.variables or {}),
                hide_suggestions=self._hide_suggestions,
            )
            if isinstance(coerced, list):
                return {
                    "errors": [
                        {
                            "message": error.message,
                            "extensions": {"code": ErrorCode.BAD_USER_INPUT.value},
                        }
                        for error in coerced
                    ]
                }
            variables = coerced.coerced
        # What selects a plan: its text, its name, `@skip`/`@include` values, what is denied.
        key = (
            entry.normalized,
            request.operation_name,
            tuple(variables.get(v) is True for v in entry.conditions[request.operation_name]),
            denied,
            self._labels.decide() if self._labels.active else _NO_LABELS,
        )
        return operation, variables, key

    def _build_document(self, query: str) -> _Document:
        """Parse, validate and index a document: pure, so it may run in a worker thread."""
        try:
            document = parse(query)
        except GraphQLError as error:
            return _Document(None, _request_error(error.message, "GRAPHQL_PARSE_FAILED"))
        errors = validate(self._schema, document, hide_suggestions=self._hide_suggestions)
        if errors:
            return _Document(
                None,
                {
                    "errors": [
                        {
                            "message": error.message,
                            "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
                        }
                        for error in errors
                    ]
                },
            )
        return self._index(document)

    @staticmethod
    def _index(document: DocumentNode) -> _Document:
        entry = _Document(document, None, normalized=print_ast(document))
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        for operation in operations:
            entry.operations[operation.name.value if operation.name else None] = operation
        if len(operations) == 1:
            entry.operations[None] = operations[0]
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                entry.fragments[definition.name.value] = definition
        for name, operation in entry.operations.items():
            entry.conditions[name] = condition_variables(operation, entry.fragments)
        return entry

    def _cached_plan(self, key: _PlanKey) -> Plan | JSON | None:
        cached = self._plans.get(key)
        if cached is not None:
            self.plan_cache_hits += 1
            self._metrics.record_plan_cache(True)
            return cached
        self.plan_cache_misses += 1
        self._metrics.record_plan_cache(False)
        return None

    def _build_plan(
        self,
        entry: _Document,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
        denied: frozenset[tuple[str, str]],
        labels: frozenset[str] = _NO_LABELS,
    ) -> Plan | JSON:
        """Plan an operation and shape its result: pure, so it may run in a worker thread."""
        try:
            with self._tracer.start_as_current_span("gateway.plan"):
                plan = self._planner.plan(
                    operation, entry.fragments, variables, denied, labels=labels
                )
        except PlanningError as error:
            return {
                "data": None,
                "errors": [
                    {
                        "message": f"Query planning failed: {error}",
                        "extensions": {"code": "QUERY_PLANNING_FAILED", "reason": error.code},
                    }
                ],
            }
        root = self._schema.get_root_type(operation.operation)
        assert root is not None  # validation guarantees the root type exists
        plan.shape = ShapeSet(self._schema, root.name, plan.selections, denied)
        if plan.deferred or plan.streams:
            plan.primary_shape = ShapeSet(
                self._schema, root.name, without_deferred(plan.selections), denied
            )
            for part in plan.deferred:
                part.shape = ShapeSet(self._schema, part.type_name, part.selections, denied)
        return plan

    def _introspect(
        self,
        entry: _Document,
        request: GraphQLRequest,
        variables: Mapping[str, Any],
        data: dict[str, Any],
    ) -> None:
        assert entry.document is not None
        # The incremental form: the API schema declares `@defer`/`@stream`, which
        # graphql-core executes only there; introspection is answered whole all the same.
        result = experimental_execute_incrementally(
            self._schema,
            entry.document,
            root_value={},
            variable_values=dict(variables),
            operation_name=request.operation_name,
        )
        result = getattr(result, "initial_result", result)
        found = getattr(result, "data", None) or {}
        for key, value in found.items():
            if value is not None and key not in data:
                data[key] = value

    @staticmethod
    def _respond(plan: Plan, execution: Execution) -> JSON:
        errors = execution.errors
        data = Shaper(errors).root(plan.shape, execution.data)
        if errors:
            return {"data": data, "errors": errors}
        return {"data": data}
