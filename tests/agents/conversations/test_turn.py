"""Turns of the conversation agent on the real database (no broker needed)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from agents.conversations.turn import conversation_turn
from agents.tenants import system_bootstrap
from bmc.conversations.models import Conversation, Customer, Message
from bmc.events.models import DomainEvent
from bmc.quotes.models import Quote
from bmc.sales.models import StaffTask
from tests.agents.conversations.dialogue import say

pytestmark = pytest.mark.django_db


def test_a_wall_with_corners_matches_the_worked_example(conversation):
    result = say(
        conversation, "precio de isopanel 100 para pared de 3 de alto y 24 metros lineales, 4 esquinas, envio a pando"
    )
    quote = Quote.objects.get(pk=result.quotes[0])
    assert str(quote.total) == "4355.78"  # quote_examples.json Q3
    assert quote.lines.filter(sku="ESQUINERO", quantity=4).exists()


def test_a_cold_room_with_three_measures_matches_the_worked_example(conversation):
    result = say(conversation, "cuanto sale una camara isofrig 100 de 4 x 3 x 2,6")
    assert str(Quote.objects.get(pk=result.quotes[0]).total) == "4685.00"  # Q4


def test_messages_of_one_turn_get_one_reply_and_all_are_answered(conversation):
    result = say(conversation, "hola buenas", "cuanto sale isodec 100 para un techo de 6 x 4,48 con flete a montevideo")
    assert len(result.answered) == 2 and len(result.replies) == 1 and len(result.quotes) == 1
    reply = Message.objects.get(pk=result.replies[0])
    assert "Total USD 1.816,95" in reply.text and "¡Gracias, Ana!" in reply.text
    assert "• 26,88 m² Isodec EPS 100 mm: 1.276,80" in reply.text  # each line says how much of what
    assert reply.raw_payload["document_url"].startswith("http://bmc.test/q/")
    assert say(conversation).replies == []  # nothing left to answer


def test_a_turn_under_way_takes_the_new_message(conversation):
    Conversation.objects.filter(pk=conversation.pk).update(turn_owner="other-worker", turn_started_at=timezone.now())
    result = say(conversation, "hola")
    assert result.skipped and result.replies == []
    assert Message.objects.filter(processed_at__isnull=True).count() == 1  # left to the owner


def test_a_quote_over_10000_is_not_sent_before_approval(conversation):
    result = say(conversation, "isodec pir 80 para techo de 7 x 10,5 a dos aguas con flete a punta del este")
    quote = Quote.objects.get(pk=result.quotes[0])
    assert quote.status == "pending_approval" and str(quote.total) == "12738.46"  # Q6
    reply = Message.objects.get(pk=result.replies[0])
    assert "un vendedor revisa" in reply.text and "/q/" not in reply.text and "12.738" not in reply.text


def test_approval_sends_the_quote_then(conversation, django_capture_on_commit_callbacks):
    from django.contrib.auth.models import User

    from agents.conversations.replies import quote_reply_after_approval
    from agents.quotes.pricing import quote_approve

    result = say(conversation, "isodec pir 80 para techo de 7 x 10,5 a dos aguas con flete a punta del este")
    quote = Quote.objects.get(pk=result.quotes[0])
    assert quote_reply_after_approval(quote=quote, base_url="http://bmc.test") is None  # not before approval
    quote_approve(quote=quote, user=User.objects.create_user("jefa"))
    reply = quote_reply_after_approval(quote=quote, base_url="http://bmc.test")
    assert "aprobó" in reply.text and "Total USD 12.738,46" in reply.text and reply.raw_payload["document_url"]
    quote.refresh_from_db()
    assert quote.status == "sent"
    assert quote_reply_after_approval(quote=quote, base_url="http://bmc.test") is None  # once


@pytest.mark.parametrize(
    "text, asks",
    [
        ("isodec 100 techo de 6 m de largo", "ancho"),
        ("isopanel 100 para pared de 3 de alto", "metros lineales"),
    ],
)
def test_a_missing_measure_gets_its_question(conversation, text, asks):
    result = say(conversation, text)
    assert not result.quotes
    assert asks in Message.objects.get(pk=result.replies[0]).text


def test_a_color_the_panel_does_not_come_in_is_answered_with_the_ones_it_does(conversation):
    result = say(conversation, "isofrig 100 para camara de 4 x 3 x 2,6 en rojo")
    assert not result.quotes
    text = Message.objects.get(pk=result.replies[0]).text
    assert "lo tenemos en blanco" in text and "?" in text


def test_changing_the_family_prices_it_for_its_own_use(conversation):
    say(conversation, "isodec 100 techo de 6 x 4,48")
    result = say(conversation, "mejor isopanel 100, son 24 metros lineales de 3 de alto")
    quote = Quote.objects.get(pk=result.quotes[0])
    assert quote.spec["scenario"] == "wall" and not quote.lines.filter(sku__startswith="GOTERO").exists()


def test_after_opting_out_nothing_more_is_sent(conversation):
    assert say(conversation, "no me escriban mas").replies
    result = say(conversation, "cuanto sale isodec 100 para un techo de 6 x 4,48")
    assert result.replies == [] and result.quotes == []


def test_a_message_another_turn_answered_meanwhile_is_not_answered_twice(conversation, monkeypatch):
    """A turn that took over one it thought stale may answer the same messages first: the slower
    turn's quote and reply are rolled back, not stored a second time."""
    import agents.conversations.turn as turns

    real_plan = turns.turn_plan

    def plan_while_another_turn_answers(*, conversation, messages):
        plan = real_plan(conversation=conversation, messages=messages)
        Message.objects.filter(pk__in=[m.pk for m in messages]).update(processed_at=timezone.now())
        return plan

    monkeypatch.setattr(turns, "turn_plan", plan_while_another_turn_answers)
    result = say(conversation, "cuanto sale isodec 100 para un techo de 6 x 4,48 con flete a montevideo")
    assert result.replies == [] and result.quotes == [] and result.answered == []
    assert not Quote.objects.exists() and not Message.objects.filter(direction="out").exists()


