import pytest

from bmc.jobs.registry import TASK_TYPES
from bmc.jobs.router import RoutingError, route_task


def test_task_type_names_its_agent():
    route = route_task(task_type="datasync.catalog_import")
    assert (route.agent.id, route.celery_task, route.reason) == (
        "datasync",
        "tasks.datasync.catalog_import",
        "task_type",
    )


def test_generic_task_goes_by_intent_then_capabilities_then_fallback():
    assert route_task(task_type="ping", intent="quote_request").agent.id == "quote"
    assert route_task(task_type="ping", intent="promise_to_pay").agent.id == "dunning"
    by_capability = route_task(task_type="ping", required_capabilities=["ocr"])
    assert (by_capability.agent.id, by_capability.celery_task, by_capability.reason) == (
        "documents",
        "tasks.documents.ping",
        "capabilities",
    )
    fallback = route_task(task_type="ping")
    assert (fallback.agent.id, fallback.reason) == ("orchestrator", "fallback")


def test_intent_yields_to_required_capabilities():
    # quote_request belongs to the quote agent, which cannot do OCR
    assert route_task(task_type="ping", intent="quote_request", required_capabilities=["ocr"]).agent.id == "documents"


def test_unknown_task_type_lists_the_known_ones():
    with pytest.raises(RoutingError) as error:
        route_task(task_type="make_coffee")
    for name in TASK_TYPES:
        assert name in str(error.value)


def test_capabilities_the_agent_lacks_are_refused():
    with pytest.raises(RoutingError, match="lacks the required capabilities ocr"):
        route_task(task_type="datasync.catalog_import", required_capabilities=["ocr"])
    with pytest.raises(RoutingError, match="No agent has all of"):
        route_task(task_type="ping", required_capabilities=["teleport"])
