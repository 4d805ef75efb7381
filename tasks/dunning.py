"""Tasks of the dunning agent, consumed from the `dunning` queue."""

from bmc.queues import Queue
from tasks.base import ping_task

ping = ping_task(Queue.DUNNING)
