"""Request shapes shared by the faces that speak Toss's paymentKey flow (kiosk, shop)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt, StrictStr

from gyeol.core.money import MAX_AMOUNT
from gyeol.faces.native.schemas import Strict
from gyeol.toss_v1 import ORDER_ID_MAX, ORDER_ID_PATTERN, PAYMENT_KEY_MAX, PAYMENT_KEY_PATTERN

PaymentKey = Annotated[StrictStr, Field(min_length=1, max_length=PAYMENT_KEY_MAX, pattern=PAYMENT_KEY_PATTERN)]
OrderId = Annotated[StrictStr, Field(min_length=1, max_length=ORDER_ID_MAX, pattern=ORDER_ID_PATTERN)]
Amount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT)]


class KeyedPaymentIn(Strict):
    payment_key: PaymentKey = Field(alias="paymentKey")
    order_id: OrderId = Field(alias="orderId")
    amount: Amount
