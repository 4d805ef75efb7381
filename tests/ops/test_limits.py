"""Tiers and limits: each API key's requests per second (a token bucket in Redis), each company's
messages per day and documents per month, and the usage counted and shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from bmc.conversations.models import InboundPayload, Message
from bmc.core.limits import tier_limits, usage_flush, usage_this_month, usage_today
from bmc.core.models import Tenant, TenantUsage
from bmc.core.services import api_key_create

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "whatsapp"


@pytest.fixture
def committed(django_capture_on_commit_callbacks, monkeypatch):
    """Each request's commit callbacks (the usage counts) run as it ends, as outside a test."""
    original = APIClient.generic

    def generic(self, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return original(self, *args, **kwargs)

    monkeypatch.setattr(APIClient, "generic", generic)


def client_for(tenant: Tenant) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(tenant=tenant, name='limits')[1]}")
    return client


def message(client: APIClient, n: int, phone: str = "+59899100300"):
    return client.post(
        "/api/v1/messages",
        {
            "channel": "n8n",
            "from": phone,
            "text": f"hola {n}",
            "external_id": f"limits-{n}",
            "sent_at": "2026-11-21T10:00:00-03:00",
        },
        format="json",
    )


def test_a_new_company_gets_the_basic_tier_of_20_requests_a_second_with_bursts_of_60(db):
    tenant = Tenant.objects.create(slug="nueva", name="Nueva")
    assert tenant.tier == "basic"
    limits = tier_limits(tenant.tier)
    assert (limits.requests_per_second, limits.burst) == (20, 60)


def test_a_burst_over_the_tier_is_refused_with_429_and_retry_after_and_the_key_recovers(tenant, settings):
    client = client_for(tenant)
    answers = [client.get("/api/v1/quotes") for _ in range(120)]
    codes = [a.status_code for a in answers]
    assert codes[:60] == [200] * 60, codes[:60]  # the burst
    refused = [a for a in answers if a.status_code == 429]
    # refilled at 20 a second while the loop ran: some more pass, most of the rest do not
    assert len(refused) >= 30, codes
    first = refused[0]
    assert first["Retry-After"] == "1"
    error = first.json()["error"]
    assert error["code"] == "rate_limited"
    assert "'basic' tier allows 20 per second with bursts of 60" in error["message"]
    assert answers[0]["X-RateLimit-Limit"] == "20" and answers[0]["X-RateLimit-Burst"] == "60"
    assert int(answers[0]["X-RateLimit-Remaining"]) == 59

    # another key of the same company has a bucket of its own
    assert client_for(tenant).get("/api/v1/quotes").status_code == 200
    # and a second later this one may send again
    import time

    time.sleep(1.05)
    assert client.get("/api/v1/quotes").status_code == 200


def test_the_bucket_is_shared_by_every_web_process(tenant):
    """Two web processes are two Redis connections to one bucket: tokens taken through another
    connection are gone for this one too."""
    from bmc.core.limits import api_key_bucket_take
    from bmc.core.models import ApiKey

    client = client_for(tenant)
    client.get("/api/v1/quotes")
    key = ApiKey.objects.filter(tenant=tenant).order_by("-created").first()
    limits = tier_limits("basic")
    for _ in range(40):  # another web process's requests
        api_key_bucket_take(key_id=key.prefix, limits=limits)
    assert int(client.get("/api/v1/quotes")["X-RateLimit-Remaining"]) < 25  # 60 - 42, and the refill meanwhile


def test_an_enterprise_company_is_not_held_to_the_basic_burst(tenant):
    tenant.tier = Tenant.Tier.ENTERPRISE
    tenant.save()
    client = client_for(tenant)
    assert {client.get("/api/v1/quotes").status_code for _ in range(150)} == {200}


def test_messages_over_the_day_quota_are_refused_and_the_raw_body_kept(tenant, settings, committed):
    settings.TIER_LIMITS = {**settings.TIER_LIMITS, "basic": {**settings.TIER_LIMITS["basic"], "messages_per_day": 2}}
    client = client_for(tenant)
    assert [message(client, n).status_code for n in (1, 2)] == [202, 202]
    refused = message(client, 3)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 25 * 3600  # until midnight in Montevideo
    error = refused.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert "messages limit of this company's tier is 2 per day" in error["message"]
    kept = InboundPayload.objects.filter(tenant=tenant).order_by("-id").first()
    assert "limits-3" in kept.body
    assert kept.outcome == InboundPayload.Outcome.REJECTED
    assert not Message.objects.filter(external_id="limits-3").exists()
    assert usage_today(tenant_id=tenant.pk)["messages"] == 2


