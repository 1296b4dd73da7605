"""What every subgraph shares: the request context, error codes, and the ASGI app.

The context knows the caller lazily: the bearer token (from the `Authorization` header, or
the `connection_init` payload on a WebSocket) is verified the first time a resolver asks,
so public fields work for anonymous callers and an invalid token fails only where identity
matters. Errors leave with `extensions.code`; anything unexpected is masked.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
import psycopg
import strawberry
from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    execute,
    parse,
)
from graphql import ExecutionResult as CoreResult
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.dataloader import DataLoader
from strawberry.exceptions import MissingQueryError
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache
from strawberry.federation.schema import FederationAny
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import validate_document
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.graphql import OperationType
from strawberry.utils.await_maybe import await_maybe
from strawberry.utils.inspect import get_func_args

from servicekit.access import current_access_token
from servicekit.auth import (
    JwtVerifier,
    Principal,
    Role,
    bearer_token,
    current_principal,
    require_principal,
)
from servicekit.errors import BadUserInput, ErrorCode, ServiceError, Unavailable
from servicekit.execution import (
    DocumentPlans,
    LeanExecutor,
    call_scalar_argument_resolvers_directly,
    call_self_only_methods_directly,
    read_basic_fields_directly,
)

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")

_UNSET: Any = object()


@dataclass
class Context:
    """`info.context` in every resolver."""

    request: Request | WebSocket
    verifier: JwtVerifier | None
    services: Any = None
    connection_params: dict[str, Any] | None = None
    loaders: dict[str, DataLoader[Any, Any]] = field(default_factory=dict)
    # The `Authorization` header when the HTTP layer already read it off the request.
    authorization: Any = _UNSET
    _principal: Any = _UNSET

    def _authorization(self) -> str | None:
        if self.authorization is not _UNSET:
            header: str | None = self.authorization
            return header
        if isinstance(self.connection_params, dict):
            value = self.connection_params.get("Authorization") or self.connection_params.get(
                "authorization"
            )
            if value:
                return str(value)
        return self.request.headers.get("authorization")

    async def principal(self) -> Principal | None:
        """The caller, or None when anonymous; an invalid token raises UNAUTHENTICATED."""
        if self._principal is _UNSET:
            if self.verifier is None:
                self._principal = None
            else:
                self._principal = await self.verifier.principal_from_header(self._authorization())
            current_principal.set(self._principal)
            # Internal calls made while serving this user carry the user's own token.
            if self._principal is not None:
                current_access_token.set(bearer_token(self._authorization()))
        principal: Principal | None = self._principal
        return principal

    async def user(self, *roles: Role) -> Principal:
        """The authenticated caller, optionally required to hold one of `roles` (ADMIN always may)."""
        who = require_principal(await self.principal())
        if roles:
            who.require_role(*roles)
        return who

    def loader(self, name: str, factory: Callable[[], DataLoader[K, V]]) -> DataLoader[K, V]:
        """A per-request DataLoader, so a batch of references costs one query."""
        if name not in self.loaders:
            self.loaders[name] = factory()
        return self.loaders[name]


def _refused_input_or_outage(original: BaseException) -> ServiceError | None:
    """The last line of defence, for what no validator caught: a value PostgreSQL refused
    (SQLSTATE class 22, data exception: NUL bytes, numbers out of range), an instant that
    overflows, are the caller's input; a database or peer that cannot be reached is an
    outage. Neither is an INTERNAL_SERVER_ERROR."""
    if isinstance(original, OverflowError):
        return BadUserInput("a value is outside the supported range")
    if isinstance(original, DBAPIError):
        state = getattr(original.orig, "sqlstate", None) or ""
        if isinstance(original, DataError) or state.startswith("22"):
            return BadUserInput("a value cannot be stored (out of range or not allowed)")
        if original.connection_invalidated or (
            isinstance(original.orig, (psycopg.OperationalError, psycopg.InterfaceError))
            and not state.startswith(("42", "23"))
        ):
            return Unavailable("the service is temporarily unavailable; try again")
    if isinstance(original, PoolTimeout):  # every pooled connection busy: shed, don't queue
        return Unavailable("the service is overloaded; try again shortly")
    if isinstance(original, (ConnectionError, TimeoutError)):
        return Unavailable("the service is temporarily unavailable; try again")
    return None


def _coded(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, ServiceError):
        return GraphQLError(
            original.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=original.extensions(),
        )
    if original is None:
        if error.extensions and "code" in error.extensions:
            return error
        # Parse and validation errors: the document is wrong.
        return GraphQLError(
            error.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
        )
    if isinstance(original, GraphQLError) or (
        isinstance(original, (ValueError, TypeError)) and error.path is None
    ):
        # Input the schema cannot accept: variable coercion before execution (no path) or
        # an argument's value, e.g. null for a non-null argument with a default (a path).
        return GraphQLError(
            error.message,
            nodes=error.nodes,
            positions=error.positions,
            path=error.path,
            extensions={"code": ErrorCode.BAD_USER_INPUT.value},
        )
    refused = _refused_input_or_outage(original)
    if refused is not None:
        log.warning(
            "%s at %s: %s",
            refused.code.value,
            error.path,
            str(getattr(original, "orig", original))[:200],
        )
        return GraphQLError(
            refused.message,
            nodes=error.nodes,
            positions=error.positions,
            path=error.path,
            extensions=refused.extensions(),
        )
    log.error("unexpected error at %s", error.path, exc_info=original)
    return GraphQLError(
        "Internal server error",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": ErrorCode.INTERNAL_SERVER_ERROR.value},
    )


class ErrorCodes(SchemaExtension):
    """Gives every error an `extensions.code` and hides unexpected ones."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [_coded(e) for e in errors]

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """The same for each result a subscription streams (graphql-transport-ws `next`)."""
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [_coded(e) for e in errors]
        yield


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """A query text parsed and validated once against one schema: the document and its
    operations by name, or the errors that refuse it (a refused text stays refused)."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...]
    operations: dict[str | None, OperationType]
    # What its operations compile to, for every request that runs them.
    plans: DocumentPlans = field(default_factory=DocumentPlans)

    def operation_type(self, name: str | None) -> OperationType:
        """The type of the operation `name` selects (or the only one), as graphql-core
        chooses it; CannotGetOperationTypeError when none or several match."""
        if name is None:
            if len(self.operations) == 1:
                return next(iter(self.operations.values()))
            raise CannotGetOperationTypeError(name)
        try:
            return self.operations[name]
        except KeyError:
            raise CannotGetOperationTypeError(name) from None


class DocumentCache:
    """Parsed and validated documents by query text, least recently used dropped first.

    The gateway sends the same few documents over and over; parsing and validating one
    costs more than executing it. One cache belongs to one schema, so a document is only
    ever reused against the schema it validated against."""

    def __init__(self, schema: SubgraphSchema, maxsize: int) -> None:
        self._schema = schema
        self._maxsize = maxsize
        self._documents: OrderedDict[str, PreparedDocument] = OrderedDict()

    def __len__(self) -> int:
        return len(self._documents)

    def get(self, query: str) -> PreparedDocument:
        prepared = self._documents.get(query)
        if prepared is not None:
            self._documents.move_to_end(query)
            return prepared
        prepared = self._prepare(query)
        self._documents[query] = prepared
        if len(self._documents) > self._maxsize:
            self._documents.popitem(last=False)
        return prepared

    def _prepare(self, query: str) -> PreparedDocument:
        try:
            document = parse(query)
        except GraphQLError as error:
            return PreparedDocument(None, (error,), {})
        errors = validate_document(self._schema._schema, document, self._schema.validation_rules)
        operations = {
            (d.name.value if d.name else None): OperationType(d.operation.value)
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
        }
        return PreparedDocument(document, tuple(errors), operations)


class SubgraphSchema(strawberry.federation.Schema):
    """A subgraph's schema: coded errors, parse and validation caches (the gateway sends the
    same few documents over and over), and only unexpected errors logged — a CONFLICT or a
    FORBIDDEN is an answer, not a failure.

    Queries and mutations run on a lean path straight into graphql-core: the document from
    the `DocumentCache`, no extension runner (its hooks cost more per request than a lookup
    by id), errors coded once at the end. Subscriptions keep strawberry's path, where the
    `ErrorCodes` extension codes each streamed result."""

    def __init__(
        self,
        *,
        query: type,
        mutation: type | None = None,
        subscription: type | None = None,
        types: Sequence[type] = (),
        cache_size: int = 512,
    ) -> None:
        super().__init__(
            query=query,
            mutation=mutation,
            subscription=subscription,
            types=list(types),
            extensions=[
                ErrorCodes,
                lambda: ParserCache(maxsize=cache_size),
                lambda: ValidationCache(maxsize=cache_size),
            ],
        )
        self.validation_rules: tuple[Any, ...] = ExecutionContext(
            query=None, schema=self, allowed_operations=()
        ).validation_rules
        self.documents = DocumentCache(self, cache_size)
        self.execution_context_class = LeanExecutor
        read_basic_fields_directly(self)
        call_self_only_methods_directly(self)
        call_scalar_argument_resolvers_directly(self)
        # What the lean path does not do; such a schema keeps strawberry's own path.
        self._lean = not self.directives and not (
            self.config.enable_experimental_incremental_execution
        )

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        if not self._lean:
            return await super().execute(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                allowed_operation_types,
                operation_extensions,
            )
        if not query:
            raise MissingQueryError
        prepared = self.documents.get(query)
        if prepared.document is None:  # a syntax error: no operation to check
            return self._answer(None, list(prepared.errors))
        operation_type = prepared.operation_type(operation_name)
        allowed = (
            allowed_operation_types
            if allowed_operation_types is not None
            else (OperationType.QUERY, OperationType.MUTATION)
        )
        if operation_type not in allowed:
            raise InvalidOperationTypeError(operation_type)
        if prepared.errors:
            return self._answer(None, list(prepared.errors))
        if operation_type is OperationType.SUBSCRIPTION:
            return await super().execute(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                allowed_operation_types,
                operation_extensions,
            )
        try:
            result: CoreResult = await await_maybe(
                execute(
                    self._schema,
                    prepared.document,
                    root_value=root_value,
                    variable_values=variable_values,
                    operation_name=operation_name,
                    context_value=context_value,
                    is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
                    executor_class=self.execution_context_class,
                    operation_extensions=operation_extensions,
                    plans=prepared.plans,
                )
            )
        except Exception as error:
            return self._answer(None, [GraphQLError(str(error), original_error=error)])
        return self._answer(result.data, result.errors)

    def entities_resolver(  # strawberry reads these annotations (`return` it sets itself)
        self, info: strawberry.Info, representations: list[FederationAny]
    ) -> list[Any]:
        """`_entities` as strawberry resolves it, with each type's `resolve_reference` and
        whether it takes `info` looked up once per type rather than by signature inspection
        per representation (a tenth of a lookup's CPU for ten references). A representation
        strawberry would convert as an input type, or one it cannot type, sends the whole
        list to strawberry's own resolver, untouched."""
        batch = self._batch_of(info, representations)
        if batch is not None:
            return batch  # type: ignore[no-any-return]
        plan: list[tuple[Callable[..., Any], bool]] = []
        for representation in representations:
            reference = self._reference_of(representation)
            if reference is None:
                return super().entities_resolver(info, representations)  # type: ignore[no-any-return]
            plan.append(reference)
        results: list[Any] = []
        for representation, (resolve_reference, takes_info) in zip(
            representations, plan, strict=True
        ):
            representation.pop("__typename")  # type: ignore[attr-defined]
            if takes_info:
                representation["info"] = info  # type: ignore[index]
            try:
                result = resolve_reference(**representation)  # type: ignore[arg-type]
            except Exception as error:  # an entity's error stays its item's, as in strawberry
                result = error
            results.append(result)
        return results

    def _batch_of(self, info: strawberry.Info, representations: list[Any]) -> Any | None:
        """One awaitable for every representation when all name one type that declares
        `resolve_references(info, references)` and each carries exactly the keyword
        arguments of its `resolve_reference` (what it would be called with): the batch
        resolves to the entities in order, so no coroutine or task is made per item. A
        failed batch is every item's error, as when each item awaited one failed load;
        anything else goes item by item."""
        if not representations:
            return None
        first = representations[0]
        name = first.get("__typename") if type(first) is dict else None
        if type(name) is not str:
            return None
        batches: dict[str, tuple[Callable[..., Any], frozenset[str]] | None] = (
            self.__dict__.setdefault("_batches", {})
        )
        if name not in batches:
            batches[name] = self._declared_batch(name)
        declared = batches[name]
        if declared is None:
            return None
        resolve_references, keys = declared
        for representation in representations:
            if (
                type(representation) is not dict
                or representation.keys() != keys
                or representation["__typename"] != name
            ):
                return None
        for representation in representations:  # as strawberry hands them on
            del representation["__typename"]
        return _resolve_batch(resolve_references, info, representations)

    def _declared_batch(self, name: str) -> tuple[Callable[..., Any], frozenset[str]] | None:
        """A type's `resolve_references` and the keys of a representation it takes: the
        argument names of its `resolve_reference` (without `info`) and `__typename`; None
        when it declares no batch or takes `*args` or `**kwargs`."""
        concrete = self.schema_converter.type_map.get(name)
        definition = getattr(concrete, "definition", None)
        if not isinstance(definition, StrawberryObjectDefinition):
            return None
        resolve_references = getattr(definition.origin, "resolve_references", None)
        resolve_reference = getattr(definition.origin, "resolve_reference", None)
        if resolve_references is None or resolve_reference is None:
            return None
        parameters = inspect.signature(resolve_reference).parameters.values()
        if any(p.kind not in _KEYWORD_ABLE for p in parameters):
            return None
        names = {p.name for p in parameters if p.name != "info"}
        return resolve_references, frozenset({*names, "__typename"})

    def _reference_of(self, representation: Any) -> tuple[Callable[..., Any], bool] | None:
        if not isinstance(representation, dict):
            return None
        name = representation.get("__typename")
        if not isinstance(name, str):
            return None
        references: dict[str, tuple[Callable[..., Any], bool] | None] = self.__dict__.setdefault(
            "_references", {}
        )
        if name not in references:
            concrete = self.schema_converter.type_map.get(name)
            definition = getattr(concrete, "definition", None)
            resolve_reference = (
                getattr(definition.origin, "resolve_reference", None)
                if isinstance(definition, StrawberryObjectDefinition)
                else None
            )
            references[name] = (
                (resolve_reference, "info" in get_func_args(resolve_reference))
                if resolve_reference is not None
                else None
            )
        return references[name]

    def _answer(self, data: Any, errors: list[GraphQLError] | None) -> ExecutionResult:
        """The result with its errors logged (only unexpected ones) and coded."""
        if errors:
            self._process_errors(errors)
            return ExecutionResult(data=data, errors=[_coded(e) for e in errors])
        return ExecutionResult(data=data, errors=None)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = [
            e
            for e in errors
            if not isinstance(e.original_error, ServiceError)
            and (e.original_error is None or _refused_input_or_outage(e.original_error) is None)
        ]
        if unexpected:
            super().process_errors(unexpected, execution_context)


_KEYWORD_ABLE = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


async def _resolve_batch(
    resolve_references: Callable[..., Awaitable[Sequence[Any]]],
    info: strawberry.Info,
    references: list[dict[str, Any]],
) -> list[Any]:
    """The entities of `references` in order; the batch's error as each item's."""
    try:
        found = await resolve_references(info, references)
    except Exception as error:
        return [error] * len(references)
    if len(found) != len(references):
        raise ValueError(
            f"resolve_references gave {len(found)} entities for {len(references)} references"
        )
    return list(found)


E = TypeVar("E")
R = TypeVar("R")


async def references_by_id(
    references: Sequence[Mapping[str, Any]],
    read: Callable[[list[uuid.UUID]], Awaitable[Mapping[uuid.UUID, E]]],
    build: Callable[[E], R],
) -> list[R | Exception | None]:
    """A `resolve_references` of an entity keyed by a UUID `id`, for the services' types:
    a reference whose id is no UUID is null (as its `resolve_reference` answers), the others
    are read by one `read` of their ids and built in order; a failed read is each of their
    errors, as each item's failed load was."""
    keys: list[uuid.UUID | None] = []
    for reference in references:
        try:
            keys.append(uuid.UUID(str(reference["id"])))
        except ValueError:
            keys.append(None)
    wanted = [key for key in keys if key is not None]
    if not wanted:
        return [None] * len(keys)
    try:
        found = await read(wanted)
    except Exception as error:
        return [None if key is None else error for key in keys]
    return [None if key is None or (hit := found.get(key)) is None else build(hit) for key in keys]


# JSON with an integer literal of 19 digits or more: orjson reads integers past 64 bits as
# floats, the json module exactly, so such a body is read by the json module.
_LONG_NUMBER = re.compile(rb"[0-9]{19}")
_POST_ONLY = frozenset({OperationType.QUERY, OperationType.MUTATION})
_JSON_RESPONSE = b"application/json"


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for a request whose body was already read: the body once, then `receive`."""
    pending = True

    async def again() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def _decoded(body: bytes) -> Any:
    """The request's JSON as the json module reads it (strawberry's own decoder), by orjson
    where that gives the same value; _UNSET where the json module must say what is wrong."""
    try:
        if _LONG_NUMBER.search(body) is None:
            return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass  # NaN, Infinity, lone surrogates, a BOM: what json accepts or refuses itself
    try:
        return json.loads(body)
    except ValueError:
        return _UNSET


def _encoded(data: Any) -> bytes:
    """`data` as JSON bytes by orjson, or by the json module for what orjson cannot write
    (an integer past 64 bits, from a JSON scalar), in the same compact form."""
    try:
        return orjson.dumps(data)
    except TypeError:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


class SubgraphApp(GraphQL[Context, None]):
    """The strawberry ASGI app of a subgraph, with our context.

    A `POST` of one JSON operation (what the gateway sends, every time) takes a short way:
    the body read off the ASGI messages and decoded by orjson, the context built with the
    `Authorization` header already found, the schema executed, the answer sent as orjson's
    bytes. That is strawberry's own sequence for such a request without its request
    adapter, content negotiation, sub-response and response objects. Anything else (GET,
    the IDE, WebSockets, batches, multipart, streaming `Accept`, a body strawberry refuses
    or an operation it answers with 400) goes through strawberry, the body replayed, so
    every such answer is strawberry's."""

    def __init__(
        self,
        schema: strawberry.federation.Schema,
        *,
        verifier: JwtVerifier | None,
        services: Any = None,
        graphql_ide: bool = True,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphql_ide else None,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        )
        self.verifier = verifier
        self.services = services
        # Incremental delivery answers in parts, which only strawberry's path sends; a
        # subclass's own context or root value is built only by strawberry's path.
        self._short = (
            not schema.config.enable_experimental_incremental_execution
            and type(self).get_context is SubgraphApp.get_context
            and type(self).get_root_value is GraphQL.get_root_value
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._short and scope["type"] == "http" and scope["method"] == "POST":
            await self._post(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def _post(self, scope: Scope, receive: Receive, send: Send) -> None:
        json_body, authorization = False, None
        for name, value in scope["headers"]:
            if name == b"content-type":
                json_body = value[:16].lower() == b"application/json"
            elif name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"accept" and (b"multipart/" in value or b"event-stream" in value):
                json_body = False  # a streaming transport: strawberry's
                break
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before its request was whole
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        data = _decoded(body) if json_body else _UNSET
        operation = self._operation(data)
        if operation is None:
            await super().__call__(scope, _replay(body, receive), send)
            return
        query, variables, operation_name, extensions = operation
        request = Request(scope, _replay(body, receive))
        context = Context(
            request=request,
            verifier=self.verifier,
            services=self.services,
            authorization=authorization,
        )
        try:
            result = await self.schema.execute(
                query,
                variable_values=variables,
                context_value=context,
                root_value=None,
                operation_name=operation_name,
                allowed_operation_types=_POST_ONLY,
                operation_extensions=extensions,
            )
        except (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError):
            # Refused before anything ran: strawberry's 400 and its words.
            await super().__call__(scope, _replay(body, receive), send)
            return
        answer = _encoded(await self.process_result(request, result))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(answer)).encode()),
                    (b"content-type", _JSON_RESPONSE),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    @staticmethod
    def _operation(
        data: Any,
    ) -> tuple[str, dict[str, Any] | None, str | None, dict[str, Any] | None] | None:
        """(query, variables, operationName, extensions) of one operation whose parts
        strawberry accepts as they are; None for anything else."""
        if type(data) is not dict:
            return None
        query, variables = data.get("query"), data.get("variables")
        name, extensions = data.get("operationName"), data.get("extensions")
        if (
            type(query) is not str
            or (variables is not None and type(variables) is not dict)
            or (name is not None and type(name) is not str)
            or (extensions is not None and type(extensions) is not dict)
        ):
            return None
        return query, variables, name, extensions

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(request=request, verifier=self.verifier, services=self.services)

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        """strawberry's response, with the body as orjson's bytes: no decode to a string and
        encode back per answer (the same bytes as `encode_json` gives, as UTF-8)."""
        response = Response(_encoded(response_data), status_code=200, media_type="application/json")
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        if sub_response.status_code:
            response.status_code = sub_response.status_code
        return response

    def encode_json(self, data: object) -> str:
        """The response body by orjson: several times faster than the json module on the
        answers' nested dicts and lists, same JSON (no spaces, UTF-8).

        A string, not bytes: strawberry sends the WebSocket protocol's messages with this too,
        and bytes would go out as binary frames, which graphql-transport-ws does not allow."""
        return _encoded(data).decode()
