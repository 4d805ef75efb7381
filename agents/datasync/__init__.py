"""The data sync agent: the company's Google Sheets, MercadoLibre and Shopify kept in step with
the system (docs/datasync.md)."""
