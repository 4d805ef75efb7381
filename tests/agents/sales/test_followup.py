"""The follow-up agent over a simulated week, with a controlled clock: which messages go out,
and at what local time."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from agents.conversations.inbound import inbound_message_accept
from agents.conversations.turn import conversation_turn
from agents.outbound import outbound_send, outbound_status_apply
from agents.sales.followup import followup_claim_due, followup_effectiveness, followup_message_prepare, policy_for
from agents.tenants import system_bootstrap
from bmc.conversations.models import Conversation, Customer, Message
from bmc.quotes.models import Quote
from bmc.sales.models import FollowUp

pytestmark = pytest.mark.django_db

MVD = ZoneInfo("America/Montevideo")
REQUEST = "cuanto sale isodec 100 para un techo de 6 x 4,48 con flete a montevideo"


def local(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=MVD)


def write(customer_phone: str, text: str, at: datetime, tenant) -> Message:
    """The customer writes (as the inbound endpoints store it) at `at`."""
    with time_machine.travel(at, tick=False):
        return inbound_message_accept(
            tenant=tenant,
            channel="whatsapp",
            phone=customer_phone,
            text=text,
            external_id=f"wamid.{at.timestamp()}.{len(text)}",
            sent_at=at,
            raw={"type": "text"},
        ).message


def turn(conversation_id: int, at: datetime):
    with time_machine.travel(at, tick=False):
        return conversation_turn(
            tenant_id=Conversation.objects.get(pk=conversation_id).tenant_id,
            conversation_id=conversation_id,
            public_base_url="https://bmc.test",
        )


def quote_sent(tenant, *, anytime: bool = False) -> tuple[Quote, list[int]]:
    """Friday 20 November 2026, 20:30 in Montevideo: the customer asks, the bot quotes (its
    replies not sent yet). `anytime` lifts the policy's quiet hours first, for tests whose sends
    happen now, whenever they run."""
    system_bootstrap()
    if anytime:
        policy = policy_for(tenant_id=tenant.pk)
        policy.quiet_start = policy.quiet_end = None
        policy.quiet_weekdays = []
        policy.save()
    Customer.objects.create(tenant=tenant, phone="+59894807926", name="Gabriel Pérez")
    message = write("+59894807926", REQUEST, local(20, 20, 30), tenant)
    result = turn(message.conversation_id, local(20, 20, 30))
    (quote_id,) = result.quotes
    return Quote.objects.get(pk=quote_id), result.replies


def quote_copies(quote: Quote, n: int) -> list[Quote]:
    """n more quotes like this one: as many customers' quotes sent at the same time."""
    fields = {f.attname: getattr(quote, f.attname) for f in Quote._meta.concrete_fields if not f.primary_key}
    return Quote.objects.bulk_create(Quote(**fields) for _ in range(n))


@pytest.fixture
def quoted(tenant):
    quote, replies = quote_sent(tenant)
    for reply in replies:
        outbound_send(tenant_id=Message.objects.get(pk=reply).tenant_id, message_id=reply)
    return quote


def run_clock(start: datetime, end: datetime, every: timedelta = timedelta(minutes=10)) -> None:
    """Beat's scan every `every`, and the follow-up and outbound agents doing their part."""
    at = start
    while at <= end:
        with time_machine.travel(at, tick=False):
            for followup_id in followup_claim_due(now=timezone.now()):
                prepared = followup_message_prepare(
                    tenant_id=FollowUp.objects.get(pk=followup_id).tenant_id,
                    followup_id=followup_id,
                    base_url="https://bmc.test",
                )
                if prepared:
                    outbound_send(tenant_id=Message.objects.get(pk=prepared[0]).tenant_id, message_id=prepared[0])
        at += every


def sent_log(quote: Quote) -> list[tuple[str, int, str]]:
    return [
        (f.kind, f.step, timezone.localtime(f.sent_at, MVD).strftime("%a %d %H:%M"))
        for f in FollowUp.objects.filter(quote=quote, status=FollowUp.Status.SENT).order_by("sent_at")
    ]


