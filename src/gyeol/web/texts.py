"""What the buyer's pages say, in Korean (the default) and English (`?lang=en`)."""

from __future__ import annotations

LANGS = ("ko", "en")

TEXT: dict[str, dict[str, str]] = {
    "ko": {
        "title": "결제하기", "merchant": "가맹점", "order": "주문", "amount": "결제 금액", "method": "결제 수단",
        "card": "카드", "transfer": "계좌이체", "virtual_account": "가상계좌",
        "card_number": "카드 번호", "card_number_hint": "13~19자리 숫자",
        "expiry": "유효기간", "expiry_hint": "MM/YY 형식 (예: 09/28)",
        "cvc": "보안 코드 (CVC)", "cvc_hint": "카드 뒷면의 3자리 (AMEX는 앞면 4자리)",
        "bank": "은행", "choose_bank": "은행을 선택하세요",
        "transfer_hint": "선택한 은행 계좌에서 바로 이체합니다.",
        "va_hint": "입금할 가상계좌를 발급해 드립니다. 기한 안에 입금하면 결제가 완료됩니다.",
        "pay": "{amount} 결제하기", "issue_va": "가상계좌 발급받기", "cancel": "결제 취소",
        "switch_lang": "English", "sandbox": "테스트 결제입니다. 실제로 돈이 오가지 않습니다.",
        # errors
        "invalid_number": "카드 번호는 13~19자리 숫자로 입력해 주세요.",
        "luhn_warning": ("카드 번호의 검증 숫자가 맞지 않습니다. 번호를 확인해 주세요. "
                         "이대로 결제를 진행할 수도 있습니다."),
        "invalid_expiry": "유효기간을 MM/YY 형식으로 입력해 주세요.",
        "past_expiry": "유효기간이 지난 카드입니다.",
        "invalid_cvc": "보안 코드는 3~4자리 숫자입니다.",
        "bank_required": "은행을 선택해 주세요.", "method_required": "결제 수단을 선택해 주세요.",
        "csrf": "페이지가 만료되었습니다. 새로 고친 뒤 다시 시도해 주세요.",
        "not_payable": "지금은 이 결제를 진행할 수 없습니다.",
        "pg_timeout": "결제 처리가 지연되고 있습니다. 잠시 후 다시 확인해 주세요.",
        "generic": "결제를 처리하지 못했습니다. 다시 시도해 주세요.",
        "declined": "결제가 거절되었습니다. 다른 카드로 다시 시도해 주세요.",
        "decline_card_declined": "카드사에서 결제를 거절했습니다. 다른 카드로 다시 시도해 주세요.",
        "decline_insufficient_funds": "잔액이 부족합니다. 다른 카드로 다시 시도해 주세요.",
        "decline_expired_card": "유효기간이 지난 카드입니다. 다른 카드로 다시 시도해 주세요.",
        "decline_incorrect_cvc": "보안 코드가 올바르지 않습니다. 확인 후 다시 시도해 주세요.",
        "decline_processing_error": "카드 처리 중 오류가 발생했습니다. 다시 시도해 주세요.",
        "decline_authentication_failed": "카드 본인 인증에 실패했습니다. 다시 시도하거나 다른 카드를 사용해 주세요.",
        # plain notices
        "paid": "결제가 완료되었습니다.", "expired": "결제 가능 시간이 지났습니다. 상점에서 다시 주문해 주세요.",
        "closed": "취소되었거나 더 이상 진행할 수 없는 결제입니다.",
        "authenticated": "인증이 완료되었습니다. 상점이 결제를 승인하면 결제가 완료됩니다.",
        "processing": "결제를 처리하고 있습니다. 잠시 후 다시 확인해 주세요.",
        "no_methods": "이 결제에 사용할 수 있는 결제 수단이 없습니다.",
        "not_found": "결제 정보를 찾을 수 없습니다.", "not_found_title": "찾을 수 없음",
        "receipt": "영수증 보기", "back": "상점으로 돌아가기",
        # virtual account
        "va_title": "가상계좌가 발급되었습니다", "va_bank": "은행", "va_account": "계좌번호", "va_amount": "입금 금액",
        "va_due": "입금 기한", "va_holder": "예금주", "va_copy": "계좌번호 복사",
        "va_copied": "계좌번호를 복사했습니다.",
        "va_note": "입금이 확인되면 결제가 완료됩니다.",
        # 3-D Secure
        "3ds_title": "카드 본인 인증", "3ds_text": "테스트 카드사의 3-D Secure 인증 화면입니다. 인증 결과를 고르세요.",
        "approve": "인증 승인", "fail": "인증 실패",
        # Toss window (simulator)
        "toss_title": "토스페이먼츠 결제창 (시뮬레이터)",
        "toss_va_hint": "결제하기를 누르면 가상계좌가 발급됩니다. 상점이 결제를 승인하면 계좌 정보를 받을 수 있습니다.",
    },
    "en": {
        "title": "Checkout", "merchant": "Merchant", "order": "Order", "amount": "Amount", "method": "Payment method",
        "card": "Card", "transfer": "Bank transfer", "virtual_account": "Virtual account",
        "card_number": "Card number", "card_number_hint": "13 to 19 digits",
        "expiry": "Expiry", "expiry_hint": "MM/YY, e.g. 09/28",
        "cvc": "Security code (CVC)", "cvc_hint": "3 digits on the back (4 on the front for AMEX)",
        "bank": "Bank", "choose_bank": "Choose a bank",
        "transfer_hint": "Pays straight from an account at the bank you choose.",
        "va_hint": "You get an account number to deposit into; the payment completes when the deposit arrives.",
        "pay": "Pay {amount}", "issue_va": "Get a virtual account", "cancel": "Cancel payment",
        "switch_lang": "한국어", "sandbox": "A test payment: no money moves.",
        "invalid_number": "Enter the card number as 13 to 19 digits.",
        "luhn_warning": "The card number's check digit does not match. Check the number; you may still pay with it.",
        "invalid_expiry": "Enter the expiry as MM/YY.",
        "past_expiry": "The card has expired.",
        "invalid_cvc": "The security code is 3 or 4 digits.",
        "bank_required": "Choose a bank.", "method_required": "Choose a payment method.",
        "csrf": "This page has expired. Reload it and try again.",
        "not_payable": "This payment cannot be made now.",
        "pg_timeout": "The payment is taking longer than usual. Check again in a moment.",
        "generic": "The payment could not be processed. Please try again.",
        "declined": "The payment was declined. Try another card.",
        "decline_card_declined": "The card was declined. Try another card.",
        "decline_insufficient_funds": "The card has insufficient funds. Try another card.",
        "decline_expired_card": "The card has expired. Try another card.",
        "decline_incorrect_cvc": "The security code is incorrect. Check it and try again.",
        "decline_processing_error": "An error occurred while processing the card. Please try again.",
        "decline_authentication_failed": "Card authentication failed. Try again or use another card.",
        "paid": "This payment is complete.", "expired": "This payment has expired. Please order again at the shop.",
        "closed": "This payment was canceled or can no longer be made.",
        "authenticated": "You are authenticated. The payment is complete when the shop confirms it.",
        "processing": "The payment is being processed. Check again in a moment.",
        "no_methods": "No payment method is available for this payment.",
        "not_found": "No such payment.", "not_found_title": "Not found",
        "receipt": "View receipt", "back": "Back to the shop",
        "va_title": "Your virtual account", "va_bank": "Bank", "va_account": "Account number",
        "va_amount": "Amount to deposit", "va_due": "Deposit by", "va_holder": "Account holder",
        "va_copy": "Copy account number", "va_copied": "Account number copied.",
        "va_note": "The payment completes when the deposit arrives.",
        "3ds_title": "Card authentication",
        "3ds_text": "The sandbox card issuer's 3-D Secure step. Choose the outcome.",
        "approve": "Approve", "fail": "Fail",
        "toss_title": "Toss Payments window (simulator)",
        "toss_va_hint": "Paying issues a virtual account; its details come with the shop's confirmation.",
    },
}

# Sandbox and common Korean bank codes: what the transfer choice offers, and what an issued account shows.
BANKS: dict[str, dict[str, str]] = {
    "004": {"ko": "KB국민은행", "en": "KB Kookmin Bank"},
    "088": {"ko": "신한은행", "en": "Shinhan Bank"},
    "020": {"ko": "우리은행", "en": "Woori Bank"},
    "081": {"ko": "하나은행", "en": "Hana Bank"},
    "011": {"ko": "NH농협은행", "en": "NH NongHyup Bank"},
    "090": {"ko": "카카오뱅크", "en": "KakaoBank"},
    "092": {"ko": "토스뱅크", "en": "Toss Bank"},
    "20": {"ko": "우리은행", "en": "Woori Bank"},  # Toss's two-digit code for Woori
}


def lang_of(value: str | None) -> str:
    return value if value in LANGS else "ko"


def bank_name(code: str, lang: str) -> str:
    return BANKS.get(code, {}).get(lang, code)


def decline_text(code: str | None, lang: str) -> str:
    t = TEXT[lang]
    return t.get(f"decline_{code}", t["declined"])
