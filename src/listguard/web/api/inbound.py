"""The partner side of the API: an owner's signed webhooks, received and applied."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from listguard.domain.retention import Retention
from listguard.inbound import acknowledge_pending, receive
from listguard.propagation.signing import SIGNATURE_HEADER
from listguard.web.deps import ERRORS, W

router = APIRouter(prefix="/api/v1", tags=["api"], responses=ERRORS)


class InboundOut(BaseModel):
    message_id: str
    type: str
    applied: int = Field(description="coordinates put on the suppression list, or persons erased")
    repeat: bool = Field(description="already received: nothing applied again")


@router.post(
    "/inbound/{source}",
    response_model=InboundOut,
    tags=["partner side"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def inbound(
    source: Annotated[str, PathParam(max_length=64)],
    request: Request,
    w: W,
    background: BackgroundTasks,
) -> InboundOut:
    """The partner side: an owner's signed webhook (header ``Listguard-Signature``),
    applied to this registry's suppression list (or erasing the person), then
    acknowledged to the owner through the message's link once answered."""
    body = await request.body()
    signature = request.headers.get(SIGNATURE_HEADER, "")
    # a message refused (its signature, its age, its source) answers the status it names
    got = await run_in_threadpool(
        receive, w.engine, source, body, signature, retention=Retention.of(w.settings)
    )
    if not got.repeat:
        background.add_task(acknowledge_pending, w.engine, source, got.key)
    return InboundOut(message_id=got.key, type=got.type, applied=got.applied, repeat=got.repeat)


__all__ = ["router"]
