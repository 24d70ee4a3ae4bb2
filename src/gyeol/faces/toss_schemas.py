"""Request shapes shared by the faces that speak Toss's paymentKey flow (kiosk, shop)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt, StrictStr

from gyeol.core.money import MAX_AMOUNT
from gyeol.faces.native.schemas import Strict

PaymentKey = Annotated[StrictStr, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_\-=.]+$")]
OrderId = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Amount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT)]


class KeyedPaymentIn(Strict):
    payment_key: PaymentKey = Field(alias="paymentKey")
    order_id: OrderId = Field(alias="orderId")
    amount: Amount
