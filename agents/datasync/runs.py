"""Sync runs: started on demand or by beat, one per source at a time, executed by the data sync
agent's worker, with each source's circuit breaker (docs/datasync.md)."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext, pgettext

from agents.datasync.http import SourceError
from agents.quotes.catalog import CatalogError
from agents.staff import admin_place, staff_task_open
from bmc.core.models import Tenant, tenant_get
from bmc.datasync.models import Source, SyncRun, SyncSource
from bmc.jobs.submit import task_submit
from bmc.quotes.models import CatalogVersion
from bmc.sales.models import StaffTask

logger = logging.getLogger(__name__)
COUNTS = ("read", "created", "updated", "unchanged", "refused")
REFUSALS_KEPT = 500


class SyncNotConfigured(ValueError):
    """A source asked to run without the settings it needs (said in the request's language: the
    admin's Spanish, the API's English)."""


class SyncBusy(Exception):
    """A run of the source is already queued or running."""

    def __init__(self, run: SyncRun) -> None:
        super().__init__(
            gettext("Run %(run)s of %(source)s is %(status)s: one run of a source at a time.")
            % {"run": run.pk, "source": run.source, "status": run.get_status_display().lower()}
        )
        self.run = run


@dataclass(frozen=True)
class SourceSpec:
    settings_needed: tuple[tuple[str, ...], ...]  # each tuple: at least one of these set
    run: Callable[[SyncRun, SyncSource], dict[str, Any]]


def _sheets_run(run: SyncRun, source: SyncSource) -> dict[str, Any]:
    """The price list and the CRM sheet, each on its own: a price list that cannot be read (its
    header wrong) does not keep the CRM sheet from being written, and the run says both."""
    sheets = _source_module("sheets")
    client = sheets.sheets_client()
    tenant = run.tenant
    parts: dict[str, Any] = {}
    if settings.SHEETS_PRICE_LIST_ID:
        try:
            parts["price_list"] = sheets.price_list_pull(tenant=tenant, client=client)
        except (SourceError, CatalogError) as error:
            parts["price_list"] = {"error": f"{error.__class__.__name__}: {error}"}
    if settings.SHEETS_CRM_ID:
        cursor = dict(source.cursor.get("crm", {}))
        try:
            parts.update(sheets.crm_push(tenant=tenant, client=client, cursor=cursor))
        except SourceError as error:
            parts["crm"] = {"error": f"{error.__class__.__name__}: {error}"}
        source.cursor = source.cursor | {"crm": cursor}
    parts["api_calls"] = client.http_client.calls
    return parts


def _source_module(name: str) -> Any:
    """A source's module, imported when it first runs: their client libraries (gspread and
    google-auth, ShopifyAPI) cost every worker process a quarter of a second at start, and only
    the data sync agent's runs use them."""
    return importlib.import_module(f"agents.datasync.{name}")


SOURCES: dict[str, SourceSpec] = {
    Source.SHEETS: SourceSpec(
        settings_needed=(("GOOGLE_SHEETS_CREDENTIALS",), ("SHEETS_PRICE_LIST_ID", "SHEETS_CRM_ID")),
        run=_sheets_run,
    ),
    Source.MERCADOLIBRE: SourceSpec(
        settings_needed=(
            ("MERCADOLIBRE_CLIENT_ID",),
            ("MERCADOLIBRE_CLIENT_SECRET",),
            ("MERCADOLIBRE_REFRESH_TOKEN",),
        ),
        run=lambda run, source: _source_module("mercadolibre").mercadolibre_run(tenant=run.tenant, source=source),
    ),
    Source.SHOPIFY: SourceSpec(
        settings_needed=(("SHOPIFY_SHOP",), ("SHOPIFY_ACCESS_TOKEN",)),
        run=lambda run, source: _source_module("shopify").shopify_run(tenant=run.tenant, source=source),
    ),
}


def sync_missing_settings(source: str) -> list[str]:
    """What a source still needs configured: each entry a setting, or settings of which one will do."""
    spec = SOURCES.get(source)
    if spec is None:
        return [f"{source} is not synchronised yet"]
    either = f" {pgettext('between the names of settings', 'or')} "
    return [either.join(names) for names in spec.settings_needed if not any(getattr(settings, n) for n in names)]


def sync_source_get(*, tenant: Tenant, source: str) -> SyncSource:
    row, _ = SyncSource.objects.get_or_create(tenant=tenant, source=source)
    return row


