"""The use cases: plain typed functions that take the session first, own their commit and never read
`request`. They raise `errors.ServiceError` with a Chinese message for a broken rule.

They may import matching (to rank, tag and read the taxonomy), embeddings and models; never a view,
the API or plumbing.
"""
