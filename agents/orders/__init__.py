"""The order agent: an accepted quote becomes an order, paid, scheduled, delivered (docs/workflows.md)."""