def test_a_quote_unanswered_for_a_week_is_followed_up_at_decent_hours(quoted):
    assert quoted.status == Quote.Status.SENT and str(quoted.total) == "1816.95"
    run_clock(local(20, 20, 40), local(1, 12, 0, month=12))
    assert sent_log(quoted) == [
        ("step", 1, "Sat 21 20:30"),  # 24 h later, before the 21:00 quiet hours
        ("step", 2, "Mon 23 09:00"),  # due Sunday 20:30: Sunday is quiet, it waits for Monday 09:00
        ("step", 3, "Tue 24 09:00"),  # due Monday 20:30, too close after step 2: half a step's gap, then the night
        ("expiry", 0, "Sat 28 10:00"),  # the quote expires Monday 30; the day before is a Sunday
    ]
    texts = list(
        Message.objects.filter(followup__quote=quoted).order_by("followup__sent_at").values_list("text", flat=True)
    )
    assert texts[0].startswith("¡Hola, Gabriel! ¿Pudiste ver la cotización COT-")
    assert "USD 1.816,95" in texts[0] and f"https://bmc.test/q/{quoted.pk}/" in texts[0]
    assert "válida hasta el 30/11/2026" in texts[2]
    assert "vence el 30/11/2026" in texts[3]
    assert Message.objects.filter(followup__isnull=False, delivery_status="sent").count() == 4


def test_a_customer_who_answers_gets_no_more_follow_ups(quoted, tenant):
    run_clock(local(20, 20, 40), local(22, 11, 0))  # step 1 went on Saturday
    write("+59894807926", "lo veo con mi socio y te aviso", local(22, 11, 5), tenant)
    run_clock(local(22, 11, 10), local(1, 12, 0, month=12))
    assert sent_log(quoted) == [("step", 1, "Sat 21 20:30"), ("expiry", 0, "Sat 28 10:00")]
    stopped = FollowUp.objects.filter(quote=quoted, status=FollowUp.Status.CANCELLED)
    assert sorted(stopped.values_list("step", flat=True)) == [2, 3]
    assert set(stopped.values_list("reason", flat=True)) == {"el cliente escribió"}


def test_a_customer_who_opts_out_mid_sequence_gets_the_confirmation_and_nothing_else(quoted, tenant):
    run_clock(local(20, 20, 40), local(22, 11, 0))
    message = write("+59894807926", "no me escriban mas", local(22, 11, 5), tenant)
    result = turn(message.conversation_id, local(22, 11, 5))
    (confirmation,) = result.replies
    outbound_send(tenant_id=Message.objects.get(pk=confirmation).tenant_id, message_id=confirmation)
    run_clock(local(22, 11, 10), local(1, 12, 0, month=12))
    assert sent_log(quoted) == [("step", 1, "Sat 21 20:30")]
    last = Message.objects.filter(direction="out").order_by("-created_at").first()
    assert last.pk == confirmation and "no te vamos a escribir más" in last.text
    assert not FollowUp.objects.filter(quote=quoted, status__in=FollowUp.OPEN).exists()


def test_an_accepted_quote_stops_its_follow_ups(quoted, tenant):
    message = write("+59894807926", "dale, confirmo la cotizacion", local(21, 10, 0), tenant)
    turn(message.conversation_id, local(21, 10, 0))
    run_clock(local(21, 10, 10), local(1, 12, 0, month=12))
    quoted.refresh_from_db()
    assert quoted.status == Quote.Status.ACCEPTED and quoted.decided_at is not None
    assert sent_log(quoted) == []