def test_whatsapp_is_never_refused_over_the_quota(tenant, client, settings):
    import hashlib
    import hmac

    settings.TIER_LIMITS = {**settings.TIER_LIMITS, "basic": {**settings.TIER_LIMITS["basic"], "messages_per_day": 0}}
    settings.WHATSAPP_APP_SECRET = "secret"
    body = (FIXTURES / "text_message.json").read_bytes()
    signature = "sha256=" + hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    response = client.post(
        "/api/v1/webhooks/whatsapp", body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature
    )
    assert response.status_code == 200
    assert Message.objects.filter(tenant=tenant, channel="whatsapp").exists()


def test_documents_over_the_month_quota_are_refused(tenant, settings, committed):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.TIER_LIMITS = {
        **settings.TIER_LIMITS,
        "basic": {**settings.TIER_LIMITS["basic"], "documents_per_month": 2},
    }
    client = client_for(tenant)
    files = [SimpleUploadedFile(f"f{n}.txt", f"Factura {n}".encode(), "text/plain") for n in range(3)]
    refused = client.post("/api/v1/documents/batches", {"files": files}, format="multipart")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "quota_exceeded"
    assert "documents limit" in refused.json()["error"]["message"]
    files = [SimpleUploadedFile(f"g{n}.txt", f"Factura {n}".encode(), "text/plain") for n in range(2)]
    assert client.post("/api/v1/documents/batches", {"files": files}, format="multipart").status_code == 201
    assert usage_this_month(tenant_id=tenant.pk)["documents"] == 2


def test_usage_is_copied_to_the_admin_and_given_back_to_a_redis_that_lost_it(tenant, admin_client, committed):
    client = client_for(tenant)
    for n in range(3):
        assert message(client, n).status_code == 202
    assert usage_flush() >= 1
    row = TenantUsage.objects.get(tenant=tenant)
    assert row.messages == 3

    # Redis restarted empty: the next flush gives it the day's and the month's counts back
    client_redis = redis.Redis.from_url(settings.REDIS_URL)
    client_redis.delete(*client_redis.keys(f"bmc:usage:{tenant.pk}:*"))
    assert usage_today(tenant_id=tenant.pk) == {}
    usage_flush()
    assert usage_today(tenant_id=tenant.pk)["messages"] == 3
    assert usage_this_month(tenant_id=tenant.pk)["messages"] == 3
    assert TenantUsage.objects.get(tenant=tenant).messages == 3

    page = admin_client.get(f"/admin/core/tenant/{tenant.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "3 / 2.000" in text or "3 / 2000" in text, text[text.find("usage") : text.find("usage") + 400]


def test_the_schema_documents_429_with_retry_after():
    from pathlib import Path

    import yaml

    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "data" / "openapi.yaml").read_text())
    refused = schema["paths"]["/api/v1/messages"]["post"]["responses"]["429"]
    assert "Retry-After" in refused["headers"]
    assert "webhooks" not in json.dumps({p: o for p, o in schema["paths"].items() if "429" in json.dumps(o)}), (
        "a webhook documented as throttled"
    )


def test_a_tier_is_set_from_the_command_line(tenant):
    from django.core.management import CommandError, call_command

    call_command("set_tier", tenant=tenant.slug, tier="pro")
    tenant.refresh_from_db()
    assert tenant.tier == "pro"
    with pytest.raises(CommandError, match="Unknown tenant 'nadie'"):
        call_command("set_tier", tenant="nadie", tier="pro")


def test_the_model_is_not_asked_past_the_month_tokens_and_its_cost_is_counted(tenant, settings):
    from agents.nlu.model import message_understand
    from tests.agents.nlu.test_model import FakeOpenAI

    fake = FakeOpenAI()
    fake.answer = {"intent": "greeting", "confidence": 0.9, "entities": {}}
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL, settings.OPENAI_MODEL = "sk-test", fake.url + "/v1", "m"
    settings.OPENAI_COST_INPUT_PER_M, settings.OPENAI_COST_OUTPUT_PER_M = 1_000_000, 2_000_000  # 3 USD a call
    settings.TIER_LIMITS = {
        **settings.TIER_LIMITS,
        "basic": {**settings.TIER_LIMITS["basic"], "model_tokens_per_month": 3},
    }
    try:
        sources = [message_understand(text="hola", tenant_id=tenant.pk)["source"] for _ in range(3)]
    finally:
        fake.close()
    assert sources == ["model", "model", "rules"]  # 2 tokens a call: the third would pass 3
    assert len(fake.requests) == 2
    month = usage_this_month(tenant_id=tenant.pk)
    assert month["model_tokens"] == 4 and month["model_cost_micro_usd"] == 6_000_000
