from __future__ import annotations

from rest_framework import serializers

from agents.registry import AGENTS, TASK_TYPES
from bmc.core.models import AgentTask
from bmc.queues import DEFAULT_PRIORITY, Priority

KNOWN_CAPABILITIES = sorted(set().union(*(a.capabilities for a in AGENTS.values())))


class TaskSubmitSerializer(serializers.Serializer):
    task_type = serializers.CharField(max_length=80, help_text=f"One of: {', '.join(sorted(TASK_TYPES))}.")
    payload = serializers.DictField(required=False, default=dict)
    priority = serializers.ChoiceField(
        choices=[p.value for p in Priority],
        default=DEFAULT_PRIORITY,
        error_messages={"invalid_choice": f"'{{input}}' is not a priority. Allowed: {', '.join(p.value for p in Priority)}."},
    )
    required_capabilities = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, default=list,
        help_text=f"Capabilities the agent must have. Known: {', '.join(KNOWN_CAPABILITIES)}.",
    )
    metadata = serializers.DictField(required=False, default=dict, help_text="Free-form; 'intent' steers routing.")

    def validate_task_type(self, value: str) -> str:
        if value not in TASK_TYPES:
            raise serializers.ValidationError(
                f"Unknown task_type '{value}'. Known task types: {', '.join(sorted(TASK_TYPES))}."
            )
        return value


class TaskAcceptedSerializer(serializers.Serializer):
    task_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=AgentTask.Status.choices)
    agent_id = serializers.CharField()


class TaskSerializer(serializers.ModelSerializer):
    agent_id = serializers.CharField(source="agent")
    timestamp = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = AgentTask
        fields = (
            "task_id", "status", "result", "agent_id", "processing_time_ms", "timestamp",
            "task_type", "priority", "attempts", "error", "trace_id", "created_at", "started_at", "finished_at",
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
