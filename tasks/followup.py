"""Tasks of the followup agent, consumed from the `followup` queue."""

from bmc.queues import Queue
from tasks.base import ping_task

ping = ping_task(Queue.FOLLOWUP)
