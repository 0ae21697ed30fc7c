"""One API operation: route, required scope, and the models the OpenAPI spec documents."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from pydantic import BaseModel

from triage.models import Scope

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    location: str  # "path", "query" or "header"
    description: str
    required: bool = False
    type_: str = "string"
    choices: tuple[str, ...] = ()
    minimum: int | None = None  # integers: the bounds the query parser enforces
    maximum: int | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    scope: Scope | None  # None: no key needed
    tag: str
    status: int = 200
    response: type[BaseModel] | None = None
    response_content: str = "application/json"
    requests: tuple[tuple[str, type[BaseModel]], ...] = ()  # content type → body model
    other_successes: tuple[tuple[int, type[BaseModel]], ...] = ()  # status → body model
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = field(default=())
    also_scope: Scope | None = None  # a second scope that is enough on its own

    @property
    def scopes(self) -> tuple[Scope, ...]:
        """Scopes any one of which lets a key call the operation (empty: no key needed)."""
        return tuple(s for s in (self.scope, self.also_scope) if s is not None)

    @property
    def operation_id(self) -> str:
        return self.handler.__name__
