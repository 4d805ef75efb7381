"""The staff workspace's pages, inside the admin site (its login, its look): the sales home, the
operations home, the inbox and its threads, a customer's page."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import chain

import redis
from django.contrib import messages as notices
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Case, Count, F, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from agents.outbound import outbound_staff_reply
from bmc.alerts.models import Alert
from bmc.breakers import MERCADOPAGO, MODEL, N8N, WHATSAPP, breaker_reset, breaker_states
from bmc.conversations.models import Conversation, Customer, Message, Zone
from bmc.conversations.queries import conversations_with_last_message
from bmc.core.search import conversations_saying, phone_e164
from bmc.datasync.models import Source
from bmc.documents.models import Document
from bmc.health import queue_depths
from bmc.jobs.models import AgentTask
from bmc.orders.models import Order
from bmc.quotes.models import Quote
from bmc.sales.models import Invoice, StaffTask
from bmc.workspace import figures
from bmc.workspace.models import ConversationRead
from bmc.workspace.present import dialogue_lines
from bmc.workspace.staff import staff_is_operations, staff_tenant

CHART_DAYS = 30
INBOX_LIMIT = 100


def _context(site, request: HttpRequest, title: str, **extra) -> dict:
    return {**site.each_context(request), "title": title, **extra}


def sales_home(site, request: HttpRequest) -> TemplateResponse:
    tenant = staff_tenant(request.user)
    today = timezone.localdate()
    since = timezone.now() - timedelta(days=CHART_DAYS)
    waiting = figures.waiting_counts(tenant_id=tenant.pk, user_id=request.user.pk, today=today)
    inbox = _inbox(request, tenant.pk).filter(needs_reply=True)[:5]
    charts = {
        "quotes_per_day": figures.quotes_per_day(tenant_id=tenant.pk, since=since),
        "funnel": [
            {"stage": stage, "label": str(STAGES[stage]), "count": count}
            for stage, count in figures.funnel(tenant_id=tenant.pk, since=since)
        ],
        "by_family": figures.amounts_by(tenant_id=tenant.pk, since=since, key="family"),
        "by_zone": figures.amounts_by(tenant_id=tenant.pk, since=since, key="zone"),
        "followups": figures.followups_by_week(tenant_id=tenant.pk, since=since - timedelta(days=60)),
        "reply_time": figures.reply_time_per_day(tenant_id=tenant.pk, since=since),
    }
    return TemplateResponse(
        request,
        "workspace/home.html",
        _context(
            site,
            request,
            _("Sales"),
            waiting=waiting,
            inbox=inbox,
            charts=charts,
            chart_labels=chart_labels(),
            days=CHART_DAYS,
            is_operations=staff_is_operations(request.user),
            app_list=site.get_app_list(request),
        ),
    )


STAGES = {
    "message": gettext_lazy("Wrote"),
    "quote": gettext_lazy("Quoted"),
    "accepted": gettext_lazy("Accepted"),
    "ordered": gettext_lazy("Ordered"),
    "paid": gettext_lazy("Paid"),
}


def chart_labels() -> dict[str, str]:
    return {
        "quotes": _("Quotes"),
        "customers": _("Customers"),
        "quoted": _("Quoted"),
        "won": _("Won"),
        "unknown": _("Not said"),
        "sent": _("Sent"),
        "answered": _("Answered within 24 h"),
        "average": _("Average"),
        "longest": _("Longest"),
    }


def operations_home(site, request: HttpRequest) -> TemplateResponse:
    if not staff_is_operations(request.user):
        raise PermissionDenied
    tenant = staff_tenant(request.user)
    return TemplateResponse(
        request,
        "workspace/operations.html",
        _context(
            site,
            request,
            _("Operations"),
            stats=operations_stats(tenant.pk),
            breakers=_breaker_rows(tenant.pk),
            alerts=Alert.objects.filter(state=Alert.State.OPEN).select_related("rule")[:20],
            app_list=site.get_app_list(request),
        ),
    )


BREAKER_LABELS = {
    MODEL: gettext_lazy("Language model (OpenAI)"),
    WHATSAPP: "WhatsApp",
    N8N: "n8n",
    MERCADOPAGO: "Mercado Pago",
}
BREAKER_STATES = {
    "closed": gettext_lazy("closed: called as usual"),
    "open": gettext_lazy("open: not called, the fallback answers"),
    "half_open": gettext_lazy("half-open: the next call is a trial"),
}


def _breaker_rows(tenant_id: int) -> list[dict] | None:
    """The services' breakers and this company's sync sources', as the operations home lists
    them; None when Redis, where they live, does not answer."""
    try:
        states = breaker_states(tenant_id=tenant_id)
    except redis.RedisError:
        return None
    rows = []
    for name, state in states.items():
        if name in BREAKER_LABELS:
            label = BREAKER_LABELS[name]
        else:  # sync:<company>:<source>
            label = _("Data sync: %(source)s") % {"source": Source(name.rsplit(":", 1)[1]).label}
        retry_at = datetime.fromisoformat(state["retry_at"]) if "retry_at" in state else None
        rows.append(
            state | {"name": name, "label": label, "state_label": BREAKER_STATES[state["state"]], "retry_at": retry_at}
        )
    return rows


def breaker_close(site, request: HttpRequest) -> HttpResponse:
    """Operations close a breaker by hand once they know its service is back: calls go through
    at once instead of after the wait and the trial."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not staff_is_operations(request.user):
        raise PermissionDenied
    name = request.POST.get("name", "")
    if breaker_reset(name, tenant_id=staff_tenant(request.user).pk):
        notices.success(request, _("Circuit %(name)s closed: the service is called again.") % {"name": name})
    else:
        notices.error(request, _("There is no circuit %(name)s.") % {"name": name})
    return redirect(reverse("admin:workspace-operations"))


