"""The payment agent: Mercado Pago payment links for orders, and its notifications (docs/workflows.md)."""
