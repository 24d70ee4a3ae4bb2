"""Values that must never be stored, logged or answered: full card numbers in every spelling, distinctive CVCs,
and (appended by the features that handle them) bank and virtual account numbers."""

from __future__ import annotations

CARD_NUMBERS = [
    "4242424242424242", "5555555555554444", "4000000000000002", "4000000000009995", "4000000000000069",
    "4000000000000127", "4000000000000119", "4000000000003220", "4000056655665556", "6011000990139424",
    "1234567890123456",
]
# CVCs used by the leak test only; 4 digits can occur by chance in ids and hashes, so the scan looks for them
# in stored and logged *fields* (values), not anywhere in a blob.
LEAK_CVCS = ["8642", "9753"]
# Buyers' bank accounts (bank transfers): stored encrypted, never shown again.
ACCOUNT_NUMBERS: list[str] = ["110-234-567890", "110234567890", "1002-345-678901", "1002345678901"]
# Customers' contact details in billing details: encrypted at rest.
CONTACTS = ["leak-test@example.com", "010-9876-5432"]


def spellings(number: str) -> list[str]:
    groups = [number[i:i + 4] for i in range(0, len(number), 4)]
    return [number, "-".join(groups), " ".join(groups)]


def needles() -> list[str]:
    out = [s for n in CARD_NUMBERS for s in spellings(n)]
    return out + ACCOUNT_NUMBERS


def leaks(text: str) -> list[str]:
    return [n for n in needles() if n in text]
