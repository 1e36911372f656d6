"""The app's plumbing: configuration, the request-scoped database session, Flask extensions (CSRF,
login, the worker's search index), security headers and login throttling, rate limits, the request
log, error pages, pagination, template helpers and the health endpoints.

Used by every layer above it (web, api, commands); it may import services, matching and models, but
never a view.
"""
