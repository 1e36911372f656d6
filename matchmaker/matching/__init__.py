"""The matching core: the taxonomy and free-text tagging, the engine that retrieves candidates from the
vector and lexical indexes, the ranker (split by concern: `signals`, `fusion`, `exposure`,
`explanation`), the offline evaluation, and the per-worker search index.

Pure code over `embeddings/`: no Flask, and no SQL except in `search_index`, whose sync with the
database is this layer's one door to it. It may import embeddings and models, never services or views.
"""
