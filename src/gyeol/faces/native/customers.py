"""Saved payment methods per customer (tokens only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from gyeol.faces.http import JSONRoute
from gyeol.faces.native.deps import MerchantCaller, Sensitive, Svc
from gyeol.faces.native.schemas import AttachMethodIn
from gyeol.faces.native.views import method_view

# core.customers.service.attach's rule (a customer is created on first use, with an id like an order's).
CustomerId = Annotated[str, Path(json_schema_extra={"pattern": "^[A-Za-z0-9_-]{1,64}$"})]
router = APIRouter(route_class=JSONRoute, prefix="/api/v1", tags=["Saved payment methods"])


@router.post("/customers/{customer_id}/payment-methods", summary="Save a payment method for a customer")
async def attach(customer_id: CustomerId, body: AttachMethodIn, svc: Svc, caller: MerchantCaller, _: Sensitive) -> Any:
    m = await svc.customers.attach(caller, customer_id, body.token, body.type, body.billing_details)
    return {**method_view(m), "customerId": customer_id}


@router.get("/customers/{customer_id}/payment-methods", summary="List a customer's saved payment methods")
async def list_methods(customer_id: str, svc: Svc, caller: MerchantCaller) -> Any:
    return [method_view(m) for m in await svc.customers.list_methods(caller, customer_id)]


@router.post("/customers/{customer_id}/payment-methods/{method_id}/default",
             summary="Make a saved payment method the customer's default")
async def set_default(customer_id: str, method_id: str, svc: Svc, caller: MerchantCaller) -> Any:
    return {**method_view(await svc.customers.set_default(caller, customer_id, method_id)), "customerId": customer_id}


@router.delete("/payment-methods/{method_id}", summary="Remove a saved payment method")
async def detach(method_id: str, svc: Svc, caller: MerchantCaller) -> Any:
    await svc.customers.detach(caller, method_id)
    return {"paymentMethodId": method_id, "deleted": True}