def operations_stats(tenant_id: int) -> dict:
    """Queue depths and the counts the operations home shows (also streamed on /ws/stats)."""
    try:
        depths = queue_depths()
    except Exception:  # the broker down is itself the news
        depths = {}
    since = timezone.now() - timedelta(hours=1)
    tasks = AgentTask.objects.filter(tenant_id=tenant_id).aggregate(
        running=Count("task_id", filter=Q(status=AgentTask.Status.RUNNING)),
        queued=Count("task_id", filter=Q(status=AgentTask.Status.QUEUED)),
        failed_hour=Count("task_id", filter=Q(status=AgentTask.Status.FAILED, finished_at__gte=since)),
        dead=Count("task_id", filter=Q(status=AgentTask.Status.DEAD)),
    )
    return {"queues": depths, "tasks": tasks, "broker": bool(depths)}


def _inbox(request: HttpRequest, tenant_id: int):
    read = ConversationRead.objects.filter(user=request.user, conversation=OuterRef("pk")).values("last_message_id")
    last_in = Message.objects.filter(conversation=OuterRef("pk"), direction=Message.Direction.INBOUND).order_by("-id")
    return (
        conversations_with_last_message(
            Conversation.objects.filter(tenant_id=tenant_id).select_related("customer", "assigned_to")
        )
        .annotate(
            last_inbound_id=Subquery(last_in.values("id")[:1]),
            read_up_to=Coalesce(Subquery(read[:1]), Value(0)),
        )
        .annotate(
            unread=Case(When(last_inbound_id__gt=F("read_up_to"), then=Value(True)), default=Value(False)),
            mine=Case(
                When(assigned_to_id=request.user.pk, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
        )
        .order_by("-mine", "-needs_reply", F("last_message_at").desc(nulls_last=True), "-id")
    )


INBOX_VIEWS = {
    "all": lambda rows: rows.exclude(state=Conversation.State.CLOSED),
    "mine": lambda rows: rows.filter(mine=True),
    "reply": lambda rows: rows.filter(needs_reply=True),
    "staff": lambda rows: rows.filter(state=Conversation.State.HANDOFF),
    "closed": lambda rows: rows.filter(state=Conversation.State.CLOSED),
}


def inbox(site, request: HttpRequest) -> TemplateResponse:
    tenant = staff_tenant(request.user)
    view = request.GET.get("ver", "all")
    rows = INBOX_VIEWS.get(view, INBOX_VIEWS["all"])(_inbox(request, tenant.pk))
    query = request.GET.get("q", "").strip()
    if query:
        phone = phone_e164(query)
        rows = (
            rows.filter(customer__phone=phone)
            if phone
            else rows.filter(
                Q(customer__name__icontains=query)
                | Q(pk__in=conversations_saying(Conversation.objects.filter(tenant_id=tenant.pk), query).values("pk"))
            )
        )
    template = "workspace/inbox_rows.html" if request.GET.get("parte") == "filas" else "workspace/inbox.html"
    return TemplateResponse(
        request,
        template,
        _context(
            site,
            request,
            _("Inbox"),
            rows=rows[:INBOX_LIMIT],
            view=view,
            query=query,
            views=[
                ("all", pgettext("conversations", "All")),
                ("mine", _("My conversations")),
                ("reply", _("Need a reply")),
                ("staff", _("With staff")),
                ("closed", _("Closed")),
            ],
            tenant_id=tenant.pk,
        ),
    )


def _thread_items(conversation: Conversation) -> list[dict]:
    """Messages, quotes, orders and documents of a conversation, in the order they happened."""
    items = chain(
        ({"kind": "message", "at": m.created_at, "record": m} for m in conversation.messages.all()),
        ({"kind": "quote", "at": q.created_at, "record": q} for q in conversation.quotes.all()),
        ({"kind": "order", "at": o.created_at, "record": o} for o in conversation.orders.all()),
        (
            {"kind": "document", "at": d.created_at, "record": d}
            for d in Document.objects.filter(message__conversation=conversation)
        ),
    )
    return sorted(items, key=lambda item: (item["at"], item["kind"] != "message"))


def _conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    tenant = staff_tenant(request.user)
    return get_object_or_404(
        Conversation.objects.select_related("customer", "assigned_to"), pk=conversation_id, tenant=tenant
    )


def thread(site, request: HttpRequest, conversation_id: int) -> TemplateResponse:
    conversation = _conversation(request, conversation_id)
    items = _thread_items(conversation)
    last = conversation.messages.order_by("-id").values_list("id", flat=True).first() or 0
    ConversationRead.objects.update_or_create(
        user=request.user, conversation=conversation, defaults={"last_message_id": last}
    )
    fragment = request.GET.get("parte") == "hilo"
    staff = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")
    return TemplateResponse(
        request,
        "workspace/thread_items.html" if fragment else "workspace/thread.html",
        _context(
            site,
            request,
            str(conversation.customer.name or conversation.customer.phone),
            conversation=conversation,
            items=items,
            staff=staff,
            tenant_id=conversation.tenant_id,
            dialogue=dialogue_lines(conversation.dialogue),
        ),
    )


def thread_action(site, request: HttpRequest, conversation_id: int) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    conversation = _conversation(request, conversation_id)
    if not request.user.has_perm("conversations.change_conversation"):
        raise PermissionDenied
    action = request.POST.get("action")
    State = Conversation.State
    if action == "take_over":
        conversation.state, conversation.assigned_to = State.HANDOFF, request.user
        conversation.save(update_fields=["state", "assigned_to"])
        # the task that asked for a person is the taker's too
        StaffTask.objects.filter(
            conversation=conversation, status=StaffTask.Status.OPEN, assigned_to__isnull=True
        ).update(assigned_to=request.user)
        notices.success(request, _("You now handle this conversation: the bot stays quiet."))
    elif action == "hand_back":
        conversation.state, conversation.assigned_to = State.OPEN, None
        conversation.save(update_fields=["state", "assigned_to"])
        notices.success(request, _("The bot answers this conversation again."))
    elif action == "assign":
        seller = get_user_model().objects.filter(pk=request.POST.get("user") or 0, is_staff=True).first()
        conversation.assigned_to = seller
        conversation.save(update_fields=["assigned_to"])
        notices.success(
            request,
            _("Assigned to %(user)s.") % {"user": seller} if seller else _("Nobody is assigned now."),
        )
    elif action == "reply":
        text = request.POST.get("text", "").strip()
        if not text:
            notices.error(request, _("Write the reply first: an empty message is not sent."))
        elif len(text) > 4096:
            notices.error(request, _("A WhatsApp message holds at most 4096 characters."))
        else:
            _reply(request, conversation, text)
    else:
        raise Http404("no such action")
    return redirect(reverse("admin:workspace-thread", args=[conversation.pk]))


def _reply(request: HttpRequest, conversation: Conversation, text: str) -> None:
    outbound_staff_reply(conversation=conversation, user=request.user, text=text)
    notices.success(request, _("Reply queued for sending; the bot stays quiet until you hand the conversation back."))


def customer_page(site, request: HttpRequest, customer_id: int) -> TemplateResponse:
    tenant = staff_tenant(request.user)
    customer = get_object_or_404(Customer, pk=customer_id, tenant=tenant)
    quotes = Quote.objects.filter(customer=customer).order_by("-created_at")
    orders = Order.objects.filter(customer=customer).order_by("-created_at")
    invoices = Invoice.objects.filter(customer=customer).order_by("-issue_date")
    totals = {
        "quoted": quotes.aggregate(total=Coalesce(Sum("total"), Value(0), output_field=quotes.model.total.field))[
            "total"
        ],
        "won": quotes.filter(status=Quote.Status.ACCEPTED).aggregate(
            total=Coalesce(Sum("total"), Value(0), output_field=quotes.model.total.field)
        )["total"],
        "ordered": orders.exclude(status=Order.Status.CANCELLED).aggregate(
            total=Coalesce(Sum("total"), Value(0), output_field=orders.model.total.field)
        )["total"],
        "owed": invoices.filter(status__in=[Invoice.Status.OPEN, Invoice.Status.PAYMENT_CLAIMED]).aggregate(
            total=Coalesce(Sum(F("amount") - F("amount_paid")), Value(0), output_field=invoices.model.amount.field)
        )["total"],
        "messages": Message.objects.filter(conversation__customer=customer).count(),
    }
    zone = customer.zone or _zone_said(customer)
    return TemplateResponse(
        request,
        "workspace/customer.html",
        _context(
            site,
            request,
            str(customer.name or customer.phone),
            customer=customer,
            zone=zone,
            conversations=conversations_with_last_message(customer.conversations.all()).order_by("-id"),
            quotes=quotes[:50],
            orders=orders[:50],
            invoices=invoices[:50],
            totals=totals,
            tasks=StaffTask.objects.filter(customer=customer, status=StaffTask.Status.OPEN),
        ),
    )


def _zone_said(customer: Customer) -> str:
    """The zone the customer named in a message or a quote, when their record has none."""
    said = (
        Quote.objects.filter(customer=customer)
        .exclude(spec__zone=None)
        .order_by("-created_at")
        .values_list("spec__zone", flat=True)
        .first()
    )
    return Zone(said).label if said in Zone.values else ""
