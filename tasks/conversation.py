"""Tasks of the conversation agent, consumed from the `conversation` queue."""

from bmc.queues import Queue
from tasks.base import ping_task

ping = ping_task(Queue.CONVERSATION)
