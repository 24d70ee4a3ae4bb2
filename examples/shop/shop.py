"""결 상점 (Gyeol Shop): a small merchant web shop in front of Gyeol, the kind seed 004 describes.

Products, then an order. The buyer chooses a payment window; the shop's server registers the order in Gyeol
(`POST /api/v1/orders`) before any payment, creates the payment with a paymentKey of its own (`POST /v1/payments
{paymentKey, orderId, amount, successUrl, failUrl}`) and sends the buyer to the answer's `checkout.url`. The window
comes back the way Toss's does: to `successUrl` with `?paymentKey=&orderId=&amount=`, or to `failUrl` with
`?code=&message=&orderId=` (a cancel is code PAY_PROCESS_CANCELED). The shop holds two of Gyeol's merchants, and
Gyeol decides the window by the merchant's PG:

- Gyeol's hosted checkout (the default), for the shop's merchant on the sandbox PG (`SHOP_SECRET_KEY`). The
  checkout takes the card or the bank and charges nothing (or issues a virtual account).
- Toss's payment window, for the shop's merchant whose PG is Toss (`SHOP_TOSS_SECRET_KEY`; under `make demo`,
  Gyeol's Toss simulator plays Toss). Gyeol opens the payment at Toss, and the answer's paymentKey is Toss's.
Either window only authenticates; the confirm below is what charges. A confirm that Gyeol's card declines, or that
waits on a 3-D Secure challenge, sends the buyer back to Gyeol's window, which shows why or the challenge.

The success page trusts nothing in its query: the shop's server checks the amount against its own order and that
the paymentKey is one it opened for this order, then calls Gyeol's confirm (`POST /api/payments/confirm`, seed
004) with its secret key, and links the receipt. The secret key never reaches the browser. No JavaScript, no
CDN: one stylesheet served by the shop.

Run: `python examples/shop/shop.py --port 9080` (settings in SHOP_* variables, below), or `make demo`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: int  # KRW


PRODUCTS = [
    Product("mug", "결 머그컵", 12_000),
    Product("beans", "핸드드립 원두 200g", 15_000),
    Product("bag", "리넨 에코백", 9_000),
]
CANCELED = "PAY_PROCESS_CANCELED"  # Toss's failUrl code for a buyer's cancel


@dataclass
class Order:
    order_id: str
    lines: list[tuple[Product, int]]
    amount: int
    name: str
    status: str = "created"  # → "paid" once Gyeol's confirm answered
    windows: dict[str, str] = field(default_factory=dict)  # paymentKey → the window it was opened in
    registered: set[str] = field(default_factory=set)  # the windows whose merchant in Gyeol knows the order
    payment_key: str | None = None
    settlement_id: str | None = None  # from the confirm's answer: what a real shop books for its accounts
    receipt_url: str | None = None


@dataclass
class Config:
    gyeol_url: str  # how the shop's server reaches Gyeol (and the origin its pages' forms may redirect to)
    secret_key: str  # the Gyeol secret key of the shop's merchant on the sandbox PG: server side only
    public_url: str  # how buyers reach the shop (returnUrl, successUrl, …)
    name: str = "결 상점"
    toss_secret_key: str | None = None  # the Gyeol secret key of the shop's merchant whose PG is Toss, if any

    @classmethod
    def from_env(cls, port: int) -> Config:
        return cls(gyeol_url=os.environ.get("SHOP_GYEOL_URL", "http://127.0.0.1:9090").rstrip("/"),
                   secret_key=os.environ.get("SHOP_SECRET_KEY", "test_sk_dummy"),
                   public_url=os.environ.get("SHOP_PUBLIC_URL", f"http://127.0.0.1:{port}").rstrip("/"),
                   name=os.environ.get("SHOP_NAME", "결 상점"),
                   toss_secret_key=os.environ.get("SHOP_TOSS_SECRET_KEY") or None)


async def form_of(request: Request) -> dict[str, str]:
    """An urlencoded form body (the shop's forms are small; no multipart parser needed)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), max_num_fields=20))


def won(amount: int) -> str:
    return f"{amount:,}원"


class GyeolError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body

    @property
    def message(self) -> str:
        b = self.body
        err = b.get("error")
        if isinstance(err, dict):  # the native API's {error: {code, message}}
            return str(err.get("message") or err.get("code") or "")
        return str(b.get("message") or err or b.get("code") or f"HTTP {self.status}")


class Gyeol:
    """The shop's server-side client for Gyeol, authenticated with one of the shop's secret keys."""

    def __init__(self, cfg: Config, secret_key: str) -> None:
        token = base64.b64encode(f"{secret_key}:".encode()).decode()
        self.client = httpx.AsyncClient(base_url=cfg.gyeol_url, timeout=20.0,
                                        headers={"Authorization": f"Basic {token}"})

    async def call(self, method: str, path: str, json: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            r = await self.client.request(method, path, json=json, headers=headers)
        except httpx.HTTPError as exc:
            raise GyeolError(502, {"message": f"결 서버에 연결하지 못했습니다 ({type(exc).__name__})."}) from None
        try:
            body = r.json()
        except ValueError:
            body = {"message": r.text[:200]}
        if r.status_code >= 400:
            raise GyeolError(r.status_code, body if isinstance(body, dict) else {"message": str(body)})
        return body if isinstance(body, dict) else {}

    async def aclose(self) -> None:
        await self.client.aclose()


# --- pages ------------------------------------------------------------------------------------------------
def page(cfg: Config, title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (f'<!doctype html><html lang="ko"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} · {escape(cfg.name)}</title>"
            f'<link rel="stylesheet" href="/static/shop.css"></head><body>'
            f'<header><a class="brand" href="/">{escape(cfg.name)}</a></header>'
            f"<main>{body}</main>"
            f"<footer><p>결(Gyeol) 예제 상점 · 테스트 모드: 실제로 결제되지 않습니다.</p></footer>"
            f"</body></html>")
    gyeol = "{0.scheme}://{0.netloc}".format(urlsplit(cfg.gyeol_url))
    csp = (f"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' {gyeol}; "
           f"base-uri 'none'; frame-ancestors 'none'")
    return HTMLResponse(html, status_code=status,
                        headers={"Content-Security-Policy": csp, "Cache-Control": "no-store",
                                 "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"})


def order_table(order: Order) -> str:
    rows = "".join(f"<tr><td>{escape(p.name)}</td><td class=\"num\">{q}</td><td class=\"num\">{won(p.price * q)}</td>"
                   f"</tr>" for p, q in order.lines)
    return (f'<table><caption>주문 번호 <span id="order-id">{escape(order.order_id)}</span></caption>'
            f'<thead><tr><th scope="col">상품</th><th scope="col" class="num">수량</th>'
            f'<th scope="col" class="num">금액</th></tr></thead><tbody>{rows}</tbody>'
            f'<tfoot><tr><th scope="row" colspan="2">합계</th><td class="num" id="order-amount">{won(order.amount)}'
            f"</td></tr></tfoot></table>")


class Shop:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.orders: dict[str, Order] = {}
        # A merchant per window: Gyeol opens each merchant's payments in the window of its PG.
        self.gyeol = {"gyeol": Gyeol(cfg, cfg.secret_key)}
        if cfg.toss_secret_key:
            self.gyeol["toss"] = Gyeol(cfg, cfg.toss_secret_key)

    # 1. the product list
    async def home(self, request: Request) -> Response:
        items = "".join(
            f'<li class="product"><span class="name" id="name-{p.sku}">{escape(p.name)}</span>'
            f'<span class="price">{won(p.price)}</span>'
            f'<label for="qty-{p.sku}">수량<span class="sr-only"> ({escape(p.name)})</span></label>'
            f'<input id="qty-{p.sku}" name="{p.sku}" type="number" min="0" max="9" value="{1 if i == 0 else 0}"'
            f' inputmode="numeric"></li>' for i, p in enumerate(PRODUCTS))
        body = (f"<h1>상품</h1><form method=\"post\" action=\"/orders\"><ul class=\"products\">{items}</ul>"
                f'<button type="submit" id="order-button">주문하기</button></form>')
        return page(self.cfg, "상품", body)

    # 2. the order: the shop's own record, registered in Gyeol before any payment (seed 004, 3단계)
    async def create_order(self, request: Request) -> Response:
        form = await form_of(request)
        lines: list[tuple[Product, int]] = []
        for p in PRODUCTS:
            raw = str(form.get(p.sku) or "0")
            qty = int(raw) if raw.isdigit() else 0
            if 0 < qty <= 9:
                lines.append((p, qty))
        if not lines:
            return page(self.cfg, "주문", '<h1>주문</h1><p role="alert">상품을 하나 이상 고르세요.</p>'
                                          '<p><a href="/">상품 목록으로</a></p>', status=400)
        amount = sum(p.price * q for p, q in lines)
        name = lines[0][0].name + (f" 외 {len(lines) - 1}건" if len(lines) > 1 else "")
        order = Order(order_id=f"shop-{secrets.token_hex(8)}", lines=lines, amount=amount, name=name)
        try:
            await self._register(order, "gyeol")
        except GyeolError as err:
            return page(self.cfg, "주문 실패", f'<h1>주문하지 못했습니다</h1><p role="alert">{escape(err.message)}</p>'
                                            '<p><a href="/">상품 목록으로</a></p>', status=502)
        self.orders[order.order_id] = order
        return RedirectResponse(f"/orders/{order.order_id}", status_code=303)

    async def _register(self, order: Order, window: str) -> None:
        """The order, registered with the merchant of `window` in Gyeol (seed 004, 3단계), once."""
        if window in order.registered:
            return
        await self.gyeol[window].call("POST", "/api/v1/orders", {
            "orderId": order.order_id, "amount": order.amount, "currency": "KRW", "orderName": order.name,
            "items": [{"name": p.name, "amount": p.price, "quantity": q} for p, q in order.lines]})
        order.registered.add(window)

    async def show_order(self, request: Request) -> Response:
        order = self.orders.get(request.path_params["order_id"])
        if order is None:
            return page(self.cfg, "주문", "<h1>주문</h1><p>주문을 찾을 수 없습니다.</p>", status=404)
        if order.status != "paid":
            await self._refresh(order)  # a virtual account may have been paid meanwhile
        if order.status == "paid":
            return self._paid_page(order)
        toss = ('<label><input type="radio" name="window" value="toss"> 토스 결제창 (토스 가맹점)</label>'
                if "toss" in self.gyeol else "")
        body = (f'<h1>주문 확인</h1>{order_table(order)}<p id="order-status">결제 전</p>'
                f'<form method="post" action="/orders/{order.order_id}/pay" class="pay">'
                f'<fieldset><legend>결제창</legend>'
                f'<label><input type="radio" name="window" value="gyeol" checked> 결 결제창 (카드·계좌이체·가상계좌)'
                f"</label>{toss}"
                f'</fieldset><button type="submit" id="pay-now">{won(order.amount)} 결제하기</button></form>')
        return page(self.cfg, "주문 확인", body)

    # 3. the redirect to the payment window; it comes back to successUrl or failUrl, as Toss's window does
    async def pay(self, request: Request) -> Response:
        order = self.orders.get(request.path_params["order_id"])
        if order is None:
            return page(self.cfg, "주문", "<h1>주문</h1><p>주문을 찾을 수 없습니다.</p>", status=404)
        if order.status == "paid":
            return RedirectResponse(f"/orders/{order.order_id}", status_code=303)
        form = await form_of(request)
        window = "toss" if form.get("window") == "toss" and "toss" in self.gyeol else "gyeol"
        base = self.cfg.public_url
        try:
            await self._register(order, window)
            # A payment with a paymentKey of the shop's own. Gyeol opens it in the window of the merchant's PG (its
            # own checkout, or Toss's, whose paymentKey the answer then carries), which authenticates the buyer and
            # returns with paymentKey, orderId and amount.
            created = await self.gyeol[window].call("POST", "/v1/payments", {
                "paymentKey": f"{order.order_id}-{secrets.token_hex(6)}", "orderId": order.order_id,
                "amount": order.amount, "successUrl": f"{base}/success", "failUrl": f"{base}/fail"})
            key = str(created.get("paymentKey") or "")
            url = str((created.get("checkout") or {}).get("url") or "")
            if not key or not url:
                raise GyeolError(502, {"message": "결 서버가 결제창 주소를 주지 않았습니다."})
        except GyeolError as err:
            return self._problem(order, "결제창을 열지 못했습니다", err.message, 502)
        order.windows[key] = window
        return RedirectResponse(url, status_code=303)

    # 4. back from the window with ?paymentKey=&orderId=&amount=: the shop's server confirms with Gyeol
    async def success(self, request: Request) -> Response:
        q = request.query_params
        order = self.orders.get(q.get("orderId", ""))
        key = q.get("paymentKey", "")
        if order is None or not key:
            return page(self.cfg, "결제 확인", '<h1 id="shop-result">결제 확인</h1><p role="alert" id="shop-error">'
                                             "주문을 찾을 수 없습니다.</p>", status=404)
        if q.get("amount") != str(order.amount):  # never trust the redirect's amount
            return self._problem(order, "결제 금액이 주문과 다릅니다", f"주문 금액은 {won(order.amount)}입니다.", 400)
        return await self._confirm(order, key)

    async def retry_confirm(self, request: Request) -> Response:
        form = await form_of(request)
        order = self.orders.get(str(form.get("orderId") or ""))
        key = str(form.get("paymentKey") or "")
        if order is None or not key:
            return page(self.cfg, "결제 확인", "<h1>결제 확인</h1><p>주문을 찾을 수 없습니다.</p>", status=404)
        return await self._confirm(order, key)

    async def _confirm(self, order: Order, key: str) -> Response:
        if order.status == "paid":
            return self._paid_page(order)
        window = order.windows.get(key)
        if window is None:
            return self._problem(order, "결제를 확인하지 못했습니다", "이 주문에서 연 결제가 아닙니다.", 400)
        gyeol = self.gyeol[window]
        if window == "gyeol":
            # Gyeol's checkout authenticates the buyer (IN_PROGRESS), or shows a virtual account that is APPROVED
            # once paid into: make sure the buyer got that far before confirming anything. (Toss keeps the
            # authentication in its own window to itself: its confirm refuses a payment nobody authenticated.)
            try:
                p = await gyeol.call("GET", f"/v1/payments/{key}")
            except GyeolError as err:
                return self._problem(order, "결제를 확인하지 못했습니다", err.message, 502, retry_key=key)
            if p.get("status") not in ("IN_PROGRESS", "APPROVED"):
                return self._problem(order, "결제가 완료되지 않았습니다", "결제창에서 결제를 마치지 않았습니다.", 402)
        # Either window only authenticates: this confirm is what approves the payment.
        try:
            done = await gyeol.call("POST", "/api/payments/confirm",
                                         {"paymentKey": key, "orderId": order.order_id, "amount": order.amount})
        except GyeolError as err:
            back = await self._back_to_window(key) if window == "gyeol" and err.status != 502 else None
            if back:
                return RedirectResponse(back, status_code=303)
            return self._problem(order, "결제 승인에 실패했습니다", err.message, err.status, retry_key=key)
        order.status, order.payment_key = "paid", key
        order.settlement_id = done.get("settlementId")
        order.receipt_url = await self._receipt_url(gyeol, key)
        return self._paid_page(order)

    async def _back_to_window(self, key: str) -> str | None:
        """Gyeol's window again, when the confirm needs the buyer: a declined card (the window shows why and takes
        another) or a 3-D Secure challenge. Gyeol charges at this confirm, so that is where the card answers."""
        try:
            p = await self.gyeol["gyeol"].call("GET", f"/v1/payments/{key}")
        except GyeolError:
            return None
        checkout = p.get("checkout")
        if p.get("status") in ("ABORTED", "IN_PROGRESS") and isinstance(checkout, dict) and checkout.get("url"):
            return str(checkout["url"])
        return None

    async def _receipt_url(self, gyeol: Gyeol, key: str) -> str | None:
        try:  # the Toss-style payment object carries receipt.url
            p = await gyeol.call("GET", f"/v1/payments/{key}")
        except GyeolError:
            return None
        receipt = p.get("receipt")
        return str(receipt["url"]) if isinstance(receipt, dict) and receipt.get("url") else None

    async def _refresh(self, order: Order) -> None:
        """Ask Gyeol about an unpaid order: a virtual account's deposit (issued in Gyeol's window) lands while the
        buyer is away."""
        if "gyeol" not in order.windows.values():
            return
        try:
            p = await self.gyeol["gyeol"].call("GET", f"/v1/payments/orders/{order.order_id}")
        except GyeolError:
            return
        if p.get("status") == "APPROVED" and p.get("paymentKey") in order.windows:
            await self._confirm(order, str(p["paymentKey"]))

    def _paid_page(self, order: Order) -> Response:
        receipt = (f'<p><a id="receipt-link" href="{escape(order.receipt_url)}">영수증 보기</a></p>'
                   if order.receipt_url else "")
        body = (f'<h1 id="shop-result">결제가 완료되었습니다</h1><p id="order-status">결제 완료</p>{order_table(order)}'
                f"{receipt}<p><a href=\"/\">계속 쇼핑하기</a></p>")
        return page(self.cfg, "결제 완료", body)

    def _problem(self, order: Order, title: str, message: str, status: int, retry_key: str | None = None
                 ) -> Response:
        retry = (f'<form method="post" action="/success/retry"><input type="hidden" name="orderId" '
                 f'value="{escape(order.order_id)}"><input type="hidden" name="paymentKey" value="{escape(retry_key)}">'
                 f'<button type="submit" id="retry-confirm">승인 다시 시도</button></form>') if retry_key else ""
        body = (f'<h1 id="shop-result">{escape(title)}</h1><p role="alert" id="shop-error">{escape(message)}</p>'
                f'{order_table(order)}{retry}<p><a id="back-to-order" href="/orders/{order.order_id}">'
                f"주문으로 돌아가 다시 결제하기</a></p>")
        return page(self.cfg, title, body, status=status if 400 <= status < 600 else 502)

    # 5. the other endings: failUrl gets ?code=&message=&orderId=; a buyer's cancel is one of its codes
    async def fail(self, request: Request) -> Response:
        q = request.query_params
        order = self.orders.get(q.get("orderId", ""))
        back = (f'<p><a id="back-to-order" href="/orders/{order.order_id}">주문으로 돌아가 다시 결제하기</a></p>'
                if order else "")
        code = q.get("code", "")
        if code == CANCELED:
            body = (f'<h1 id="shop-result">결제를 취소했습니다</h1><p id="shop-error">결제하지 않았습니다. 주문은 '
                    f'그대로 남아 있습니다.</p>{back}<p><a href="/">상품 목록으로</a></p>')
            return page(self.cfg, "결제 취소", body)
        message = q.get("message") or "결제에 실패했습니다."
        body = (f'<h1 id="shop-result">결제에 실패했습니다</h1><p role="alert" id="shop-error">{escape(message)}'
                f'{f" ({escape(code)})" if code else ""}</p>{back}<p><a href="/">상품 목록으로</a></p>')
        return page(self.cfg, "결제 실패", body)

    async def healthz(self, request: Request) -> Response:
        return Response("ok", media_type="text/plain")


def create_app(cfg: Config) -> Starlette:
    shop = Shop(cfg)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        for gyeol in shop.gyeol.values():
            await gyeol.aclose()

    app = Starlette(routes=[
        Route("/", shop.home),
        Route("/orders", shop.create_order, methods=["POST"]),
        Route("/orders/{order_id}", shop.show_order),
        Route("/orders/{order_id}/pay", shop.pay, methods=["POST"]),
        Route("/success", shop.success),
        Route("/success/retry", shop.retry_confirm, methods=["POST"]),
        Route("/fail", shop.fail),
        Route("/healthz", shop.healthz),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ], lifespan=lifespan)
    app.state.shop = shop
    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SHOP_PORT", "9080")))
    args = parser.parse_args()
    uvicorn.run(create_app(Config.from_env(args.port)), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
