from django.contrib import admin

from bmc.events.models import DomainEvent, EventDelivery, EventSubscription


@admin.register(DomainEvent)
class DomainEventAdmin(admin.ModelAdmin):
    list_display = ("id", "type", "subject", "tenant", "created_at", "published_at")
    list_filter = ("type",)
    search_fields = ("subject", "type")
    readonly_fields = ("tenant", "type", "subject", "data", "created_at", "published_at")

    def has_add_permission(self, request) -> bool:
        return False  # events are written by what happens, not by hand


@admin.register(EventSubscription)
class EventSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("event_type", "url", "tenant", "active", "created_at")
    list_filter = ("active", "event_type")


@admin.register(EventDelivery)
class EventDeliveryAdmin(admin.ModelAdmin):
    list_display = ("event", "subscription", "status", "attempts", "delivered_at")
    list_filter = ("status",)
    readonly_fields = ("event", "subscription", "status", "attempts", "last_error", "delivered_at")
