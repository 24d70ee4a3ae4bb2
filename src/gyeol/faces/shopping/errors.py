"""Seed 002's envelope errors: {success: false, code, message, timestamp}, with the seed's codes and statuses.

Codes past the seed's list are documented in docs/shopping.md.
"""

from __future__ import annotations

from starlette.responses import Response

from gyeol.core.clock import Clock, iso
from gyeol.core.errors import DomainError
from gyeol.faces.http import ErrorFormat, ErrorRenderer, FastJSON

FORMAT = ErrorFormat("ShoppingError", {
    "type": "object", "required": ["success", "code", "message", "timestamp"], "additionalProperties": False,
    "properties": {"success": {"type": "boolean", "const": False},
                   "code": {"type": "string", "pattern": "^[SC][0-9]{3}$"},
                   "message": {"type": "string"},
                   "timestamp": {"type": "string", "format": "date-time"}},
})

# Core error codes -> (code, HTTP status, message).
BY_CODE: dict[str, tuple[str, int, str]] = {
    "ORDER_NOT_FOUND": ("S006", 404, "주문을 찾을 수 없습니다."),
    "ALREADY_CANCELED": ("S010", 400, "이미 취소된 결제입니다."),
    "CANCEL_WINDOW_PASSED": ("S011", 400, "결제 취소 가능 시간이 지났습니다."),
    "AMOUNT_MISMATCH": ("S012", 400, "결제 금액이 일치하지 않습니다."),
    "METHOD_NOT_CANCELABLE": ("S013", 400, "계좌이체 결제는 취소할 수 없습니다. 환불을 요청해 주세요."),
    "NOT_REFUNDABLE": ("S015", 400, "환불할 수 없는 결제 상태입니다."),
    "ORDER_ALREADY_PAID": ("S016", 400, "이미 결제되었거나 결제가 진행 중인 주문입니다."),
}
BY_KIND: dict[str, tuple[str, int, str]] = {
    "authentication": ("C001", 401, "인증이 필요합니다."),
    "permission": ("C002", 403, "권한이 없습니다."),
    "not_found": ("S009", 404, "결제를 찾을 수 없습니다."),
    "processing": ("S008", 400, "결제 처리에 실패했습니다."),
    "validation": ("C003", 400, "잘못된 요청입니다."),
    "gateway": ("S014", 502, "결제 대행사의 응답을 확인하고 있습니다. 잠시 후 결제 상태를 조회해 주세요."),
    "conflict": ("C004", 409, "다른 요청과 충돌했습니다. 잠시 후 다시 시도해 주세요."),
    "idempotency": ("C004", 409, "같은 Idempotency-Key의 요청이 처리 중이거나 다른 요청에 쓰였습니다."),
    "rate_limit": ("C005", 429, "요청이 너무 많습니다. 잠시 후 다시 시도해 주세요."),
    "unavailable": ("C007", 503, "일시적으로 처리할 수 없습니다. 잠시 후 다시 시도해 주세요."),
    "internal": ("C006", 500, "서버 내부 오류가 발생했습니다."),
}


def renderer(clock: Clock) -> ErrorRenderer:
    def render(err: DomainError, request_id: str) -> Response:
        code, status, message = BY_CODE.get(err.code) or BY_KIND.get(err.kind) or BY_KIND["internal"]
        if err.kind == "gateway":
            status = err.status if err.status in (502, 503, 504) else status
        elif err.kind == "validation" and err.status in (405, 408, 413, 415):
            status = err.status
        elif err.kind == "idempotency":
            status = err.status
        if err.kind == "validation" and code == "C003":
            field = (err.details or {}).get("field")
            reason = f"{field}: {err.message}" if field else err.message
            message = f"{message} ({reason})"  # which field and why; input values are never echoed
        if err.kind == "internal":
            message = f"{message} (요청 {request_id})"
        body = {"success": False, "code": code, "message": message, "timestamp": iso(clock.now())}
        return FastJSON(body, status_code=status)
    return render
