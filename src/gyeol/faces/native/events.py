"""Events and merchant webhook endpoints on the native API (merchant keys only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field, StrictBool, StrictStr

from gyeol.faces.http import JSONRoute, raises
from gyeol.faces.native.deps import MerchantCaller, Paging, Svc
from gyeol.faces.native.schemas import EventType, Strict, Url
from gyeol.faces.native.views import delivery_view, endpoint_view, event_view, page_view

router = APIRouter(route_class=JSONRoute, prefix="/api/v1", tags=["Events and webhook endpoints"])


class EndpointIn(Strict):
    url: Url
    events: list[EventType] = Field(min_length=1, max_length=50)
    description: StrictStr | None = Field(default=None, max_length=500)


class EndpointPatch(Strict):
    url: Url | None = None
    events: list[EventType] | None = Field(default=None, min_length=1, max_length=50)
    enabled: StrictBool | None = None
    description: StrictStr | None = Field(default=None, max_length=500)


class RedeliverIn(Strict):
    endpoint_id: StrictStr | None = Field(default=None, alias="endpointId", max_length=40)


@router.post("/webhook-endpoints", summary="Register a webhook endpoint")
async def create_endpoint(body: EndpointIn, svc: Svc, caller: MerchantCaller) -> Any:
    created = await svc.webhooks.create(caller, body.url, body.events, body.description)
    return endpoint_view(created.endpoint, created.secret)


@router.get("/webhook-endpoints", summary="List webhook endpoints")
async def list_endpoints(svc: Svc, caller: MerchantCaller, paging: Paging) -> Any:
    return page_view(await svc.webhooks.list_page(caller, paging.page, paging.size), endpoint_view)


@router.get("/webhook-endpoints/{endpoint_id}", summary="Get a webhook endpoint")
async def get_endpoint(endpoint_id: str, svc: Svc, caller: MerchantCaller) -> Any:
    return endpoint_view(await svc.webhooks.get(caller, endpoint_id))


@router.patch("/webhook-endpoints/{endpoint_id}", summary="Update a webhook endpoint")
async def update_endpoint(endpoint_id: str, body: EndpointPatch, svc: Svc, caller: MerchantCaller) -> Any:
    return endpoint_view(await svc.webhooks.update(caller, endpoint_id, url=body.url, events=body.events,
                                                   enabled=body.enabled, description=body.description))


@router.delete("/webhook-endpoints/{endpoint_id}", summary="Delete a webhook endpoint")
async def delete_endpoint(endpoint_id: str, svc: Svc, caller: MerchantCaller) -> Any:
    await svc.webhooks.delete(caller, endpoint_id)
    return {"endpointId": endpoint_id, "deleted": True}


@router.post("/webhook-endpoints/{endpoint_id}/rotate-secret", summary="Rotate a webhook endpoint's signing secret")
async def rotate_secret(endpoint_id: str, svc: Svc, caller: MerchantCaller) -> Any:
    rotated = await svc.webhooks.rotate_secret(caller, endpoint_id)
    return endpoint_view(rotated.endpoint, rotated.secret)


@router.get("/webhook-endpoints/{endpoint_id}/deliveries", summary="List an endpoint's deliveries")
async def deliveries(endpoint_id: str, svc: Svc, caller: MerchantCaller, paging: Paging) -> Any:
    return page_view(await svc.webhooks.deliveries(caller, endpoint_id, paging.page, paging.size), delivery_view)


@router.get("/events", summary="List events")
@raises("not_found")  # `after` names an event
async def list_events(svc: Svc, caller: MerchantCaller,
                      type: str | None = Query(default=None, min_length=1, max_length=64),
                      after: str | None = Query(default=None, min_length=1, max_length=40),
                      size: int = Query(default=20, ge=1, le=100)) -> Any:
    events, more = await svc.webhooks.events(caller, type, after, size)
    items = [event_view(e) for e in events]
    return {"items": items, "size": size, "hasMore": more, "nextAfter": items[-1]["id"] if items else after}


@router.get("/events/{event_id}", summary="Get an event")
async def get_event(event_id: str, svc: Svc, caller: MerchantCaller) -> Any:
    return event_view(await svc.webhooks.event(caller, event_id))


@router.post("/events/{event_id}/redeliver", summary="Deliver an event to the webhook endpoints again")
async def redeliver(event_id: str, svc: Svc, caller: MerchantCaller, body: RedeliverIn | None = None) -> Any:
    deliveries = await svc.webhooks.redeliver(caller, event_id, body.endpoint_id if body else None)
    return {"eventId": event_id, "deliveries": [delivery_view(d) for d in deliveries]}
