"""Alternatives asked together ("en 100 y en 150"): priced in parallel, answered together, one
chosen, declined, or one that cannot be priced."""

from __future__ import annotations

import pytest
from django.utils import timezone

from agents.conversations.turn import conversation_turn
from agents.events import events_publish
from agents.tenants import system_bootstrap
from bmc.conversations.models import Conversation, Customer, Message
from bmc.events.models import DomainEvent
from bmc.quotes.models import Quote
from bmc.sales.models import FollowUp, StaffTask
from bmc.workflows.models import WorkflowRun
from tests.agents.conversations.dialogue import options_priced, options_sent, say

pytestmark = pytest.mark.django_db


def test_the_answer_to_alternatives_waits_for_a_turn_under_way_and_keeps_its_dialogue(conversation):
    """The chord's answer writes the dialogue (the options offered): while a turn holds the
    conversation it waits (the task tries again), so neither overwrites what the other wrote."""
    from agents.conversations.holds import ConversationBusy
    from agents.conversations.replies import quote_options_reply

    outcomes = options_priced(conversation, "opt-2")
    Conversation.objects.filter(pk=conversation.pk).update(turn_owner="a-turn", turn_started_at=timezone.now())
    with pytest.raises(ConversationBusy):
        quote_options_reply(
            tenant_id=conversation.tenant_id,
            conversation_id=conversation.pk,
            option_group="opt-2",
            outcomes=outcomes,
            base_url="http://x",
        )
    assert not Message.objects.filter(direction="out").exists()
    # the turn stores its dialogue and lets go; the answer then adds to it
    Conversation.objects.filter(pk=conversation.pk).update(
        turn_owner="", turn_started_at=None, dialogue={"spec": {"color": "GRIS"}}
    )
    from bmc.jobs.models import AgentTask

    reply = quote_options_reply(
        tenant_id=conversation.tenant_id,
        conversation_id=conversation.pk,
        option_group="opt-2",
        outcomes=outcomes,
        base_url="http://x",
    )
    conversation.refresh_from_db()
    assert AgentTask.objects.get(task_type="outbound.send_message").payload == {"message_id": reply}
    assert conversation.turn_owner == ""
    assert conversation.dialogue["spec"] == {"color": "GRIS"} and conversation.dialogue["last_option_group"] == "opt-2"


@pytest.mark.parametrize("text", ["confirmo la de 150", "me quedo con la opcion de 150", "dale, la de 150 mm"])
def test_choosing_one_of_the_options_accepts_that_one(conversation, text):
    quotes = options_sent(conversation)
    assert {t: q.status for t, q in quotes.items()} == {100: "sent", 150: "sent"}
    result = say(conversation, text)
    assert "opción de 150 mm" in Message.objects.get(pk=result.replies[0]).text
    statuses = {t: Quote.objects.get(pk=q.pk).status for t, q in quotes.items()}
    assert statuses == {100: "rejected", 150: "accepted"}
    followed = FollowUp.objects.filter(quote=quotes[100])  # the nudges went with the cheaper one
    assert followed.exists() and set(followed.values_list("status", "reason")) == {
        ("cancelled", "el cliente eligió otra opción")
    }
    conversation.refresh_from_db()
    assert "last_option_group" not in conversation.dialogue  # chosen: nothing left to choose from
    # the order agent takes it from here (its workflow starts when the event is published)
    (accepted,) = DomainEvent.objects.filter(type="quote.accepted")
    assert accepted.data["quote_id"] == quotes[150].pk and not StaffTask.objects.exists()
    events_publish(tenant_id=conversation.tenant_id, event_id=accepted.pk)
    run = WorkflowRun.objects.get(trigger=f"quote:{quotes[150].pk}")
    assert (run.definition.name, run.input) == (
        "order_complete",
        {"quote_id": quotes[150].pk, "source": "conversation"},
    )


def test_declining_the_options_rejects_them_all_for_that_reason(conversation):
    quotes = options_sent(conversation)
    result = say(conversation, "no gracias, no me interesa")
    assert Message.objects.get(pk=result.answered[0]).intent == "decline_quote"
    assert {Quote.objects.get(pk=q.pk).status for q in quotes.values()} == {"rejected"}
    reasons = set(FollowUp.objects.filter(quote__in=quotes.values()).values_list("status", "reason"))
    assert reasons == {("cancelled", "la cotización fue rechazada")}
    conversation.refresh_from_db()
    assert "last_option_group" not in conversation.dialogue  # later turns no longer look them up


def test_a_yes_without_saying_which_option_asks_which(conversation):
    quotes = options_sent(conversation)
    result = say(conversation, "dale, confirmo")
    assert Message.objects.get(pk=result.replies[0]).text == "¡Genial! ¿Con cuál avanzamos: 100 mm o 150 mm?"
    assert {Quote.objects.get(pk=q.pk).status for q in quotes.values()} == {"sent"}


