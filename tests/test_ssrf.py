"""Where webhooks may go: live endpoints only to public https addresses, judged by what a name resolves to."""

from __future__ import annotations

import pytest

from conftest import Env
from gyeol.core.errors import DomainError
from gyeol.core.webhooks.ssrf import check_url

# name -> addresses, as an injected resolver (there is no DNS here, and a name must be refused for its address)
DNS = {
    "hooks.shop.example": ["93.184.216.34"],
    "rebind.attacker.example": ["127.0.0.1"],
    "127.0.0.1.nip.example": ["127.0.0.1"],
    "split.attacker.example": ["93.184.216.34", "10.1.2.3"],
    "metadata.attacker.example": ["169.254.169.254"],
    "v6local.attacker.example": ["::1"],
    "mapped.attacker.example": ["::ffff:192.168.1.10"],
    "ula.attacker.example": ["fd00::1"],
    "cgnat.attacker.example": ["100.64.0.7"],
    "v6public.shop.example": ["2606:2800:220:1:248:1893:25c8:1946"],
}


async def resolver(host: str) -> list[str]:
    if host not in DNS:
        raise OSError("no such name")
    return DNS[host]


REFUSED_LIVE = [
    "http://hooks.shop.example/webhook",  # live needs https
    "https://127.0.0.1/hook",
    "https://localhost.attacker.example/hook",  # does not resolve
    "https://2130706433/hook",  # decimal 127.0.0.1
    "https://0x7f000001/hook",  # hex
    "https://0177.0.0.1/hook",  # octal
    "https://127.1/hook",  # short form
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped IPv6
    "https://[::ffff:7f00:1]/hook",
    "https://10.0.0.8/hook",
    "https://172.16.4.4/hook",
    "https://192.168.0.1/hook",
    "https://169.254.169.254/latest/meta-data",  # cloud metadata
    "https://[fe80::1]/hook",  # link-local
    "https://0.0.0.0/hook",
    "https://rebind.attacker.example/hook",  # DNS-rebinding style name -> 127.0.0.1
    "https://127.0.0.1.nip.example/hook",
    "https://split.attacker.example/hook",  # one private address among public ones
    "https://metadata.attacker.example/hook",
    "https://v6local.attacker.example/hook",
    "https://mapped.attacker.example/hook",
    "https://ula.attacker.example/hook",
    "https://cgnat.attacker.example/hook",
    "https://[2002:7f00:1::]/hook",  # 6to4 wrapping 127.0.0.1
    "https://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
    "https://[::169.254.169.254]/latest/meta-data",  # IPv4-compatible IPv6
    "https://[::127.0.0.1]/hook",
    "https://[::a9fe:a9fe]/hook",
    "https://[::ffff:0:a9fe:a9fe]/hook",  # IPv4-translated (SIIT) IPv6
    "https://[::ffff:0:7f00:1]/hook",
    "https://[::ffff:0:10.0.0.1]/hook",
    "https://[::]/hook",
    "http://[::1/hook",  # does not parse
    "https://hooks.shop.example:99999/hook",  # no such port
    "https://user:pw@hooks.shop.example/hook",
    "ftp://hooks.shop.example/hook",
]


@pytest.mark.parametrize("url", REFUSED_LIVE)
async def test_refused_in_live_mode(url: str) -> None:
    with pytest.raises(DomainError) as err:
        await check_url(url, livemode=True, resolver=resolver)
    assert err.value.code == "UNSAFE_WEBHOOK_URL"


@pytest.mark.parametrize("url", ["https://hooks.shop.example/webhook", "https://93.184.216.34/x",
                                 "https://v6public.shop.example/hook", "https://[2606:2800:220:1::1]/hook"])
async def test_public_https_allowed_in_live_mode(url: str) -> None:
    await check_url(url, livemode=True, resolver=resolver)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://localhost.test:1/x", "http://[::1]:9/x",
                                 "http://hooks.shop.example/webhook"])
async def test_test_mode_allows_http_and_loopback(url: str) -> None:
    async def local(host: str) -> list[str]:
        return ["127.0.0.1"] if host == "localhost.test" else await resolver(host)
    await check_url(url, livemode=False, resolver=local)


@pytest.mark.parametrize("url", ["http://10.0.0.8/hook", "http://169.254.169.254/", "http://split.attacker.example/x",
                                 "http://[::169.254.169.254]/", "http://[::ffff:0:a9fe:a9fe]/",
                                 "http://[::ffff:0:10.1.2.3]/", "http://[::1/x", "http://127.0.0.1:99999/x"])
async def test_test_mode_still_refuses_private_networks(url: str) -> None:
    with pytest.raises(DomainError):
        await check_url(url, livemode=False, resolver=resolver)


async def test_live_key_registration_uses_the_guard(env: Env) -> None:
    env.svc.webhooks.resolver = resolver
    _, live_key = await env.svc.merchants.create_key(env.merchant_id, "live")
    live = env.client_for(live_key)
    for url in ("https://rebind.attacker.example/hook", "https://2130706433/hook", "http://hooks.shop.example/",
                "https://[::169.254.169.254]/", "https://[::127.0.0.1]/", "https://[::ffff:0:a9fe:a9fe]/"):
        r = await live.post("/api/v1/webhook-endpoints", json={"url": url, "events": ["*"]})
        assert r.status_code == 400 and r.json()["error"]["code"] == "UNSAFE_WEBHOOK_URL", r.text
    r = await live.post("/api/v1/webhook-endpoints", json={"url": "https://hooks.shop.example/webhook",
                                                           "events": ["*"]})
    assert r.status_code == 200, r.text


async def test_checked_again_at_delivery(env: Env) -> None:
    """A name that was public at registration and now points inside is refused when delivering."""
    env.svc.webhooks.resolver = resolver
    env.svc.dispatcher.resolver = resolver
    _, live_key = await env.svc.merchants.create_key(env.merchant_id, "live")
    live = env.client_for(live_key)
    r = await live.post("/api/v1/webhook-endpoints", json={"url": "https://hooks.shop.example/webhook",
                                                           "events": ["*"]})
    ep = r.json()
    DNS["hooks.shop.example"] = ["127.0.0.1"]
    try:
        from gyeol.core.events import outbox
        async with env.svc.db.tx() as conn:
            await outbox.add(conn, merchant_id=env.merchant_id, type="order.paid",
                             obj={"orderId": "o", "livemode": True},
                             resource_id="o", now=env.svc.clock.now())
        await env.svc.relay.run_once()
        await env.svc.dispatcher.run_once()
    finally:
        DNS["hooks.shop.example"] = ["93.184.216.34"]
    log = (await live.get(f"/api/v1/webhook-endpoints/{ep['endpointId']}/deliveries")).json()["items"]
    assert log[0]["status"] == "pending" and log[0]["lastStatusCode"] is None
    assert "private" in log[0]["lastError"]
