"""The staff workspace: the sales and operations homes, the live inbox, customer pages, served in
the admin site; the WebSockets that keep them live."""
