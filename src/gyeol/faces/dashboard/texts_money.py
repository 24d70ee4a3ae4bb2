"""What the settlements and reconciliation pages say, in Korean and English; `texts.TEXT` holds them with the
rest."""

from __future__ import annotations

KO: dict[str, str] = {
    "settlements": "정산", "reconciliation": "대사", "balance": "잔액", "available": "지급 가능",
    "pending": "지급 대기", "balance_note": "지급일이 지난 금액은 지급 가능, 지나지 않은 금액은 지급 대기입니다.",
    "no_balance": "아직 잔액이 없습니다.",
    "payouts": "지급", "payout_id": "지급 ID", "payout_date": "지급일", "paid_settlements": "지급한 정산",
    "settlement_id": "정산 ID", "gross": "거래 금액", "kind_payment": "승인", "kind_adjustment": "환불 조정",
    "st_scheduled": "지급 예정", "st_paid": "지급 완료", "no_settlements": "정산 내역이 없습니다.",
    "no_payouts": "지급 내역이 없습니다.", "older_payouts": "이전 지급",
    "runs": "대사 실행 기록", "run": "대사 실행", "pg": "PG", "source": "보고서 출처", "src_api": "PG API",
    "src_import": "가져온 CSV", "src_auto": "자동", "sale_days": "거래일 범위", "sale_day": "거래일",
    "ran_at": "실행 시각", "times": "실행 횟수", "counts": "상태별 건수", "rs_completed": "완료", "rs_failed": "실패",
    "state": "대사 결과", "state_matched": "일치", "state_expected": "지급 전", "state_amount_mismatch": "금액 불일치",
    "state_fee_mismatch": "수수료 불일치", "state_date_mismatch": "지급일 불일치", "state_missing_at_pg": "PG 누락",
    "state_unknown_to_gyeol": "결에 기록 없음", "start_run": "대사 실행하기",
    "run_hint": "한국 날짜 기준, 양 끝 포함, 최대 31일. PG를 비우면 가맹점의 PG입니다.",
    "open_exceptions": "미해결 예외", "no_exceptions": "예외가 없습니다.", "no_runs": "대사 실행 기록이 없습니다.",
    "transaction_id": "거래 ID", "gyeol_side": "결 장부", "pg_side": "PG 보고서", "resolve": "해결 처리",
    "note": "메모", "resolved": "해결됨", "open": "미해결", "resolved_by": "처리자", "exceptions": "예외",
    "rows_by_state": "상태별 행", "gyeol_rows": "결 장부 행", "report_rows": "보고서 행", "failure": "실패 사유",
    "type": "구분", "view": "보기", "newer": "최근", "older_runs": "이전 기록", "all_states": "모든 예외",
}

EN: dict[str, str] = {
    "settlements": "Settlements", "reconciliation": "Reconciliation", "balance": "Balance",
    "available": "Available", "pending": "Pending",
    "balance_note": "Money whose payout date has come is available; the rest is pending.",
    "no_balance": "No balance yet.",
    "payouts": "Payouts", "payout_id": "Payout id", "payout_date": "Payout date",
    "paid_settlements": "Settlements paid", "settlement_id": "Settlement id", "gross": "Gross",
    "kind_payment": "Approval", "kind_adjustment": "Refund adjustment", "st_scheduled": "Scheduled",
    "st_paid": "Paid", "no_settlements": "No settlements.", "no_payouts": "No payouts.",
    "older_payouts": "Older payouts",
    "runs": "Runs", "run": "Reconciliation run", "pg": "PG", "source": "Report source", "src_api": "PG API",
    "src_import": "Imported CSV", "src_auto": "Automatic", "sale_days": "Sale days", "sale_day": "Sale day",
    "ran_at": "Run at", "times": "Times run", "counts": "Rows per state", "rs_completed": "Completed",
    "rs_failed": "Failed", "state": "State", "state_matched": "Matched", "state_expected": "Expected",
    "state_amount_mismatch": "Amount mismatch", "state_fee_mismatch": "Fee mismatch",
    "state_date_mismatch": "Payout date mismatch", "state_missing_at_pg": "Missing at the PG",
    "state_unknown_to_gyeol": "Unknown to Gyeol", "start_run": "Run a reconciliation",
    "run_hint": "Korean days, both ends included, up to 31 days. An empty PG means the merchant's own.",
    "open_exceptions": "Open exceptions", "no_exceptions": "No exceptions.", "no_runs": "No runs yet.",
    "transaction_id": "Transaction id", "gyeol_side": "Gyeol's books", "pg_side": "PG's report",
    "resolve": "Resolve", "note": "Note", "resolved": "Resolved", "open": "Open", "resolved_by": "Resolved by",
    "exceptions": "Exceptions", "rows_by_state": "Rows by state", "gyeol_rows": "Rows in Gyeol's books",
    "report_rows": "Rows in the report", "failure": "Failure", "type": "Type", "view": "View", "newer": "Newest",
    "older_runs": "Older runs", "all_states": "All exceptions",
}
assert set(KO) == set(EN)
