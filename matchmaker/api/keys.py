"""The API keys a process has seen, so that a call costs no database lookup of its key.

A live key found once is kept by its token's hash. Revoking a key bumps a change counter
(`API_KEYS_COUNTER`, in the revoke's transaction); the search index's poll thread reads it with the
other counters, and a process that sees it move drops every key it holds. So a revoked key is refused
by every worker within one poll interval (MATCHMAKER_INDEX_POLL_SECONDS), and at once where no poll
thread runs (the counter is then read on each call). Unknown tokens are never kept: guessing costs the
guesser a lookup each time and cannot fill the cache.
"""

import threading

from sqlalchemy.engine import Engine
from sqlmodel import Session

from matchmaker.matching.search_index import API_KEYS_COUNTER, SearchIndex
from matchmaker.services import api_keys
from models import ApiKey

MAX_KEYS = 10_000  # a process holding more starts again empty


class KeyCache:
    def __init__(self) -> None:
        self._keys: dict[str, ApiKey] = {}
        self._version: int | None = None
        self._lock = threading.Lock()

    def authenticate(self, reader: Engine, index: SearchIndex, token: str) -> ApiKey | None:
        """`api_keys.authenticate`, from the cache while no key was revoked since it was filled.
        `reader`: an engine for reads (autocommit); the key returned is detached, read-only."""
        version = index.counter(reader, API_KEYS_COUNTER)
        digest = api_keys.token_hash(token)
        with self._lock:
            if version != self._version:
                self._keys, self._version = {}, version
            key = self._keys.get(digest)
        if key is not None:
            return key
        with Session(reader, expire_on_commit=False) as session:
            key = api_keys.authenticate(session, token)
        if key is not None:
            with self._lock:
                if version == self._version:  # not if a revocation was seen meanwhile
                    if len(self._keys) >= MAX_KEYS:
                        self._keys = {}
                    self._keys[digest] = key
        return key
