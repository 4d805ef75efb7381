"""Local servers that speak the APIs this product syncs with (Google Sheets, and next
MercadoLibre and Shopify), for trying the data sync on one machine and for its tests: the real
client libraries talk to them. `python -m scripts.sandbox` starts them (docs/datasync.md)."""