def test_a_policy_with_the_model_rewords_the_follow_up_keeping_its_facts(quoted, tenant, settings):
    """The rewording goes through the openai SDK to a server speaking chat completions; it keeps
    every number and link of the template, so it is what the customer gets."""
    from tests.fakes import FakeJsonServer

    def reword(request):
        text = request["json"]["messages"][-1]["content"]
        content = text.replace("¡Hola", "¡Buenas", 1)
        choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
        return 200, {"id": "c1", "object": "chat.completion", "created": 1, "model": "m", "choices": [choice]}

    fake = FakeJsonServer(reword)
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL, settings.OPENAI_MODEL = "sk-test", fake.url + "/v1", "m"
    policy = policy_for(tenant_id=tenant.pk)
    policy.rewrite_with_model = True
    policy.save()
    try:
        run_clock(local(21, 20, 20), local(21, 20, 40))  # step 1, Saturday 20:30
    finally:
        fake.close()
    assert sent_log(quoted) == [("step", 1, "Sat 21 20:30")]
    (asked,) = fake.requests
    template = asked["json"]["messages"][-1]["content"]
    sent = FollowUp.objects.get(quote=quoted, step=1).message.text
    assert template.startswith("¡Hola") and sent == template.replace("¡Hola", "¡Buenas", 1)
    assert quoted.number in sent and "1.816,95" in sent


def test_several_steps_due_together_send_only_the_latest(quoted):
    # the scan did not run for three days (beat was down): one message, not three
    run_clock(local(24, 10, 0), local(24, 10, 0))
    assert sent_log(quoted) == [("step", 3, "Tue 24 10:00")]
    skipped = FollowUp.objects.filter(quote=quoted, status=FollowUp.Status.SKIPPED)
    assert sorted(skipped.values_list("step", flat=True)) == [1, 2]


def test_the_policy_shapes_the_sequence(quoted, tenant):
    policy = policy_for(tenant_id=tenant.pk)
    policy.steps_hours, policy.max_attempts, policy.quiet_weekdays = [2, 40, 60], 2, []
    policy.expiry_reminder = False
    policy.save()
    FollowUp.objects.all().delete()
    Quote.objects.filter(pk=quoted.pk).update(status=Quote.Status.DRAFT)
    from agents.conversations.replies import quotes_mark_sent

    with time_machine.travel(local(21, 19, 0), tick=False):  # sent on a Saturday at 19:00
        quotes_mark_sent(quote_ids=[quoted.pk], follow_up=quoted.pk)
    run_clock(local(21, 19, 10), local(26, 0, 0))
    # due 21:00, in quiet hours: waits for Sunday 09:00 (Sundays are allowed now); then 40 h after
    # the quote; max_attempts 2 leaves the 60 h step out
    assert sent_log(quoted) == [("step", 1, "Sun 22 09:00"), ("step", 2, "Mon 23 11:00")]
    assert FollowUp.objects.filter(quote=quoted).count() == 2


def test_effectiveness_counts_each_step(quoted, tenant, api, admin_client):
    run_clock(local(20, 20, 40), local(22, 8, 0))
    step1 = FollowUp.objects.get(quote=quoted, step=1)
    step1.message.external_id = "wamid.step1"
    step1.message.save()
    outbound_status_apply(tenant=tenant, external_id="wamid.step1", status="read")
    write("+59894807926", "si, la vi, la semana que viene te confirmo", local(22, 8, 30), tenant)
    with time_machine.travel(local(23, 9, 0), tick=False):
        Quote.objects.filter(pk=quoted.pk).update(status=Quote.Status.ACCEPTED, decided_at=timezone.now())
    (row,) = followup_effectiveness(tenant_id=tenant.pk)
    assert row == {
        "kind": "step",
        "step": 1,
        "sent": 1,
        "delivered": 1,
        "read": 1,
        "answered_24h": 1,
        "accepted_after": 1,
        "answer_rate": 1.0,
    }
    assert api.get("/api/v1/analytics/followups").json()["steps"] == [row]  # what n8n and staff read
    page = " ".join(admin_client.get("/admin/sales/followup/").content.decode().split())
    assert "<td>Paso 1</td> <td>1</td><td>1</td><td>1</td> <td>1</td><td>100 %</td><td>1</td>" in page
    assert "Todavía no se envió ningún seguimiento." not in page


