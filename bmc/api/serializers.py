from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bmc.jobs.models import AgentTask
from bmc.jobs.registry import AGENTS, PUBLIC_TASK_TYPES, TASK_TYPES
from bmc.queues import DEFAULT_PRIORITY, Priority

KNOWN_CAPABILITIES = sorted(set().union(*(a.capabilities for a in AGENTS.values())))


@extend_schema_field({"type": "string", "enum": KNOWN_CAPABILITIES})
class CapabilityField(serializers.CharField):
    """Any text is read, and a capability no agent has is refused by the router, naming the known ones."""


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            "intent": {
                "type": "string",
                "nullable": True,
                "description": "Steers a generic task to the agent that takes this intent.",
            },
            "timeout_ms": {"type": "integer", "minimum": 1, "maximum": 86400000, "nullable": True},
        },
        "additionalProperties": True,
    }
)
class MetadataField(serializers.DictField):
    pass


class TaskTypeField(serializers.ChoiceField):
    """The public task types. The agents' own types (a conversation's turn, a send) carry ids of
    the tenant's records and are refused over the API, saying which types are public."""

    default_error_messages = {
        "invalid_choice": f"Unknown task_type '{{input}}'. Public task types: {', '.join(PUBLIC_TASK_TYPES)}.",
        "internal": "'{input}' is submitted by the agents themselves, not over the API. "
        f"Public task types: {', '.join(PUBLIC_TASK_TYPES)}.",
    }

    def __init__(self, **kwargs):
        super().__init__(choices=PUBLIC_TASK_TYPES, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and data in TASK_TYPES and data not in PUBLIC_TASK_TYPES:
            self.fail("internal", input=data)
        return super().to_internal_value(data)


class TaskSubmitSerializer(serializers.Serializer):
    task_type = TaskTypeField(help_text=f"One of: {', '.join(PUBLIC_TASK_TYPES)}.")
    payload = serializers.DictField(required=False, default=dict)
    priority = serializers.ChoiceField(
        choices=[p.value for p in Priority],
        default=DEFAULT_PRIORITY,
        error_messages={
            "invalid_choice": f"'{{input}}' is not a priority. Allowed: {', '.join(p.value for p in Priority)}."
        },
    )
    required_capabilities = serializers.ListField(
        child=CapabilityField(max_length=60),
        required=False,
        default=list,
        help_text=f"Capabilities the agent must have. Known: {', '.join(KNOWN_CAPABILITIES)}.",
    )
    metadata = MetadataField(required=False, default=dict, help_text="Free-form; 'intent' steers routing.")

    def validate_metadata(self, value: dict) -> dict:
        intent = value.get("intent")
        if intent is not None and not isinstance(intent, str):
            raise serializers.ValidationError("metadata.intent must be a string, e.g. 'quote_request'.")
        timeout_ms = value.get("timeout_ms")
        if timeout_ms is not None and (
            not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool) or not 0 < timeout_ms <= 86_400_000
        ):
            raise serializers.ValidationError(
                "metadata.timeout_ms must be a whole number of milliseconds from 1 to 86400000."
            )
        return value


class TaskAcceptedSerializer(serializers.Serializer):
    task_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=AgentTask.Status.choices)
    agent_id = serializers.CharField()


class TaskSerializer(serializers.ModelSerializer):
    agent_id = serializers.CharField(source="agent")
    timestamp = serializers.DateTimeField(source="updated_at")
    # counts, declared with PostgreSQL's ranges so the schema is the same whatever the database
    processing_time_ms = serializers.IntegerField(allow_null=True, required=False, min_value=0, max_value=2**31 - 1)
    attempts = serializers.IntegerField(
        required=False, min_value=0, max_value=2**31 - 1, help_text="Times a worker started it."
    )
    replays = serializers.IntegerField(
        required=False, min_value=0, max_value=2**31 - 1, help_text="Times it was retried after it failed or died."
    )

    class Meta:
        model = AgentTask
        fields = (
            "task_id",
            "status",
            "result",
            "agent_id",
            "processing_time_ms",
            "timestamp",
            "task_type",
            "priority",
            "attempts",
            "replays",
            "error",
            "trace_id",
            "created_at",
            "started_at",
            "finished_at",
        )


class AgentSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    queue = serializers.CharField()
    capabilities = serializers.ListField(child=serializers.CharField())
    intents = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()
    workers = serializers.ListField(child=serializers.CharField(), required=False)
    status = serializers.CharField(required=False)


class QueueSerializer(serializers.Serializer):
    name = serializers.CharField()
    depth = serializers.IntegerField(allow_null=True)
    workers = serializers.ListField(child=serializers.CharField())
