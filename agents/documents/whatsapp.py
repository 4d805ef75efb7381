"""A document or photo a customer sent on WhatsApp: fetched through the Cloud API's media
endpoint and read as a batch of one, or recorded as not downloaded for a person to ask again."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from agents.documents.flow import batch_submit
from agents.documents.intake import MAX_BYTES, DocumentError, Upload, too_large
from bmc.breakers import WHATSAPP, breaker_guard
from bmc.conversations.models import Message
from bmc.documents.models import Document, DocumentBatch


def whatsapp_media_fetch(*, media_id: str) -> bytes:
    """A document a customer sent on WhatsApp, through the Cloud API's media endpoint: the media id
    gives a short-lived URL, fetched with the same token. Timeouts and 5xx raise ConnectionError
    (worth a retry) and count against WhatsApp's circuit breaker, which while open raises its own
    ConnectionError without asking; anything else is a DocumentError."""
    import requests
    from django.conf import settings

    if not settings.WHATSAPP_TOKEN:
        raise DocumentError(
            gettext("not downloaded: WHATSAPP_TOKEN is not set, so the file cannot be fetched from WhatsApp.")
        )
    headers = {"Authorization": f"Bearer {settings.WHATSAPP_TOKEN}"}

    def get(url: str, *, stream: bool = False) -> requests.Response:
        with breaker_guard(WHATSAPP, unwell=lambda error: isinstance(error, ConnectionError)):
            try:
                response = requests.get(url, headers=headers, timeout=settings.OUTBOUND_TIMEOUT, stream=stream)
            except (requests.ConnectionError, requests.Timeout) as error:
                raise ConnectionError(f"WhatsApp media: {error}") from error
            if response.status_code == 429 or response.status_code >= 500:
                raise ConnectionError(f"WhatsApp media answered {response.status_code}")
        if not response.ok:
            raise DocumentError(
                gettext("WhatsApp refused the media %(media)s: %(answer)s")
                % {"media": media_id, "answer": f"{response.status_code} {response.text[:200]}"}
            )
        return response

    meta = get(f"{settings.WHATSAPP_API_BASE.rstrip('/')}/{media_id}").json()
    if int(meta.get("file_size") or 0) > MAX_BYTES:
        raise DocumentError(too_large(int(meta["file_size"])))
    content = bytearray()
    with get(meta["url"], stream=True) as response:  # never more than the limit in memory
        for chunk in response.iter_content(chunk_size=256 * 1024):
            content += chunk
            if len(content) > MAX_BYTES:
                raise DocumentError(
                    gettext("over %(limit)s MB: at most that per file.") % {"limit": MAX_BYTES // 1024 // 1024}
                )
    return bytes(content)


def whatsapp_media_read(*, message_id: int, last_try: bool) -> dict[str, Any]:
    """A document or photo a customer sent on WhatsApp: fetched through the Cloud API and read as a
    batch of one (the payment-notice turn finds it as a receipt). Without credentials the document
    is recorded as not downloaded, for a person to ask for it. WhatsApp not answering raises
    ConnectionError (worth another try) unless it is the `last_try`."""
    message = Message.objects.select_related("conversation").get(pk=message_id)
    if Document.objects.filter(message=message).exists():
        return {"message_id": message_id, "already": True}
    facts = (message.raw_payload or {}).get("bmc") or {}
    kind = (message.raw_payload or {}).get("type", "document")
    filename = facts.get("filename") or f"whatsapp-{kind}-{message_id}"
    try:
        content = whatsapp_media_fetch(media_id=facts.get("media_id") or "")
    except ConnectionError as error:
        if not last_try:
            raise
        error = DocumentError(
            gettext("not downloaded: WhatsApp did not answer after retries (%(error)s).") % {"error": error}
        )
        return _media_not_read(message, filename, error)
    except DocumentError as error:
        return _media_not_read(message, filename, error)
    batch = batch_submit(
        tenant=message.conversation.tenant,
        uploads=[Upload(filename=filename, content=content)],
        source=DocumentBatch.Source.WHATSAPP,
        name=filename,
        message=message,
    )
    return {"message_id": message_id, "batch_id": batch.pk}


def _media_not_read(message, filename: str, error: Exception) -> dict[str, Any]:
    """The customer's file could not be fetched: recorded, for a person to ask for it again."""
    with transaction.atomic():
        batch = DocumentBatch.objects.create(
            tenant_id=message.tenant_id,
            source=DocumentBatch.Source.WHATSAPP,
            name=filename,
            total=1,
            status=DocumentBatch.Status.DONE,
            finished_at=timezone.now(),
        )
        Document.objects.create(
            tenant_id=message.tenant_id,
            batch=batch,
            filename=filename,
            sha256="",
            message=message,
            status=Document.Status.FAILED,
            error=str(error),
            review=Document.Review.PENDING,
            review_reason=(gettext("could not be read: %(error)s") % {"error": error})[:300],
        )
    return {"message_id": message.pk, "error": str(error)}