def test_a_follow_up_that_reaches_its_send_in_quiet_hours_waits_and_goes_in_the_morning(quoted):
    with time_machine.travel(local(21, 20, 30), tick=False):
        (followup_id,) = followup_claim_due(now=timezone.now())
        message_id, _ = followup_message_prepare(
            tenant_id=FollowUp.objects.get(pk=followup_id).tenant_id,
            followup_id=followup_id,
            base_url="https://bmc.test",
        )
    with time_machine.travel(local(21, 21, 5), tick=False):  # the send came late (a retry, a backlog)
        assert (
            outbound_send(tenant_id=Message.objects.get(pk=message_id).tenant_id, message_id=message_id) == "cancelled"
        )
    waiting = FollowUp.objects.get(pk=followup_id)
    assert waiting.status == FollowUp.Status.SCHEDULED and waiting.message_id is None
    assert timezone.localtime(waiting.due_at, MVD) == local(23, 9, 0)  # Sunday is quiet too
    assert waiting.reason == "le tocó salir en horario sin envíos; sale el lun 23/11 09:00"  # what staff read
    run_clock(local(21, 21, 10), local(23, 9, 0))
    # Monday 09:00 step 2 is due as well: the customer gets one message, the later one
    assert sent_log(quoted) == [("step", 2, "Mon 23 09:00")]
    skipped = FollowUp.objects.get(pk=followup_id)
    assert (skipped.status, skipped.reason) == (FollowUp.Status.SKIPPED, "también tocaba el paso 2")
    assert Message.objects.get(pk=message_id).delivery_status == "cancelled"
    assert Message.objects.filter(followup__isnull=False, delivery_status="sent").count() == 1


def test_the_expiry_reminder_moves_to_the_first_sending_hour_when_ten_is_quiet(quoted, tenant):
    from datetime import time

    from agents.sales.followup import followup_sequence_start

    policy = policy_for(tenant_id=tenant.pk)
    policy.quiet_start, policy.quiet_end = time(19, 0), time(11, 30)
    policy.save()
    FollowUp.objects.all().delete()
    followup_sequence_start(quote=quoted)
    expiry = FollowUp.objects.get(quote=quoted, kind="expiry")
    assert timezone.localtime(expiry.due_at, MVD) == local(28, 11, 30)  # Saturday (Sunday is quiet), 11:30


def test_a_newer_quote_in_the_conversation_stops_the_older_ones_reminders(quoted, tenant):
    message = write("+59894807926", "mejor cotizame en 150", local(21, 10, 0), tenant)
    (newer,) = turn(message.conversation_id, local(21, 10, 0)).quotes
    run_clock(local(21, 10, 10), local(1, 12, 0, month=12))
    assert sent_log(quoted) == []  # its steps went when the customer wrote; its expiry reminder now
    expiry = FollowUp.objects.get(quote=quoted, kind="expiry")
    assert (expiry.status, expiry.reason) == ("cancelled", "la reemplazó una cotización más nueva")
    newer = Quote.objects.get(pk=newer)
    assert newer.spec["thickness_mm"] == 150 and [kind for kind, *_ in sent_log(newer)][-1] == "expiry"


def test_a_conversation_with_staff_gets_no_follow_ups(quoted, tenant):
    message = write("+59894807926", "pasame con un vendedor", local(21, 10, 0), tenant)
    turn(message.conversation_id, local(21, 10, 0))
    run_clock(local(21, 10, 10), local(1, 12, 0, month=12))
    assert sent_log(quoted) == []
    expiry = FollowUp.objects.get(quote=quoted, kind="expiry")
    assert (expiry.status, expiry.reason) == ("cancelled", "la conversación la atiende una persona")
