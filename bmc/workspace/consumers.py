"""The WebSockets of the staff pages, authenticated by the admin session and scoped to the staff
member's company: /ws/inbox (conversations' new messages and states) and /ws/stats (queue depths
and task counts every LIVE_STATS_INTERVAL seconds, for operations)."""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from bmc.workspace.live import live_group
from bmc.workspace.staff import staff_is_operations, staff_tenant
from bmc.workspace.views import operations_stats

UNAUTHORISED = 4401  # in the 4000-4999 range the WebSocket protocol leaves to applications
FORBIDDEN = 4403


class StaffConsumer(AsyncJsonWebsocketConsumer):
    async def _tenant_id(self) -> int | None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff or not user.is_active:
            await self.close(code=UNAUTHORISED)
            return None
        tenant = await database_sync_to_async(staff_tenant)(user)
        return tenant.pk


class InboxConsumer(StaffConsumer):
    async def connect(self) -> None:
        tenant_id = await self._tenant_id()
        if tenant_id is None:
            return
        self.group = live_group(tenant_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def live_event(self, message: dict) -> None:
        await self.send_json(message["event"])


class StatsConsumer(StaffConsumer):
    async def connect(self) -> None:
        tenant_id = await self._tenant_id()
        if tenant_id is None:
            return
        if not await database_sync_to_async(staff_is_operations)(self.scope["user"]):
            await self.close(code=FORBIDDEN)
            return
        await self.accept()
        self.ticker = asyncio.ensure_future(self._tick(tenant_id))

    async def _tick(self, tenant_id: int) -> None:
        while True:
            stats = await database_sync_to_async(operations_stats)(tenant_id)
            await self.send_json({"type": "stats", **stats})
            await asyncio.sleep(settings.LIVE_STATS_INTERVAL)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "ticker", None):
            self.ticker.cancel()
