"""What the dashboard says, in Korean (the default) and English (`?lang=en`)."""

from __future__ import annotations

from gyeol.faces.dashboard import texts_money

LANGS = ("ko", "en")

_KO: dict[str, str] = {
    "brand": "결 대시보드", "skip": "본문으로 건너뛰기", "nav": "주 메뉴",
    "home": "홈", "payments": "결제", "webhooks": "웹훅", "developers": "개발자", "audit": "감사 로그",
    "settings": "설정", "account": "내 계정", "signout": "로그아웃", "switch_lang": "English",
    "test_banner": "테스트 데이터를 보고 있습니다. 실제 돈은 오가지 않습니다.", "live_banner": "실제(라이브) 데이터",
    "view_live": "라이브 데이터 보기", "view_test": "테스트 데이터 보기",
    # sign-in
    "signin": "로그인", "email": "이메일", "password": "비밀번호", "signin_button": "로그인",
    "signin_refused": "이메일 또는 비밀번호가 올바르지 않습니다.",
    "signin_locked": "로그인 시도가 너무 많아 15분 동안 잠겼습니다. 잠시 후 다시 시도해 주세요.",
    "csrf": "페이지가 만료되었습니다. 새로 고친 뒤 다시 시도해 주세요.",
    "second_factor": "2단계 인증", "code": "인증 코드 또는 복구 코드",
    "code_hint": "인증 앱의 6자리 코드, 또는 복구 코드 하나를 입력하세요.", "verify": "확인",
    "code_refused": "코드가 올바르지 않습니다.", "signed_out": "로그아웃했습니다.",
    # home
    "today": "오늘", "last30": "최근 30일", "method": "결제 수단", "currency": "통화", "volume": "거래액",
    "count": "결제 건수", "success_rate": "성공률", "refunds": "환불", "nothing_yet": "아직 결제가 없습니다.",
    "volume_chart": "일별 거래액", "outcome_chart": "일별 결제 결과", "succeeded": "성공", "failed": "실패",
    "other": "기타", "chart_note": "막대 하나가 하루입니다 (한국 시간).",
    # payments
    "filters": "검색 조건", "from": "시작일", "to": "종료일", "status": "상태", "api": "생성 API", "any": "전체",
    "amount_min": "최소 금액", "amount_max": "최대 금액",
    "search": "검색 (결제 ID, 주문번호, paymentKey, 결제번호, 고객)", "apply": "검색", "reset": "초기화",
    "export": "CSV 내보내기", "next_page": "다음 페이지", "first_page": "첫 페이지", "no_payments": "결제가 없습니다.",
    "created": "생성 시각", "order_id": "주문번호", "payment_id": "결제 ID", "payment_key": "paymentKey",
    "amount": "금액", "customer": "고객", "payment_number": "결제번호",
    # detail
    "payment": "결제 상세", "authorized": "승인 금액", "captured": "매입 금액", "refunded": "환불 금액",
    "fee": "수수료", "net": "정산 금액", "card": "카드", "timeline": "타임라인", "kind": "종류", "at": "시각",
    "what": "내용", "attempt": "PG 요청", "refund": "환불", "event": "이벤트", "delivery": "웹훅 전송",
    "actions": "작업", "capture": "매입", "cancel": "결제 취소", "refund_full": "전액 환불",
    "refund_partial": "부분 환불", "reason": "사유", "confirm_title": "확인해 주세요",
    "confirm_capture": "이 결제를 매입합니다.", "confirm_cancel": "이 결제를 취소합니다. 받은 돈은 모두 환불됩니다.",
    "confirm_refund": "{amount}을(를) 환불합니다.", "confirm": "실행", "back": "돌아가기",
    "refundable": "환불 가능 금액", "viewer_note": "보기 전용 계정은 변경할 수 없습니다.",
    "done": "요청을 처리했습니다.", "in_progress": "같은 요청이 처리 중입니다. 잠시 후 새로 고쳐 주세요.",
    "bad_amount": "금액을 올바르게 입력해 주세요.", "forbidden": "이 작업을 할 권한이 없습니다.",
    "not_found": "찾을 수 없습니다.", "error": "요청을 처리하지 못했습니다.",
    # webhooks
    "endpoints": "엔드포인트", "url": "URL", "events": "이벤트", "description": "설명", "enabled": "사용",
    "disabled": "사용 중지", "create": "만들기", "save": "저장", "disable": "사용 중지", "enable": "다시 사용",
    "rotate": "서명 비밀키 교체", "secret_once": "서명 비밀키입니다. 지금 한 번만 보여 드립니다.",
    "deliveries": "전송 기록", "attempts": "시도", "response": "응답", "request": "요청", "resend": "다시 보내기",
    "resend_failed": "실패한 전송 모두 다시 보내기", "no_endpoints": "엔드포인트가 없습니다.",
    "no_deliveries": "전송 기록이 없습니다.", "events_hint": "쉼표로 구분한 이벤트 유형, 또는 * (전부)",
    # developers
    "api_keys": "API 키", "mode": "모드", "prefix": "접두사", "revoked": "폐기됨", "revoke": "폐기",
    "new_key": "새 키 만들기", "test_key": "테스트 키", "live_key": "라이브 키",
    "key_once": "비밀 키입니다. 지금 한 번만 보여 드립니다. 안전한 곳에 보관하세요.",
    "api_reference": "API 문서", "docs": "Swagger UI (/docs)",
    # audit
    "action": "작업", "who": "누가", "where": "어디서", "target": "대상", "no_entries": "기록이 없습니다.",
    "older": "이전 기록",
    # settings
    "merchant_name": "가맹점 이름", "fees": "수수료", "bps": "정률 (bp, 1/100 %)", "fixed": "정액",
    "toss_keys": "토스페이먼츠 키", "toss_key": "시크릿 키", "key_ends": "끝 4자리", "not_set": "설정 안 됨",
    "jwt": "사용자 JWT", "hs256_secret": "HS256 비밀키", "jwks_url": "JWKS URL", "issuer": "발급자 (iss)",
    "audience": "대상 (aud)", "live_users": "사용자 결제를 라이브로", "write_only": "저장 후에는 보이지 않습니다.",
    "staff": "직원", "role": "역할", "two_factor": "2단계 인증", "on": "사용", "off": "사용 안 함",
    "add_staff": "직원 추가", "totp_setup": "2단계 인증 켜기", "totp_secret": "인증 앱에 이 키를 등록하세요",
    "totp_enable": "켜기", "totp_disable": "2단계 인증 끄기",
    "recovery_once": "복구 코드입니다. 지금 한 번만 보여 드립니다. 각 코드는 한 번씩 쓸 수 있습니다.",
    "owner": "소유자", "admin": "관리자", "viewer": "보기 전용",
}

