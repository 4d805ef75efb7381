"""One module per agent queue: tasks/<queue>.py holds the tasks consumed from <queue>."""