def sync_run_start(*, tenant: Tenant, source: str, trigger: str) -> SyncRun:
    """A run of the source, queued for the data sync agent. SyncNotConfigured names what is
    missing; SyncBusy gives the run already under way."""
    if source not in Source.values:
        raise SyncNotConfigured(
            gettext("'%(source)s' is not a source: one of %(sources)s.")
            % {"source": source, "sources": ", ".join(Source.values)}
        )
    missing = sync_missing_settings(source)
    if missing:
        raise SyncNotConfigured(
            gettext("%(source)s is not configured: set %(settings)s (docs/datasync.md).")
            % {"source": source, "settings": "; ".join(missing)}
        )
    if tenant.slug != settings.DEFAULT_TENANT_SLUG:
        # the credentials in the environment are the default company's sheet, shop and seller
        raise SyncNotConfigured(
            gettext(
                "%(source)s is configured for the company '%(tenant)s' only: another company's runs would read "
                "and write its accounts."
            )
            % {"source": source, "tenant": settings.DEFAULT_TENANT_SLUG}
        )
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(tenant=tenant, source=source, trigger=trigger)
            task_submit(
                tenant=tenant, task_type="datasync.sync_run", payload={"run_id": run.pk}, requested_by=f"sync {trigger}"
            )
    except IntegrityError:
        active = SyncRun.objects.filter(tenant=tenant, source=source, status__in=SyncRun.ACTIVE).first()
        if active is None:  # it finished in between: try once more
            return sync_run_start(tenant=tenant, source=source, trigger=trigger)
        raise SyncBusy(active) from None
    return run


def _breaker_record(source: SyncSource, *, error: str | None) -> None:
    now = timezone.now()
    if error is None:
        source.failures, source.open_until, source.last_error, source.last_success_at = 0, None, "", now
        return
    source.failures += 1
    source.last_error = error[:2000]
    over = source.failures - settings.SYNC_BREAKER_FAILURES
    if over >= 0:
        # open, and for longer each time the trial after it fails too (at most an hour)
        seconds = min(settings.SYNC_BREAKER_SECONDS * 2**over, 3600)
        source.open_until = now + timedelta(seconds=seconds)
        logger.warning(
            "sync source %s failed %d runs in a row: not called for %d s", source.source, source.failures, seconds
        )


def _result_apply(run: SyncRun, parts: dict[str, Any]) -> None:
    run.api_calls = parts.pop("api_calls", 0)
    refusals: list[dict[str, Any]] = []
    for name, part in parts.items():
        for count in COUNTS:
            setattr(run, count, getattr(run, count) + part.get(count, 0))
        refusals += [{"part": name} | r for r in part.get("refusals", [])]
        if part.get("held"):
            run.held = part["held"] | {"part": name}
    run.refusals = refusals[:REFUSALS_KEPT]
    run.detail = {
        name: {k: v for k, v in part.items() if k not in ("refusals", "held", "detail")} | part.get("detail", {})
        for name, part in parts.items()
    }


def sync_run_execute(*, tenant_id: int, run_id: int) -> dict[str, Any]:
    """Carry out a queued run (or one whose worker died: it starts over, and writes nothing twice)."""
    with transaction.atomic():
        run = tenant_get(SyncRun.objects.select_for_update().select_related("tenant"), tenant_id=tenant_id, pk=run_id)
        if run.status not in SyncRun.ACTIVE:
            return {"run_id": run.pk, "status": run.status}
        run.status, run.started_at = SyncRun.Status.RUNNING, timezone.now()
        run.save(update_fields=["status", "started_at"])
    source = sync_source_get(tenant=run.tenant, source=run.source)
    if source.circuit_open and run.trigger == "schedule":
        return _run_finish(
            run,
            source,
            error=gettext("Circuit open until %(until)s: %(error)s")
            % {"until": f"{timezone.localtime(source.open_until):%d/%m/%Y %H:%M}", "error": source.last_error},
            count=False,
        )
    try:
        parts = SOURCES[run.source].run(run, source)
    except (SourceError, CatalogError, OSError) as error:
        logger.warning("sync run %s of %s failed: %s", run.pk, run.source, error)
        return _run_finish(run, source, error=f"{error.__class__.__name__}: {error}")
    except Exception as error:  # a bug: the run says so, and the task fails with its traceback
        _run_finish(run, source, error=f"{error.__class__.__name__}: {error}")
        raise
    failed = [
        f"{name}: {part['error']}" for name, part in parts.items() if isinstance(part, dict) and part.get("error")
    ]
    _result_apply(run, parts)
    return _run_finish(run, source, error="; ".join(failed) or None)


