"""The conversation agent: what customers write on WhatsApp, answered in Rioplatense Spanish.

- turn: a conversation's turn (it reads and plans, then commits in one transaction)
- plan: what a turn decides, by a table of handlers (intent -> handler)
- holds: who holds a conversation while writing its dialogue
- replies: the replies that send quotes, and alternatives answered together
- recovery: cancelled, stranded and given-up messages
- wording: the copy (templates/conversation/) filled in
- readers: what is read in the customer's words beyond the NLU's entities

Import from the module that holds a name; this package re-exports nothing.
"""