def test_a_turn_that_ran_too_long_leaves_the_answer_to_the_one_that_took_over(conversation, monkeypatch):
    import agents.conversations.turn as turns

    real_plan = turns.turn_plan

    def plan_too_slowly(*, conversation, messages):
        # meanwhile another turn took the conversation over, thinking this one stale
        Conversation.objects.filter(pk=conversation.pk).update(turn_owner="newer-turn", turn_started_at=timezone.now())
        return real_plan(conversation=conversation, messages=messages)

    monkeypatch.setattr(turns, "turn_plan", plan_too_slowly)
    result = say(conversation, "cuanto sale isodec 100 para un techo de 6 x 4,48 con flete a montevideo")
    assert result.skipped and result.replies == [] and result.answered == []
    assert not Quote.objects.exists() and Message.objects.get(direction="in").processed_at is None
    assert Conversation.objects.get(pk=conversation.pk).turn_owner == "newer-turn"  # its claim untouched


def test_a_reply_is_not_stored_without_what_sends_it(conversation, monkeypatch):
    """The turn records its sends in its own transaction: if that fails, the turn stores nothing
    and its message waits, unanswered, for the task's retry."""
    import agents.conversations.turn as turns

    def recording_fails(**kwargs):
        assert Message.objects.filter(pk__in=kwargs["message_ids"], direction="out").exists()  # stored by now
        raise ConnectionError("the task records could not be written")

    monkeypatch.setattr(turns, "outbound_send_submit", recording_fails)
    Message.objects.create(tenant=conversation.tenant, conversation=conversation, direction="in", text="hola")
    with pytest.raises(ConnectionError):
        conversation_turn(
            tenant_id=conversation.tenant_id, conversation_id=conversation.pk, public_base_url="http://bmc.test"
        )
    assert not Message.objects.filter(direction="out").exists()
    assert Message.objects.get(direction="in").processed_at is None
    assert Conversation.objects.get(pk=conversation.pk).turn_owner == ""  # free for the retry


