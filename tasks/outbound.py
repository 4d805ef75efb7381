"""Tasks of the outbound agent, consumed from the `outbound` queue."""

from bmc.queues import Queue
from tasks.base import ping_task

ping = ping_task(Queue.OUTBOUND)
