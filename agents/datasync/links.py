"""What was last written for each record on the other side: a run finds a record already there by
its link and does not write it again, nor twice."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from bmc.core.models import Tenant
from bmc.datasync.models import SyncLink


def sync_links_save(
    *, tenant: Tenant, source: str, kind: str, checksums: dict[str, str], remote: dict[str, str] | None = None
) -> None:
    """Links of `kind` records (local id -> checksum of what was written; remote ids when the other
    side gives them), made or brought up to date in a fixed number of statements."""
    remote = remote or {}
    with transaction.atomic():
        existing = {
            link.local_id: link
            for link in SyncLink.objects.select_for_update().filter(
                tenant=tenant, source=source, kind=kind, local_id__in=checksums
            )
        }
        fresh, changed = [], []
        for local_id, checksum in checksums.items():
            link = existing.get(local_id)
            if link is None:
                fresh.append(
                    SyncLink(
                        tenant=tenant,
                        source=source,
                        kind=kind,
                        local_id=local_id,
                        remote_id=remote.get(local_id, ""),
                        checksum=checksum,
                    )
                )
            else:
                link.checksum = checksum
                link.remote_id = remote.get(local_id, link.remote_id)
                link.synced_at = timezone.now()
                changed.append(link)
        SyncLink.objects.bulk_create(fresh)
        SyncLink.objects.bulk_update(changed, ["checksum", "remote_id", "synced_at"])
