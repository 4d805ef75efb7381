"""The quotes agent: pricing by the contract (pricing.py), the document a customer receives
(document.py), and the catalog it prices from (catalog.py)."""
