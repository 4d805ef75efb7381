"""The inventory agent: stock reserved for orders, released, shipped, received (docs/workflows.md)."""
