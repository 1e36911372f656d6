"""The HTML pages, one blueprint module per role or area (public, auth, enterprise, provider, docking,
inbox, embed; the admin's pages in `admin/`), with their web forms (`forms`) and the Flask side of
precise push and the outbox (`delivery`).

Views stay thin: validate the form, call one service, render or redirect. They may import services,
matching (read-only types), plumbing and models; nothing imports a view.
"""
