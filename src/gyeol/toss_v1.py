"""Toss Payments' v1 vocabulary (docs/toss.md, ../shared/reference/toss-payments-v1.md): its payment statuses,
its method names, its error codes with their HTTP statuses and messages, and the limits of its keys.

One module for everyone who speaks it: the kiosk and shop faces and the Toss simulator (the Toss connector reads
Toss's JSON through its own schemas). It imports nothing of Gyeol's, so none of them reaches into another to learn
a word.
"""

from __future__ import annotations

STATUSES = ("READY", "IN_PROGRESS", "WAITING_FOR_DEPOSIT", "DONE", "CANCELED", "PARTIAL_CANCELED", "ABORTED",
            "EXPIRED")

# paymentKey and orderId as Toss's API takes them.
PAYMENT_KEY_MAX = 200
PAYMENT_KEY_PATTERN = r"^[A-Za-z0-9_\-=.]+$"
ORDER_ID_MAX = 64
ORDER_ID_PATTERN = r"^[A-Za-z0-9_-]+$"

METHOD_KO = {"CARD": "카드", "VIRTUAL_ACCOUNT": "가상계좌", "TRANSFER": "계좌이체", "MOBILE_PHONE": "휴대폰",
             "EASY_PAY": "간편결제"}

# Each error code of the v1 API, with the HTTP status Toss answers it with (reference §7).
ERROR_STATUS: dict[str, int] = {
    **{c: 400 for c in (
        "ALREADY_PROCESSED_PAYMENT", "PROVIDER_ERROR", "EXCEED_MAX_CARD_INSTALLMENT_PLAN", "INVALID_REQUEST",
        "NOT_ALLOWED_POINT_USE", "INVALID_API_KEY", "INVALID_REJECT_CARD", "BELOW_MINIMUM_AMOUNT",
        "INVALID_CARD_EXPIRATION", "INVALID_STOPPED_CARD", "EXCEED_MAX_DAILY_PAYMENT_COUNT",
        "NOT_SUPPORTED_INSTALLMENT_PLAN_CARD_OR_MERCHANT", "INVALID_CARD_INSTALLMENT_PLAN",
        "NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN", "EXCEED_MAX_PAYMENT_AMOUNT", "NOT_FOUND_TERMINAL_ID",
        "INVALID_AUTHORIZE_AUTH", "INVALID_CARD_LOST_OR_STOLEN", "RESTRICTED_TRANSFER_ACCOUNT",
        "INVALID_CARD_NUMBER", "INVALID_UNREGISTERED_SUBMALL", "NOT_REGISTERED_BUSINESS",
        "EXCEED_MAX_ONE_DAY_WITHDRAW_AMOUNT", "EXCEED_MAX_ONE_TIME_WITHDRAW_AMOUNT", "CARD_PROCESSING_ERROR",
        "EXCEED_MAX_AMOUNT", "INVALID_ACCOUNT_INFO_RE_REGISTER", "NOT_AVAILABLE_PAYMENT", "UNAPPROVED_ORDER_ID",
        "EXCEED_MAX_MONTHLY_PAYMENT_AMOUNT", "ALREADY_CANCELED_PAYMENT", "INVALID_REFUND_ACCOUNT_INFO",
        "NOT_MATCHES_REFUNDABLE_AMOUNT", "REFUND_REJECTED", "ALREADY_REFUND_PAYMENT", "INVALID_IDEMPOTENCY_KEY",
        "INVALID_ORDER_ID", "DUPLICATED_ORDER_ID", "BELOW_ZERO_AMOUNT", "INVALID_TEST_CODE", "INVALID_DATE",
        "EXCEED_MAX_QUERY_LIMIT")},
    "UNAUTHORIZED_KEY": 401,
    **{c: 403 for c in (
        "REJECT_ACCOUNT_PAYMENT", "REJECT_CARD_PAYMENT", "REJECT_CARD_COMPANY", "FORBIDDEN_REQUEST",
        "REJECT_TOSSPAY_INVALID_ACCOUNT", "EXCEED_MAX_AUTH_COUNT", "EXCEED_MAX_ONE_DAY_AMOUNT", "NOT_AVAILABLE_BANK",
        "INVALID_PASSWORD", "INCORRECT_BASIC_AUTH_FORMAT", "FDS_ERROR", "NOT_CANCELABLE_AMOUNT",
        "NOT_CANCELABLE_PAYMENT", "FORBIDDEN_CONSECUTIVE_REQUEST", "NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT",
        "NOT_ALLOWED_PARTIAL_REFUND")},
    "NOT_FOUND_PAYMENT": 404, "NOT_FOUND_PAYMENT_SESSION": 404, "NOT_FOUND": 404,
    "IDEMPOTENT_REQUEST_PROCESSING": 409,
    **{c: 500 for c in ("FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING", "FAILED_INTERNAL_SYSTEM_PROCESSING",
                        "UNKNOWN_PAYMENT_ERROR", "COMMON_ERROR", "FAILED_REFUND_PROCESS")},
}

MESSAGES = {
    "UNAUTHORIZED_KEY": "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.",
    "NOT_FOUND_PAYMENT": "존재하지 않는 결제 정보 입니다.",
    "ALREADY_PROCESSED_PAYMENT": "이미 처리된 결제 입니다.",
    "ALREADY_CANCELED_PAYMENT": "이미 취소된 결제 입니다.",
    "INVALID_REQUEST": "잘못된 요청입니다.",
    "IDEMPOTENT_REQUEST_PROCESSING": "이전 멱등 요청이 처리중 입니다.",
    "INVALID_IDEMPOTENCY_KEY": "멱등키는 300자 이하로 입력해주세요.",
    "NOT_CANCELABLE_AMOUNT": "취소 할 수 없는 금액 입니다.",
    "NOT_CANCELABLE_PAYMENT": "취소 할 수 없는 결제 입니다.",
    "INCORRECT_BASIC_AUTH_FORMAT": "잘못된 요청입니다. ':' 를 포함해 인코딩해주세요.",
    "NOT_FOUND_PAYMENT_SESSION": "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다.",
    "INVALID_TEST_CODE": "유효하지 않은 테스트 코드입니다.",
    "NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT": "입금 대기중인 결제는 부분 환불이 불가합니다.",
    "INVALID_DATE": "날짜 데이터가 잘못 되었습니다.",
    "EXCEED_MAX_QUERY_LIMIT": "조회 가능한 최대 개수를 초과했습니다.",
}


def message(code: str) -> str:
    return MESSAGES.get(code, f"요청을 처리하지 못했습니다. ({code})")
