"""Saved payment methods per customer (tokens only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gyeol.faces.http import JSONRoute
from gyeol.faces.native.deps import MerchantCaller, Sensitive, Svc
from gyeol.faces.native.schemas import AttachMethodIn

router = APIRouter(route_class=JSONRoute, prefix="/api/v1", tags=["payment methods"])


@router.post("/customers/{customer_id}/payment-methods")
async def attach(customer_id: str, body: AttachMethodIn, svc: Svc, caller: MerchantCaller, _: Sensitive) -> Any:
    return await svc.customers.attach(caller, customer_id, body.token, body.type, body.billing_details)


@router.get("/customers/{customer_id}/payment-methods")
async def list_methods(customer_id: str, svc: Svc, caller: MerchantCaller) -> Any:
    return await svc.customers.list_methods(caller, customer_id)


@router.post("/customers/{customer_id}/payment-methods/{method_id}/default")
async def set_default(customer_id: str, method_id: str, svc: Svc, caller: MerchantCaller) -> Any:
    return await svc.customers.set_default(caller, customer_id, method_id)


@router.delete("/payment-methods/{method_id}")
async def detach(method_id: str, svc: Svc, caller: MerchantCaller) -> Any:
    return await svc.customers.detach(caller, method_id)