def _run_finish(run: SyncRun, source: SyncSource, *, error: str | None, count: bool = True) -> dict[str, Any]:
    if count:
        _breaker_record(source, error=error)
    run.finished_at = timezone.now()
    if error:
        run.status, run.error = SyncRun.Status.FAILED, error[:4000]
    elif run.held:
        run.status = SyncRun.Status.HELD
    else:
        run.status = SyncRun.Status.SUCCEEDED
    with transaction.atomic():
        run.save()
        # the run's own fields: a circuit closed by hand meanwhile stays closed unless this run failed
        source.save(update_fields=["cursor", "secrets", "failures", "open_until", "last_error", "last_success_at"])
        if run.status == SyncRun.Status.HELD:
            _held_announce(run)
        elif run.status == SyncRun.Status.SUCCEEDED and run.detail.get("price_list", {}).get("catalog_version"):
            # the sheet imported since: an older hold must not bring its rows back
            SyncRun.objects.filter(tenant=run.tenant, source=run.source, status=SyncRun.Status.HELD).update(
                status=SyncRun.Status.FAILED,
                error=gettext("Replaced by run %(run)s, which imported the sheet.") % {"run": run.pk},
            )
    return {"run_id": run.pk, "status": run.status} | {c: getattr(run, c) for c in COUNTS}


def _held_announce(run: SyncRun) -> None:
    """Older held runs of the source give way to this one; staff get one task per distinct hold."""
    SyncRun.objects.filter(tenant=run.tenant, source=run.source, status=SyncRun.Status.HELD).exclude(pk=run.pk).update(
        status=SyncRun.Status.FAILED, error=gettext("Replaced by the later held run %(run)s.") % {"run": run.pk}
    )
    removed = run.held.get("removed", [])
    staff_task_open(
        tenant_id=run.tenant_id,
        kind=StaffTask.Kind.SYNC_HELD,
        dedupe_key=f"sync-held:{run.source}:{','.join(removed)[:80]}:{len(removed)}",
        title=ngettext(
            "The price list would remove %(count)s product: approve it or correct the sheet",
            "The price list would remove %(count)s products: approve it or correct the sheet",
            len(removed),
        )
        % {"count": len(removed)},
        detail=run.held.get("reason", "")
        + "\n"
        + gettext("Approve it in %(place)s > #%(run)s.") % {"place": admin_place(SyncRun), "run": run.pk},
    )


def sync_run_approve(*, run: SyncRun, user: Any) -> SyncRun:
    """A held price list imported because a person approved it."""
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().get(pk=run.pk)
        if run.status != SyncRun.Status.HELD or not run.held:
            raise ValueError(
                gettext("Run %(run)s is %(status)s, not held: there is nothing to approve.")
                % {"run": run.pk, "status": run.get_status_display().lower()}
            )
        current = CatalogVersion.objects.filter(tenant=run.tenant, is_current=True).values_list("version", flat=True)
        if run.held.get("catalog_version") != current.first():
            raise ValueError(
                gettext(
                    "The catalog changed since run %(run)s held the sheet (now version %(version)s): its rows are "
                    "no longer what the sheet says; the next run reads it again."
                )
                % {"run": run.pk, "version": current.first()}
            )
        saved = _source_module("sheets").price_list_held_import(
            tenant=run.tenant, held=run.held, source=f"Google Sheets, approved in run {run.pk}"
        )
        run.status, run.approved_by = SyncRun.Status.SUCCEEDED, user
        run.detail = run.detail | {"approved": {"catalog_version": saved["version"], "new_version": saved["created"]}}
        run.save(update_fields=["status", "approved_by", "detail"])
    return run


def sync_scan(*, now: Any = None) -> dict[str, Any]:
    """Beat's run: runs left behind by a lost worker are failed, and each configured source of the
    default tenant whose circuit is closed gets a run."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SYNC_RUN_STALE_SECONDS)  # past any run's time limit
    stale = SyncRun.objects.filter(
        Q(status=SyncRun.Status.QUEUED, created_at__lt=cutoff) | Q(status=SyncRun.Status.RUNNING, started_at__lt=cutoff)
    ).update(
        status=SyncRun.Status.FAILED, finished_at=now, error=gettext("Did not finish in time: its worker was lost.")
    )
    tenant = Tenant.objects.filter(slug=settings.DEFAULT_TENANT_SLUG).first()
    started, skipped = [], []
    for source in SOURCES:
        if tenant is None or sync_missing_settings(source):
            continue
        if sync_source_get(tenant=tenant, source=source).circuit_open:
            skipped.append(source)
            continue
        try:
            started.append(sync_run_start(tenant=tenant, source=source, trigger="schedule").pk)
        except SyncBusy:
            skipped.append(source)
    return {"started": started, "skipped": skipped, "stale": stale}
