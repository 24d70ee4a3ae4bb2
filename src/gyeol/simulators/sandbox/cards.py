"""The sandbox's test cards and tokens. A number is read once, at tokenization, and dropped."""

from __future__ import annotations

TEST_CARDS: dict[str, str] = {
    "4242424242424242": "succeed",
    "5555555555554444": "succeed",
    "4000000000000002": "decline:card_declined",
    "4000000000009995": "decline:insufficient_funds",
    "4000000000000069": "decline:expired_card",
    "4000000000000127": "decline:incorrect_cvc",
    "4000000000000119": "decline:processing_error",
    "4000000000003220": "3ds",
}

# Magic tokens, as Stripe's test mode has them: (brand, last4, behavior).
MAGIC_TOKENS: dict[str, tuple[str, str, str]] = {
    "tok_visa": ("visa", "4242", "succeed"),
    "tok_mastercard": ("mastercard", "4444", "succeed"),
    "tok_chargeDeclined": ("visa", "0002", "decline:card_declined"),
}

DECLINE_MESSAGES = {
    "card_declined": "The card was declined.",
    "insufficient_funds": "The card has insufficient funds.",
    "expired_card": "The card has expired.",
    "incorrect_cvc": "The card's security code is incorrect.",
    "processing_error": "An error occurred while processing the card.",
}


def behavior_of(number: str) -> str:
    return TEST_CARDS.get(number, "succeed")


def brand_of(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    two = int(number[:2])
    four = int(number[:4])
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard"
    if two in (34, 37):
        return "amex"
    if 3528 <= four <= 3589:
        return "jcb"
    if number.startswith(("9", "1")):
        return "local"
    if number.startswith("6"):
        return "discover"
    return "unknown"
