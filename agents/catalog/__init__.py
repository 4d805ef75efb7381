"""The catalog agent: product questions answered from the catalog and the stock (docs/workflows.md)."""
