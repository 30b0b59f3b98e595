"""`POST /api/events`: one event or a list (DESIGN §6), each id acted on once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
from litestar import Controller, Request, post
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema

from qunflow.engine.errors import EventInvalid
from qunflow.engine.event import convert_events

from ..auth import INGEST, allow
from ..services import ServicesDep
from .errors import decode_json
from .views import Accepted

_EVENT = Schema(
    type=OpenAPIType.OBJECT,
    required=["id", "type", "at"],
    properties={
        "id": Schema(type=OpenAPIType.STRING, description="idempotency key"),
        "type": Schema(type=OpenAPIType.STRING, examples=["member_joined"]),
        "at": Schema(
            type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME, description="ISO 8601 with an offset"
        ),
        "member": Schema(type=OpenAPIType.STRING),
        "group": Schema(type=OpenAPIType.STRING),
        "channel": Schema(type=OpenAPIType.STRING),
        "data": Schema(type=OpenAPIType.OBJECT),
        "profile": Schema(type=OpenAPIType.OBJECT),
    },
)


@dataclass
class IngestOperation(Operation):
    """The body is read raw (for speed, and for errors that name the field), so describe it here."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description="one event or a JSON array of events",
            content={
                "application/json": OpenAPIMediaType(
                    schema=Schema(one_of=[_EVENT, Schema(type=OpenAPIType.ARRAY, items=_EVENT)])
                )
            },
        )


class EventController(Controller):
    path = "/api/events"
    tags = ["events"]

    @post(
        "",
        guards=[allow(INGEST)],
        status_code=202,
        operation_class=IngestOperation,
        summary="Ingest events",
        description="202 with how many were accepted and how many were duplicates (already seen ids). "
        "A bad event gets 422 naming the field, and nothing of the request is stored.",
    )
    async def ingest(self, request: Request[Any, Any, Any], services: ServicesDep) -> Accepted:
        body = await request.body()
        if b"\\u0000" in body:
            raise EventInvalid("NUL characters are not allowed in events")
        events = convert_events(decode_json(body))
        result = await anyio.to_thread.run_sync(services.write, services.engine.ingest, events)
        return Accepted(result.accepted, result.duplicate)