def test_the_reaper_sweeps_what_a_crash_left_unanswered_or_unsent(conversation, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from agents.outbound import outbound_reply_create
    from agents.reaper import messages_sweep
    from bmc.jobs.models import AgentTask

    long_ago = timezone.now() - timedelta(minutes=10)
    inbound = Message.objects.create(
        tenant=conversation.tenant, conversation=conversation, direction="in", channel="n8n", text="hola"
    )
    reply = outbound_reply_create(conversation=conversation, text="Hola!")
    Message.objects.filter(pk__in=[inbound.pk, reply.pk]).update(created_at=long_ago)
    fresh = Customer.objects.create(tenant=conversation.tenant, phone="+59899333444")
    Message.objects.create(
        tenant=conversation.tenant,
        conversation=Conversation.objects.create(tenant=conversation.tenant, customer=fresh),
        direction="in",
        channel="n8n",
        text="recien llegado",
    )  # its own task may still come
    voice = Conversation.objects.create(
        tenant=conversation.tenant, customer=Customer.objects.create(tenant=conversation.tenant, phone="+59899555666")
    )
    photo = Conversation.objects.create(
        tenant=conversation.tenant, customer=Customer.objects.create(tenant=conversation.tenant, phone="+59899555777")
    )
    for lost, kind in ((voice, "audio"), (photo, "image")):  # lost turns without text
        message = Message.objects.create(
            tenant=conversation.tenant,
            conversation=lost,
            direction="in",
            channel="whatsapp",
            text="",
            raw_payload={"type": kind},
        )
        Message.objects.filter(pk=message.pk).update(created_at=long_ago)

    with django_capture_on_commit_callbacks(execute=False):
        # the voice note is answered again; the photo without a caption has nothing to answer
        assert messages_sweep(older_than=timedelta(minutes=2)) == ([conversation.pk, voice.pk], [reply.pk])
        assert messages_sweep(older_than=timedelta(minutes=2)) == ([], [])  # their tasks are alive now
    assert (
        AgentTask.objects.filter(
            task_type="conversation.process_message", payload__conversation_id=conversation.pk
        ).count()
        == 1
    )
    assert AgentTask.objects.filter(task_type="outbound.send_message", payload__message_id=reply.pk).count() == 1


MAIN_WITHOUT_THICKNESS = "cuanto sale isodec para un techo de 6 x 4,48 con flete a montevideo"


@pytest.mark.parametrize("answer", ["de 100", "100", "el de 100 mm", "que sea de 100"])
def test_a_thickness_said_alone_answers_the_question_for_it(conversation, answer):
    asked = say(conversation, MAIN_WITHOUT_THICKNESS)
    assert "¿De qué espesor querés el Isodec EPS?" in Message.objects.get(pk=asked.replies[0]).text
    result = say(conversation, answer)
    assert str(Quote.objects.get(pk=result.quotes[0]).total) == "1816.95"


def test_a_number_answering_another_question_is_not_taken_for_a_thickness(conversation):
    say(conversation, "isodec 100 techo de 6 m de largo")  # asks the width
    say(conversation, "50")  # Isodec comes in 50 mm too: a count, or a width, not a new thickness
    conversation.refresh_from_db()
    assert conversation.dialogue["spec"]["thickness_mm"] == 100
    assert not Quote.objects.filter(spec__thickness_mm=50).exists()


def test_a_thickness_the_panel_is_not_made_in_is_said_with_the_ones_it_is(conversation):
    result = say(conversation, "precio isodec 120 para techo de 6 x 4")
    text = Message.objects.get(pk=result.replies[0]).text
    assert not result.quotes
    assert "no viene en 120 mm" in text and "100, 150, 200 o 250 mm" in text


@pytest.mark.parametrize(
    "text, title",
    [
        ("pasame con un vendedor porfa", "El cliente pidió hablar con una persona"),
        ("llegaron 3 paneles rayados, una verguenza", "Reclamo: resolvelo con el cliente"),
        ("que espesor me recomendas para un galpon?", "Consulta sobre un producto para responder"),
    ],
)
def test_a_reply_that_promises_a_person_leaves_them_a_task(conversation, text, title):

    result = say(conversation, text)
    task = StaffTask.objects.get(conversation=conversation)
    assert (task.kind, task.title, task.status, task.detail) == ("handoff", title, "open", text)
    assert task.message_id == result.answered[-1]


def test_an_opted_out_customer_who_writes_again_gets_a_person_not_the_bot(conversation):

    confirmation = say(conversation, "no me escriban mas")
    assert "te responde una persona" in Message.objects.get(pk=confirmation.replies[0]).text
    result = say(conversation, "hola, al final quiero cotizar isodec 100 para 6 x 4,48")
    assert result.replies == [] and result.quotes == []
    task = StaffTask.objects.get(conversation=conversation)
    assert task.title == "Un cliente que pidió no recibir mensajes volvió a escribir: respondele personalmente"


@pytest.mark.parametrize("text", ["gracias!", "buenisimo, muchas gracias 👍", "dale, joya, gracias"])
def test_thanks_get_a_short_answer_not_a_question(conversation, text):
    result = say(conversation, text)
    assert Message.objects.get(pk=result.replies[0]).text == "¡De nada! Cualquier cosa, escribinos por acá."


def test_a_voice_note_is_answered_asking_for_text(conversation):
    Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        direction="in",
        channel="whatsapp",
        text="",
        raw_payload={"type": "audio", "audio": {"id": "media-1"}},
    )
    result = conversation_turn(
        tenant_id=conversation.tenant_id, conversation_id=conversation.pk, public_base_url="http://bmc.test"
    )
    assert "no puedo escuchar audios" in Message.objects.get(pk=result.replies[0]).text