def test_an_alternative_is_stored_once_even_by_two_runs_at_the_same_time(conversation):
    from django.db import IntegrityError, transaction

    from agents.conversations.replies import quote_option_price
    from tests.agents.sales.test_followup import quote_copies

    spec = {"scenario": "roof", "family": "ISODEC_EPS", "length_m": 6, "width_m": 4.48, "thickness_mm": 100}
    first = quote_option_price(
        tenant_id=conversation.tenant_id,
        conversation_id=conversation.pk,
        spec=spec,
        option_group="opt-9",
        source_message_id=None,
    )
    again = quote_option_price(
        tenant_id=conversation.tenant_id,
        conversation_id=conversation.pk,
        spec=spec,
        option_group="opt-9",
        source_message_id=None,
    )
    assert first == again and Quote.objects.filter(option_group="opt-9").count() == 1
    stored = Quote.objects.get(option_group="opt-9")
    # a second run that passed the check before the first stored its quote is refused by the database
    with pytest.raises(IntegrityError), transaction.atomic():
        quote_copies(stored, 1)
    other = quote_option_price(
        tenant_id=conversation.tenant_id,
        conversation_id=conversation.pk,
        spec={**spec, "thickness_mm": 150},
        option_group="opt-9",
        source_message_id=None,
    )
    assert other["quote_id"] != first["quote_id"]


@pytest.mark.django_db(transaction=True)
def test_two_runs_of_one_alternative_racing_store_one_quote(tenant, monkeypatch):
    """Both runs pass the 'already stored?' check before either stores: the database keeps one,
    and the run that lost answers with the winner's quote."""
    import threading

    from django.db import connection

    from agents.conversations import replies as agent

    system_bootstrap()
    customer = Customer.objects.create(tenant=tenant, phone="+59899111333", name="Luis")
    conversation = Conversation.objects.create(tenant=tenant, customer=customer)
    both_checked = threading.Barrier(2, timeout=10)
    parse = agent.quote_spec_parse

    def parse_after_both_checked(**kwargs):
        both_checked.wait()
        return parse(**kwargs)

    monkeypatch.setattr(agent, "quote_spec_parse", parse_after_both_checked)
    spec = {"scenario": "roof", "family": "ISODEC_EPS", "length_m": 6, "width_m": 4.48, "thickness_mm": 100}
    outcomes: list[dict] = []

    def run():
        try:
            outcomes.append(
                agent.quote_option_price(
                    tenant_id=conversation.tenant_id,
                    conversation_id=conversation.pk,
                    spec=spec,
                    option_group="opt-race",
                    source_message_id=None,
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(outcomes) == 2 and outcomes[0] == outcomes[1]
    assert Quote.objects.filter(option_group="opt-race").count() == 1


def test_the_alternatives_of_a_turn_are_recorded_with_it_and_published_after(
    conversation, django_capture_on_commit_callbacks
):
    """'en 100 y en 150': the quote agent's task is written in the turn's transaction, so a worker
    lost between the commit and the publish leaves a record the reaper sends again."""
    from bmc.jobs.models import AgentTask

    message = Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        direction="in",
        text="cotizame isodec para techo de 6 x 4,48 con flete a montevideo en 100 y en 150",
    )
    with django_capture_on_commit_callbacks(execute=False) as published:
        conversation_turn(
            tenant_id=conversation.tenant_id,
            conversation_id=conversation.pk,
            public_base_url="http://bmc.test",
            trace_id="t-1",
        )
    pricing = AgentTask.objects.get(task_type="quote.price_options")
    assert (pricing.status, pricing.agent, pricing.trace_id) == ("queued", "quote", "t-1")
    assert [spec["thickness_mm"] for spec in pricing.payload["options"]] == [100, 150]
    assert pricing.payload["answers"] == [message.pk, message.pk]
    assert len(published) == 1  # its publish waits for the commit (the options' reply comes later)


def test_after_choosing_an_option_a_change_prices_the_one_chosen(conversation):
    spec = {"scenario": "roof", "family": "ISODEC_EPS", "length_m": 6, "width_m": 4.48, "zone": "MONTEVIDEO"}
    Conversation.objects.filter(pk=conversation.pk).update(dialogue={"spec": {**spec, "thickness_mm": 100}})
    options_sent(conversation)
    say(conversation, "me quedo con la de 150")
    result = say(conversation, "y si lo hago en gris?")
    quote = Quote.objects.get(pk=result.quotes[0])
    assert quote.spec["thickness_mm"] == 150 and quote.spec["color"] == "Gris"


def test_an_option_that_cannot_be_priced_is_said_not_dropped(conversation):
    from agents.conversations.replies import quote_option_price, quote_options_reply

    spec = {"scenario": "roof", "family": "ISODEC_EPS", "length_m": 6, "width_m": 4.48}
    outcomes = [
        quote_option_price(
            tenant_id=conversation.tenant_id,
            conversation_id=conversation.pk,
            spec={**spec, "thickness_mm": t},
            option_group="opt-5",
            source_message_id=None,
        )
        for t in (100, 120)
    ]
    reply = quote_options_reply(
        tenant_id=conversation.tenant_id,
        conversation_id=conversation.pk,
        option_group="opt-5",
        outcomes=outcomes,
        base_url="x",
    )
    text = Message.objects.get(pk=reply).text
    assert text.startswith("Te paso la cotización:") and text.endswith("¿Querés que avancemos?")
    assert "En 120 mm: ese espesor no viene; lo tenemos en 100, 150, 200 o 250 mm." in text
