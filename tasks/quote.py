"""Tasks of the quote agent, consumed from the `quote` queue."""

from bmc.queues import Queue
from tasks.base import ping_task

ping = ping_task(Queue.QUOTE)
