"""The documents agent: reads invoices (CFE), purchase orders, payment receipts and delivery notes,
extracts what matters, checks them against each other and the database, and sends the doubtful
ones to a person.

Every document goes through five stages (`stages`), each a task in tasks/documents.py: ingest
(type by content, limits, duplicates) → text (`formats`: pypdf, openpyxl, email; OCR with
Tesseract where installed) → classification (`classification`) → fields (`fields`: RUT with its
check digit, numbers, dates, currency, amounts, lines) → validation (`validation`: lines and IVA
add up, RUT valid, dates plausible). A stage that meets a bad file marks that document failed with
a reason a person can read and the rest of its chain passes it by; the batch's callback
(`crosscheck.batch_crosscheck`) runs when every chain is done.

The other modules: `intake` (files received, a batch stored), `flow` (how a batch moves through
the jobs layer), `progress` (how far a batch is), `review` (a person's decision and
corrections), `whatsapp` (a customer's file fetched from WhatsApp). Import from them directly;
this package re-exports nothing.
"""
