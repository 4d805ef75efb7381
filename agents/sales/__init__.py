"""After the quote: follow-ups of a sent quote (followup.py) and collections of overdue invoices
(dunning.py)."""
