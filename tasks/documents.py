"""Tasks of the documents agent, consumed from the `documents` queue."""

from bmc.queues import Queue
from tasks.base import ping_task

ping = ping_task(Queue.DOCUMENTS)
