"""The container: one instance of each service, built from Settings by `create_app` or the CLI."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from starlette.types import Scope

from gyeol.auth.keys import KeyAuthenticator
from gyeol.auth.ratelimit import RateLimiter
from gyeol.auth.users import JwtConfig, UserAuthenticator, looks_like_jwt
from gyeol.brokers import Broker, broker_from_url
from gyeol.config import Settings
from gyeol.connectors.registry import Connectors
from gyeol.connectors.sandbox.connector import SandboxConnector
from gyeol.connectors.toss.connector import TossConnector
from gyeol.core.clock import Clock
from gyeol.core.context import Caller
from gyeol.core.customers.service import CustomerService
from gyeol.core.dashboard.service import Dashboard
from gyeol.core.events import outbox
from gyeol.core.events.relay import OutboxRelay
from gyeol.core.idempotency import IdempotencyStore
from gyeol.core.ledger.service import LedgerService
from gyeol.core.merchants.service import KeyHasher, MerchantService
from gyeol.core.orders.service import OrderService
from gyeol.core.payments.checkout import CheckoutService
from gyeol.core.payments.keyed import KeyedPayments
from gyeol.core.payments.pg_calls import PgCalls
from gyeol.core.payments.service import PaymentService
from gyeol.core.reconciliation.service import ReconciliationService
from gyeol.core.refunds.service import RefundService
from gyeol.core.settlements.service import SettlementService
from gyeol.core.staff.audit import AuditLog
from gyeol.core.staff.service import StaffService
from gyeol.core.staff.signin import SignIn
from gyeol.core.webhooks.delivery import WebhookDispatcher
from gyeol.core.webhooks.service import WebhookService
from gyeol.crypto import DataCipher
from gyeol.db.engine import Database
from gyeol.faces.native import views as native_views
from gyeol.metrics import Metrics
from gyeol.secrets_store import var_secret
from gyeol.simulators.sandbox.pg import SandboxPG
from gyeol.simulators.sandbox.webhooks import SandboxWebhookSender


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    connectors: Connectors
    sandbox: SandboxPG  # the sandbox PG itself, for its own test endpoints; Gyeol pays through its connector
    merchants: MerchantService
    keys: KeyAuthenticator
    users: UserAuthenticator
    orders: OrderService
    customers: CustomerService
    refunds: RefundService
    payments: PaymentService
    idempotency: IdempotencyStore
    rate_limiter: RateLimiter
    public_limiter: RateLimiter  # per client address, on the routes that need no key
    sandbox_webhook_secret: str
    sandbox_sender: SandboxWebhookSender
    cipher: DataCipher
    settlements: SettlementService
    reconciliation: ReconciliationService
    ledger: LedgerService
    keyed: KeyedPayments
    webhooks: WebhookService
    dispatcher: WebhookDispatcher
    relay: OutboxRelay
    broker: Broker | None
    checkout: CheckoutService
    page_secret: bytes  # the buyer's pages' CSRF key
    metrics: Metrics
    staff: StaffService
    signin: SignIn
    audit: AuditLog
    dashboard: Dashboard

    async def resolve_caller(self, scope: Scope) -> Caller | None:
        state = scope.setdefault("state", {})
        if "caller" in state:
            caller: Caller | None = state["caller"]
            return caller
        authorization = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                authorization = v.decode("latin-1")
                break
        caller = await self.keys.caller(authorization)
        if caller is None and authorization and authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
            if looks_like_jwt(token):
                caller = await self.users.caller(token)
        state["caller"] = caller
        return caller

    async def close(self) -> None:
        await self.dispatcher.aclose()
        if self.broker is not None:
            await self.broker.close()
        await self.sandbox_sender.client.aclose()
        await self.connectors.aclose()
        await self.db.dispose()


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    clock = clock or Clock()
    # Events speak the native API's objects; the core renders none itself.
    outbox.use_renderer(native_views.render)
    metrics = Metrics()
    db = Database(settings.database_url, on_wait=metrics.db_wait)
    key_secret = settings.key_hash_secret or var_secret(settings.var_dir, "key_hash_secret")
    hasher = KeyHasher(key_secret.encode())
    fingerprint_key = hashlib.sha256(b"fingerprint:" + key_secret.encode()).digest()
    sandbox = SandboxPG(db, clock, fingerprint_key=fingerprint_key, latency_ms=settings.sandbox_latency_ms,
                        public_url=settings.base_url())
    cipher = DataCipher.from_settings(settings.encryption_keys, settings.var_dir)
    # The first is the default: the PG of test-mode payments that no merchant's own PG account claims.
    connectors = Connectors(SandboxConnector(sandbox),
                            TossConnector(settings.toss_base_url, timeout=settings.pg_timeout_seconds))
    pgs = PgCalls(db, cipher, connectors, observe=metrics.pg_call)
    merchants = MerchantService(db, clock, hasher)
    orders = OrderService(db, clock)
    customers = CustomerService(db, clock, pgs, cipher)
    refunds = RefundService(db, clock, pgs)
    payments = PaymentService(db, clock, pgs, orders, customers, refunds, base_url=settings.base_url(),
                              intent_ttl=timedelta(minutes=settings.intent_ttl_minutes), cipher=cipher,
                              va_ttl=settings.va_ttl_delta(),
                              confirm_ttl=timedelta(minutes=settings.confirm_ttl_minutes))
    idempotency = IdempotencyStore(db, clock, ttl=timedelta(hours=settings.idempotency_ttl_hours),
                                   lease=timedelta(seconds=settings.idempotency_lease_seconds), cipher=cipher)
    webhook_secret = settings.sandbox_webhook_secret or var_secret(settings.var_dir, "sandbox_webhook_secret",
                                                                    make="whsec")
    broker = broker_from_url(settings.event_broker_url)
    keyed = KeyedPayments(db, payments, settings.base_url())
    staff = StaffService(db, clock, cipher)
    return Services(
        settings=settings, db=db, clock=clock, connectors=connectors, sandbox=sandbox, merchants=merchants,
        keys=KeyAuthenticator(merchants),
        users=UserAuthenticator(merchants, cipher, JwtConfig(
            hs256_secret=settings.jwt_secret, public_key=settings.jwt_public_key, jwks_url=settings.jwt_jwks_url,
            issuer=settings.jwt_issuer, audience=settings.jwt_audience)),
        orders=orders, customers=customers, refunds=refunds, payments=payments,
        idempotency=idempotency, rate_limiter=RateLimiter(settings.rate_limit),
        public_limiter=RateLimiter(settings.rate_limit_public),
        sandbox_webhook_secret=webhook_secret,
        sandbox_sender=SandboxWebhookSender(webhook_secret, settings.base_url() + "/api/v1/webhooks/payments"),
        cipher=cipher,
        settlements=SettlementService(db, clock),
        reconciliation=ReconciliationService(db, clock, pgs),
        ledger=LedgerService(db, clock),
        keyed=keyed,
        webhooks=WebhookService(db, clock, cipher),
        dispatcher=WebhookDispatcher(db, clock, cipher, retry_scale=settings.webhook_retry_scale,
                                     lease=timedelta(seconds=settings.webhook_lease_seconds),
                                     timeout=settings.webhook_timeout_seconds, observe=metrics.webhook_delivery),
        relay=OutboxRelay(db, clock, broker),
        broker=broker,
        checkout=CheckoutService(payments),
        page_secret=hashlib.sha256(b"pages:" + key_secret.encode()).digest(),
        metrics=metrics,
        staff=staff, signin=SignIn(db, clock, staff), audit=AuditLog(db), dashboard=Dashboard(db, clock),
    )
