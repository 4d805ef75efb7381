"""Conversations in the admin: customers, conversations (a staff reply, taking over, releasing)
and every message in and out."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from agents.erasure import customer_erase, customer_is_erased
from agents.outbound import outbound_staff_reply
from agents.sales.followup import followups_stop
from bmc.conversations import models as conversations
from bmc.core.admin import ReadOnlyAdmin, ReadOnlyInline, StaffSearch, facts_html, pretty_json
from bmc.workspace.present import dialogue_lines


@admin.register(conversations.Customer)
class CustomerAdmin(StaffSearch, admin.ModelAdmin):
    list_display = ("phone", "name", "email", "zone", "opted_out", "profile", "created_at")
    list_filter = ("tenant", "zone", "opted_out")
    search_fields = ("phone", "name", "email")
    phone_field = "phone"
    readonly_fields = ("created_at", "updated_at", "opted_out_at")
    actions = ("erase_personal_data",)

    @admin.display(description=_("Profile"))
    def profile(self, obj) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:workspace-customer", args=[obj.pk]), _("open"))

    def save_model(self, request, obj, form, change):
        """Opted out by staff (the customer asked by phone): nothing more is sent."""

        opting_out = "opted_out" in form.changed_data and obj.opted_out
        if opting_out:
            obj.opted_out_at = timezone.now()
        super().save_model(request, obj, form, change)
        if opting_out:
            followups_stop(customer_id=obj.pk, reason="the customer opted out")

    # only for whoever may delete customers: it cannot be undone
    @admin.action(description=_("Erase personal data (the customer asked)"), permissions=["delete"])
    def erase_personal_data(self, request, queryset):
        erased = already = 0
        for customer in queryset:
            if customer_is_erased(customer):
                already += 1
                continue
            customer_erase(customer=customer, via="admin", erased_by=request.user)
            erased += 1
        message = ngettext(
            "Personal data of %(count)d customer erased: quotes, orders and invoices stay, without their name, "
            "phone or messages.",
            "Personal data of %(count)d customers erased: quotes, orders and invoices stay, without their names, "
            "phones or messages.",
            erased,
        ) % {"count": erased}
        if already:
            message += " " + ngettext("%(count)d was already erased.", "%(count)d were already erased.", already) % {
                "count": already
            }
        self.message_user(request, message)


class MessageInline(ReadOnlyInline):
    model = conversations.Message
    fields = ("created_at", "direction", "channel", "text", "intent", "delivery_status")
    readonly_fields = fields
    show_change_link = True


class ConversationForm(forms.ModelForm):
    staff_reply = forms.CharField(
        label=_("Reply to the customer"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text=_("Sent through the configured channel when you save. Taking over silences the bot."),
    )

    class Meta:
        model = conversations.Conversation
        fields = ("state", "assigned_to")


@admin.register(conversations.Conversation)
class ConversationAdmin(StaffSearch, admin.ModelAdmin):
    form = ConversationForm
    list_display = ("id", "customer", "channel", "state", "assigned_to", "message_count", "last_message_at", "thread")
    list_filter = ("tenant", "state", "channel", "assigned_to")
    search_fields = ("customer__phone", "customer__name")
    phone_field = "customer__phone"
    words_in_messages = True
    list_select_related = ("customer", "assigned_to")
    readonly_fields = ("customer", "channel", "dialogue_pretty", "created_at", "last_message_at")
    fields = (
        "customer",
        "channel",
        "state",
        "assigned_to",
        "dialogue_pretty",
        "staff_reply",
        "created_at",
        "last_message_at",
    )
    # bmc.quotes.admin adds the conversation's quotes: core knows nothing of quotes
    inlines = [MessageInline]
    actions = ["take_over", "release_to_bot"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(message_total=Count("messages"))

    @admin.display(description=_("Thread"))
    def thread(self, obj) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:workspace-thread", args=[obj.pk]), _("open"))

    @admin.display(description=_("Messages"), ordering="message_total")
    def message_count(self, obj) -> int:
        return obj.message_total

    @admin.display(description=_("Dialogue state"))
    def dialogue_pretty(self, obj) -> str:
        return facts_html(dialogue_lines(obj.dialogue), raw=obj.dialogue)

    def save_model(self, request, obj, form, change):
        reply = form.cleaned_data.get("staff_reply", "").strip()
        if reply:
            obj.state = conversations.Conversation.State.HANDOFF
            obj.assigned_to = obj.assigned_to or request.user
        if change:
            # only what staff edit here: the dialogue and a running turn's hold are the agent's, and
            # writing back the copies read when the page opened would undo them
            obj.save(update_fields=["state", "assigned_to"])
        else:
            super().save_model(request, obj, form, change)
        if reply:
            outbound_staff_reply(conversation=obj, user=request.user, text=reply)
            self.message_user(
                request, gettext("Reply queued for sending; the bot stays quiet until you release the conversation.")
            )

    @admin.action(description=_("Take over (the bot stays quiet)"))
    def take_over(self, request, queryset):
        done = queryset.update(state=conversations.Conversation.State.HANDOFF, assigned_to=request.user)
        self.message_user(
            request,
            ngettext("You now handle %(count)d conversation.", "You now handle %(count)d conversations.", done)
            % {"count": done},
        )

    @admin.action(description=_("Release to the bot"))
    def release_to_bot(self, request, queryset):
        done = queryset.update(state=conversations.Conversation.State.OPEN, assigned_to=None)
        self.message_user(
            request,
            ngettext(
                "The bot answers %(count)d conversation again.", "The bot answers %(count)d conversations again.", done
            )
            % {"count": done},
        )


@admin.register(conversations.Message)
class MessageAdmin(StaffSearch, admin.ModelAdmin):
    list_display = ("created_at", "direction", "channel", "customer_phone", "short_text", "intent", "delivery_status")
    list_filter = ("tenant", "direction", "channel", "delivery_status", "intent")
    search_fields = ("text", "external_id", "conversation__customer__phone")
    phone_field = "conversation__customer__phone"
    list_select_related = ("conversation__customer",)
    readonly_fields = ("raw_payload_pretty", "created_at")
    exclude = ("raw_payload",)
    date_hierarchy = "created_at"

    @admin.display(description=_("Customer"))
    def customer_phone(self, obj) -> str:
        return obj.conversation.customer.phone

    @admin.display(description=_("Text"))
    def short_text(self, obj) -> str:
        return obj.text[:80]

    @admin.display(description=_("Raw payload"))
    def raw_payload_pretty(self, obj) -> str:
        return pretty_json(obj.raw_payload)


@admin.register(conversations.CustomerErasure)
class CustomerErasureAdmin(ReadOnlyAdmin):
    list_display = ("erased_at", "customer", "erased_by", "via", "tenant")
    list_filter = ("tenant", "via")
    fields = ("erased_at", "tenant", "customer", "erased_by", "via", "counts")
    readonly_fields = fields