def test_the_name_a_new_customer_gives_is_kept_and_used(tenant):
    system_bootstrap()
    customer = Customer.objects.create(tenant=tenant, phone="+59899333444")
    conversation = Conversation.objects.create(tenant=tenant, customer=customer)
    result = say(conversation, "hola, soy Carla Pérez. " + MAIN_WITHOUT_THICKNESS.replace("isodec", "isodec 100"))
    customer.refresh_from_db()
    assert customer.name == "Carla Pérez"
    assert "¡Gracias, Carla!" in Message.objects.get(pk=result.replies[0]).text


@pytest.mark.parametrize("text", ["mejor cotizame en 150", "y en 150 cuanto sale?", "que sea de 150 mm"])
def test_a_thickness_asked_for_in_a_sentence_requotes_in_it(conversation, text):
    say(conversation, "cuanto sale isodec 100 para un techo de 6 x 4,48 con flete a montevideo")
    result = say(conversation, text)
    assert Quote.objects.get(pk=result.quotes[0]).spec["thickness_mm"] == 150


@pytest.mark.parametrize("text", ["y de 150 m2 cuanto sale?", "mejor en 10 x 4", "y en 100 y en 150?"])
def test_numbers_that_are_not_a_thickness_change_leave_it(conversation, text):
    say(conversation, "cuanto sale isodec 100 para un techo de 6 x 4,48 con flete a montevideo")
    say(conversation, text)
    conversation.refresh_from_db()
    assert conversation.dialogue["spec"]["thickness_mm"] == 100


def test_the_bot_introduces_itself_once_per_conversation(conversation):
    first = Message.objects.get(pk=say(conversation, "hola").replies[0]).text
    again = Message.objects.get(pk=say(conversation, "buenas!").replies[0]).text
    assert first.startswith("¡Hola! Soy el asistente de BMC Uruguay.")
    assert again == "¡Hola de nuevo! ¿En qué te puedo ayudar?"


def test_measures_too_small_for_a_panel_are_asked_again_not_a_crash(conversation):
    result = say(conversation, "isodec 100 techo de 0,001 x 1")
    assert not result.quotes
    assert "no me da ni un panel" in Message.objects.get(pk=result.replies[0]).text
    assert say(conversation, "hola").replies  # the conversation goes on


@pytest.mark.parametrize(
    "text",
    [
        "y la obra queda a 100 km de montevideo",
        "y me lo dejas a 200?",
        "y con un descuento de 100?",
        "y lo necesito dentro de 100 dias",
        "tambien tengo otra casa a 200 km",
    ],
)
def test_other_numbers_in_a_sentence_do_not_change_the_thickness(conversation, text):
    say(conversation, "cuanto sale isodec 150 para un techo de 6 x 4,48")
    say(conversation, text)
    conversation.refresh_from_db()
    assert conversation.dialogue["spec"]["thickness_mm"] == 150
    assert not Quote.objects.exclude(spec__thickness_mm=150).exists()