_EN: dict[str, str] = {
    "brand": "Gyeol dashboard", "skip": "Skip to content", "nav": "Main menu",
    "home": "Home", "payments": "Payments", "webhooks": "Webhooks", "developers": "Developers", "audit": "Audit log",
    "settings": "Settings", "account": "My account", "signout": "Sign out", "switch_lang": "한국어",
    "test_banner": "You are viewing test data. No real money moves.", "live_banner": "Live data",
    "view_live": "View live data", "view_test": "View test data",
    "signin": "Sign in", "email": "E-mail", "password": "Password", "signin_button": "Sign in",
    "signin_refused": "The e-mail or password is not right.",
    "signin_locked": "Too many sign-in attempts: signing in is locked for 15 minutes. Try again later.",
    "csrf": "This page has expired. Reload it and try again.",
    "second_factor": "Two-factor sign-in", "code": "Authentication code or recovery code",
    "code_hint": "The 6-digit code from your authenticator app, or one recovery code.", "verify": "Verify",
    "code_refused": "The code is not right.", "signed_out": "You are signed out.",
    "today": "Today", "last30": "Last 30 days", "method": "Method", "currency": "Currency", "volume": "Volume",
    "count": "Payments", "success_rate": "Success rate", "refunds": "Refunds", "nothing_yet": "No payments yet.",
    "volume_chart": "Volume per day", "outcome_chart": "Outcomes per day", "succeeded": "Succeeded",
    "failed": "Failed", "other": "Other", "chart_note": "One bar per day (Korean time).",
    "filters": "Filters", "from": "From", "to": "To", "status": "Status", "api": "Created through", "any": "Any",
    "amount_min": "Minimum amount", "amount_max": "Maximum amount",
    "search": "Search (payment id, orderId, paymentKey, payment number, customer)", "apply": "Search",
    "reset": "Reset", "export": "Export CSV", "next_page": "Next page", "first_page": "First page",
    "no_payments": "No payments.", "created": "Created", "order_id": "orderId", "payment_id": "Payment id",
    "payment_key": "paymentKey", "amount": "Amount", "customer": "Customer", "payment_number": "Payment number",
    "payment": "Payment", "authorized": "Authorized", "captured": "Captured", "refunded": "Refunded",
    "fee": "Fee", "net": "Net", "card": "Card", "timeline": "Timeline", "kind": "Kind", "at": "At",
    "what": "What", "attempt": "PG attempt", "refund": "Refund", "event": "Event", "delivery": "Webhook delivery",
    "actions": "Actions", "capture": "Capture", "cancel": "Cancel payment", "refund_full": "Refund in full",
    "refund_partial": "Refund in part", "reason": "Reason", "confirm_title": "Please confirm",
    "confirm_capture": "Capture this payment.", "confirm_cancel": "Cancel this payment; money taken is refunded.",
    "confirm_refund": "Refund {amount}.", "confirm": "Confirm", "back": "Back",
    "refundable": "Refundable", "viewer_note": "A viewer account cannot make changes.",
    "done": "Done.", "in_progress": "The same request is in progress; reload in a moment.",
    "bad_amount": "Enter a valid amount.", "forbidden": "You may not do this.",
    "not_found": "Not found.", "error": "The request could not be completed.",
    "endpoints": "Endpoints", "url": "URL", "events": "Events", "description": "Description", "enabled": "Enabled",
    "disabled": "Disabled", "create": "Create", "save": "Save", "disable": "Disable", "enable": "Enable",
    "rotate": "Rotate signing secret", "secret_once": "The signing secret, shown this once.",
    "deliveries": "Deliveries", "attempts": "Attempts", "response": "Response", "request": "Request",
    "resend": "Resend", "resend_failed": "Resend all failed", "no_endpoints": "No endpoints.",
    "no_deliveries": "No deliveries.", "events_hint": "Event types separated by commas, or * for all",
    "api_keys": "API keys", "mode": "Mode", "prefix": "Prefix", "revoked": "Revoked", "revoke": "Revoke",
    "new_key": "Create a key", "test_key": "Test key", "live_key": "Live key",
    "key_once": "The secret key, shown this once. Keep it somewhere safe.",
    "api_reference": "API reference", "docs": "Swagger UI (/docs)",
    "action": "Action", "who": "Who", "where": "From", "target": "Target", "no_entries": "No entries.",
    "older": "Older entries",
    "merchant_name": "Merchant name", "fees": "Fees", "bps": "Rate (basis points)", "fixed": "Fixed",
    "toss_keys": "Toss Payments keys", "toss_key": "Secret key", "key_ends": "Ends with", "not_set": "Not set",
    "jwt": "Users' JWTs", "hs256_secret": "HS256 secret", "jwks_url": "JWKS URL", "issuer": "Issuer (iss)",
    "audience": "Audience (aud)", "live_users": "Users' payments are live", "write_only": "Not shown once saved.",
    "staff": "Staff", "role": "Role", "two_factor": "Two-factor", "on": "On", "off": "Off",
    "add_staff": "Add staff", "totp_setup": "Turn on two-factor sign-in",
    "totp_secret": "Add this key to your authenticator app", "totp_enable": "Turn on",
    "totp_disable": "Turn off two-factor sign-in",
    "recovery_once": "Recovery codes, shown this once. Each works one time.",
    "owner": "Owner", "admin": "Admin", "viewer": "Viewer",
}

TEXT = {"ko": {**_KO, **texts_money.KO}, "en": {**_EN, **texts_money.EN}}
assert set(_KO) == set(_EN) and not set(_KO) & set(texts_money.KO)


def lang_of(value: str | None) -> str:
    return value if value in LANGS else "ko"
