"""The workflow engine: definitions as data, runs that survive any process killed (docs/workflows.md)."""