@pytest.mark.parametrize("text", ["?", "dale", "ok"])
def test_a_bare_acknowledgement_or_question_mark_is_not_thanked(conversation, text):
    result = say(conversation, text)
    assert Message.objects.get(pk=result.replies[0]).text != "¡De nada! Cualquier cosa, escribinos por acá."


def test_a_customer_who_says_yes_twice_accepts_the_quote_once(conversation):

    say(conversation, "cuanto sale isodec 100 para un techo de 6 x 4,48")
    say(conversation, "dale, avancemos")
    say(conversation, "confirmo, avancemos nomas")
    (accepted,) = DomainEvent.objects.filter(type="quote.accepted")  # the order agent takes it from there
    assert Quote.objects.get(pk=accepted.data["quote_id"]).status == "accepted"
    assert not StaffTask.objects.filter(conversation=conversation).exists()
    say(conversation, "que garantia tienen los paneles?")
    say(conversation, "vienen con garantia de fabrica?")
    task = StaffTask.objects.get(conversation=conversation, status="open")  # one task, with both questions
    assert task.detail == "que garantia tienen los paneles?\nvienen con garantia de fabrica?"


def test_a_worker_started_again_lets_go_of_the_turns_its_previous_run_held(conversation):
    from agents.conversations.holds import conversation_holds_release, hold_token

    Conversation.objects.filter(pk=conversation.pk).update(
        turn_owner=hold_token("conversation@host-a"), turn_started_at=timezone.now()
    )
    other = Conversation.objects.create(tenant=conversation.tenant, customer=conversation.customer)
    Conversation.objects.filter(pk=other.pk).update(
        turn_owner=hold_token("conversation@host-b"), turn_started_at=timezone.now()
    )
    assert conversation_holds_release(holder="conversation@host-a") == 1
    conversation.refresh_from_db()
    other.refresh_from_db()
    assert conversation.turn_owner == "" and other.turn_owner.startswith("conversation@host-b|")
    # and the next turn takes it at once, instead of waiting for the old claim to go stale
    Message.objects.create(
        tenant=conversation.tenant, conversation=conversation, direction="in", channel="n8n", text="hola"
    )
    result = conversation_turn(
        tenant_id=conversation.tenant_id, conversation_id=conversation.pk, public_base_url="http://x", holder="w"
    )
    assert not result.skipped and result.replies


def test_an_apostrophe_or_ampersand_reaches_the_customer_as_written(conversation):
    """The copy is plain text: a name or a product with ' or & is not HTML-escaped."""
    Customer.objects.filter(pk=conversation.customer_id).update(name="D'Angelo&Co Pérez")
    conversation.customer.refresh_from_db()
    result = say(conversation, "cuanto sale isodec 100 para un techo de 6 x 4,48")
    reply = Message.objects.get(pk=result.replies[0]).text
    assert reply.startswith("¡Gracias, D'Angelo&Co! Te paso la cotización ")
    assert "&amp;" not in reply and "&#x27;" not in reply

    from types import SimpleNamespace

    from agents.conversations.replies import quote_sent_text

    line = SimpleNamespace(quantity=2, unit="unit", description="Cumbrera 'Isodec' & gotero <100 mm>", amount=10)
    text, _ = quote_sent_text(
        quote=Quote.objects.get(pk=result.quotes[0]), base_url="http://bmc.test", greeting="¡Hola!", lines=[line]
    )
    assert "Cumbrera 'Isodec' & gotero <100 mm>: 10,00\nSubtotal USD " in text


def test_every_reply_and_question_has_its_copy_without_a_trailing_newline():
    from agents.conversations.wording import QUESTION_FIELDS, REPLY_INTENTS, question_text, reply_text

    texts = [reply_text(intent) for intent in REPLY_INTENTS] + [question_text(f) for f in QUESTION_FIELDS]
    assert all(text and text == text.strip() and "{" not in text for text in texts)
    assert reply_text("no_such_intent") == reply_text("other") and question_text("color") == ""
