"""The OpenAPI document is the contract (`/openapi.json`): what FastAPI writes from the routes, plus what only the
faces know.

- Every operation lists each status it can answer, in its face's error format (`FaceErrors`). The statuses are not
  written by hand: the kinds of error a route can raise come from what it is made of (its dependencies and its
  endpoint, marked with `faces.http.raises`, its path parameters, its method), and each kind is rendered through
  the face's own renderer to learn its status, so the document says what the renderer does.
- FastAPI's stock 422 "Validation Error" goes: Gyeol answers a request that fails validation with 400, in the
  face's format.
- Who may call: the secret key (Basic or Bearer) or a user's JWT (Bearer), as the dependencies say.
- Links chain what one operation creates to what reads it, confirms it or refunds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from gyeol.core.clock import KST
from gyeol.core.errors import DomainError, Kind
from gyeol.faces.bodies import JSON_VALUE
from gyeol.faces.http import RAISES, FaceErrors

# What every route can answer: a control character in its target, a body too large or too slow (the guard's
# refusals), a database that cannot be reached.
EVERY: dict[Kind, tuple[int | None, ...]] = {"validation": (None, 408, 413), "unavailable": (None,)}
# Each kind, and the statuses it is raised with besides its own (None).
VARIANTS: dict[Kind, tuple[int | None, ...]] = {
    "validation": (None,), "authentication": (None,), "permission": (None,), "not_found": (None,),
    "conflict": (None, 422), "processing": (None,), "gateway": (None, 504), "idempotency": (409, 422),
    "rate_limit": (None,), "unavailable": (None,),
}
WRITES = ("POST", "PUT", "PATCH", "DELETE")
# faces.bodies.check_target: no control character in a path or a query.
NO_CONTROL = "^[^\\u0000-\\u001f\\u007f]*$"
API_PREFIXES = ("/api/", "/v1/")
DESCRIPTIONS = {400: "Bad request", 401: "No valid credentials", 402: "The payment was declined",
                403: "Not allowed for these credentials", 404: "Not found", 405: "Method not allowed",
                408: "The body did not arrive in time", 409: "Conflict with the object's state or another request",
                413: "The body is too large", 415: "The body is not JSON in UTF-8", 422: "Refused in this state",
                429: "Too many requests", 500: "Internal error", 502: "The PG failed", 503: "Unavailable for now",
                504: "The PG did not answer in time"}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Retry a request under the same key to get its first answer, never a second charge.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"},
}
SECURITY_SCHEMES = {
    "secretKey": {"type": "http", "scheme": "basic",
                  "description": "The merchant's secret key as the user name, with an empty password."},
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "The merchant's secret key, or a user's JWT where a route takes users."},
}
# A route's credentials, by its dependencies' names (faces.native.deps, faces.shopping.routes).
MERCHANT_ONLY = {"merchant_caller", "test_mode"}
USERS_ONLY = {"shopper", "admin"}
ANY_CALLER = {"caller", "sensitive", "fault"}

Link = tuple[str, str, str, dict[str, str], dict[str, Any] | None]
# Source operation -> (link name, target method, target path, parameters, request body).
P, ID = "/api/v1", "$response.body#/paymentId"
LINKS: dict[tuple[str, str], list[Link]] = {
    ("POST", P + "/payments/intent"): [
        ("GetPayment", "GET", P + "/payments/{payment_id}", {"payment_id": ID}, None),
        ("ConfirmPayment", "POST", P + "/payments/{payment_id}/confirm", {"payment_id": ID}, None),
        ("CapturePayment", "POST", P + "/payments/{payment_id}/capture", {"payment_id": ID}, None),
        ("CancelPayment", "POST", P + "/payments/{payment_id}/cancel", {"payment_id": ID}, None),
        ("RefundPayment", "POST", P + "/refunds", {}, {"paymentId": ID}),
        ("ListCharges", "GET", P + "/sandbox/charges", {"paymentId": ID}, None),
    ],
    ("POST", P + "/payments"): [
        ("GetPayment", "GET", P + "/payments/{payment_id}", {"payment_id": ID}, None),
        ("ConfirmPayment", "POST", P + "/payments/{payment_id}/confirm", {"payment_id": ID}, None),
        ("CancelPayment", "POST", P + "/payments/{payment_id}/cancel", {"payment_id": ID}, None),
        ("RefundPayment", "POST", P + "/refunds", {}, {"paymentId": ID}),
    ],
    ("POST", P + "/payments/{payment_id}/confirm"): [
        ("GetPayment", "GET", P + "/payments/{payment_id}", {"payment_id": ID}, None),
        ("CapturePayment", "POST", P + "/payments/{payment_id}/capture", {"payment_id": ID}, None),
        ("RefundPayment", "POST", P + "/refunds", {}, {"paymentId": ID}),
    ],
    ("POST", P + "/payments/{payment_id}/capture"): [
        ("RefundPayment", "POST", P + "/refunds", {}, {"paymentId": ID}),
    ],
    ("POST", P + "/refunds"): [
        ("GetRefund", "GET", P + "/refunds/{refund_id}", {"refund_id": "$response.body#/refundId"}, None),
        ("GetPayment", "GET", P + "/payments/{payment_id}", {"payment_id": ID}, None),
        ("ListRefunds", "GET", P + "/refunds", {"paymentId": ID}, None),
    ],
    ("POST", P + "/orders"): [
        ("GetOrder", "GET", P + "/orders/{order_id}", {"order_id": "$response.body#/orderId"}, None),
        ("PayOrder", "POST", P + "/payments/intent", {}, {
            "orderId": "$response.body#/orderId", "amount": "$response.body#/amount",
            "currency": "$response.body#/currency"}),
        ("ConfirmAtShop", "POST", "/api/payments/confirm", {}, {
            "orderId": "$response.body#/orderId", "amount": "$response.body#/amount"}),
    ],
    ("POST", P + "/sandbox/tokens"): [
        ("PayWithToken", "POST", P + "/payments/intent", {}, {
            "confirm": True, "methodOptions": {"token": "$response.body#/token"}}),
    ],
    ("POST", P + "/customers/{customer_id}/payment-methods"): [
        ("ListMethods", "GET", P + "/customers/{customer_id}/payment-methods",
         {"customer_id": "$request.path.customer_id"}, None),
        ("MakeDefault", "POST", P + "/customers/{customer_id}/payment-methods/{method_id}/default",
         {"customer_id": "$request.path.customer_id", "method_id": "$response.body#/paymentMethodId"}, None),
        ("Detach", "DELETE", P + "/payment-methods/{method_id}",
         {"method_id": "$response.body#/paymentMethodId"}, None),
    ],
    ("POST", P + "/webhook-endpoints"): [
        (name, method, P + "/webhook-endpoints/{endpoint_id}" + tail,
         {"endpoint_id": "$response.body#/endpointId"}, None)
        for name, method, tail in (("GetEndpoint", "GET", ""), ("UpdateEndpoint", "PATCH", ""),
                                   ("DeleteEndpoint", "DELETE", ""), ("RotateSecret", "POST", "/rotate-secret"),
                                   ("ListDeliveries", "GET", "/deliveries"))
    ],
    ("POST", "/v1/payments"): [
        ("GetPayment", "GET", "/v1/payments/{payment_key}", {"payment_key": "$response.body#/paymentKey"}, None),
        ("GetByOrder", "GET", "/v1/payments/orders/{order_id}", {"order_id": "$response.body#/orderId"}, None),
        ("ConfirmPayment", "POST", "/v1/payments/confirm", {}, {
            "paymentKey": "$response.body#/paymentKey", "orderId": "$response.body#/orderId",
            "amount": "$response.body#/totalAmount"}),
        ("CancelPayment", "POST", "/v1/payments/{payment_key}/cancel",
         {"payment_key": "$response.body#/paymentKey"}, None),
    ],
    ("POST", "/v1/payments/confirm"): [
        ("GetPayment", "GET", "/v1/payments/{payment_key}", {"payment_key": "$response.body#/paymentKey"}, None),
        ("CancelPayment", "POST", "/v1/payments/{payment_key}/cancel",
         {"payment_key": "$response.body#/paymentKey"}, None),
    ],
    ("POST", "/api/shopping/payments"): [
        (name, method, "/api/shopping/payments/{payment_number}" + tail,
         {"payment_number": "$response.body#/data/paymentNumber"}, None)
        for name, method, tail in (("GetPayment", "GET", ""), ("CancelPayment", "POST", "/cancel"),
                                   ("RefundPayment", "POST", "/refund"))
    ],
}


def install(app: FastAPI, faces: FaceErrors) -> None:
    """`app.openapi` as FastAPI documents overriding it: built on first use and kept for the month, in UTC and in
    Korea (a card's expiry is bounded by this month: `faces.native.schemas.not_expired`, the shopping face's
    `_card_rules`)."""
    build = app.openapi
    built = {"month": ""}

    def openapi() -> dict[str, Any]:
        now = datetime.now(UTC)
        month = now.strftime("%Y-%m") + now.astimezone(KST).strftime("%Y-%m")
        if app.openapi_schema is None or built["month"] != month:
            app.openapi_schema = None
            app.openapi_schema = amend(build(), app, faces)
            built["month"] = month
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def amend(doc: dict[str, Any], app: FastAPI, faces: FaceErrors) -> dict[str, Any]:
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for stock in ("HTTPValidationError", "ValidationError"):
        schemas.pop(stock, None)
    components["securitySchemes"] = SECURITY_SCHEMES
    schemas["JsonValue"] = JSON_VALUE
    ids: dict[tuple[str, str], str] = {}
    for route, method, op in _operations(app, doc):
        ids[(method, route.path_format)] = op["operationId"]
        for param in op.get("parameters", []):
            if param["in"] in ("path", "query"):
                schema = param.get("schema", {})
                for option in (schema, *schema.get("anyOf", ())):
                    if option.get("type") == "string" and "pattern" not in option and "format" not in option:
                        option["pattern"] = NO_CONTROL
        _document_errors(route, method, op, faces, schemas)
        calls = {call.__name__ for call in _calls(route.dependant)}
        if calls & USERS_ONLY:
            op["security"] = [{"bearer": []}]
        elif calls & (MERCHANT_ONLY | ANY_CALLER):
            op["security"] = [{"secretKey": []}, {"bearer": []}]
            if method == "POST" and route.path_format.startswith(API_PREFIXES):
                op.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
    for (method, path), links in LINKS.items():
        response = doc["paths"][path][method.lower()]["responses"]["200"]
        response["links"] = {name: _link(ids[(target_method, target)], params, body)
                             for name, target_method, target, params, body in links}
    return doc


def _link(operation_id: str, params: dict[str, str], body: dict[str, Any] | None) -> dict[str, Any]:
    link: dict[str, Any] = {"operationId": operation_id, "parameters": params}
    if body is not None:
        link["requestBody"] = body
    return link


def _operations(app: FastAPI, doc: dict[str, Any]) -> Iterator[tuple[APIRoute, str, dict[str, Any]]]:
    for route in app.routes:
        if isinstance(route, APIRoute) and route.include_in_schema:
            for method in sorted(route.methods or ()):
                yield route, method, doc["paths"][route.path_format][method.lower()]


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from _calls(dep)


def kinds(route: APIRoute, method: str) -> dict[Kind, tuple[int | None, ...]]:
    """The kinds of error a route can raise, each with the statuses it is raised with."""
    found: dict[Kind, tuple[int | None, ...]] = dict(EVERY)
    endpoint = getattr(route.endpoint, "__wrapped__", route.endpoint)
    marked = [RAISES.get(call, ()) for call in (endpoint, *_calls(route.dependant))]
    named = {kind for kinds in marked for kind in kinds}
    if route.path_format.startswith(API_PREFIXES) and method in WRITES:
        found["validation"] = (*found["validation"], 415)  # faces.bodies: JSON in UTF-8 only
        named |= {"not_found", "conflict"}  # a write acts on objects that may be missing or in another state
        if {call.__name__ for call in _calls(route.dependant)} & (MERCHANT_ONLY | ANY_CALLER | USERS_ONLY):
            named.add("idempotency")
    if "{" in route.path_format:
        named.add("not_found")
    for kind in named:
        found.setdefault(kind, VARIANTS[kind])
    return found


def _document_errors(route: APIRoute, method: str, op: dict[str, Any], faces: FaceErrors,
                     schemas: dict[str, Any]) -> None:
    responses: dict[str, Any] = op["responses"]
    stock = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if stock.get("$ref", "").endswith("/HTTPValidationError"):
        del responses["422"]
    error_format = faces.error_format(route.path_format)
    if error_format is None:
        return
    schemas[error_format.name] = error_format.schema
    render = faces.renderer(route.path_format)
    ref = {"$ref": f"#/components/schemas/{error_format.name}"}
    for kind, statuses in kinds(route, method).items():
        for status in statuses:
            answered = render(DomainError(kind, "DOCUMENTED", "", status=status), "").status_code
            entry = responses.setdefault(str(answered), {"description": DESCRIPTIONS.get(answered, "Error")})
            entry.setdefault("content", {}).setdefault("application/json", {"schema": ref})
