"""The per-process search index: a MatchEngine fed from the database and kept in step with it.

The database is the only source of truth. Each process (gunicorn worker) builds its engine on
first use from the stored vectors of matchable solutions (published, provider approved), then on
later uses applies the solution rows stamped after the last change it applied — one indexed
query — so a publish or a whitelist decision in any worker reaches every worker without a restart.

A worker looks at the change counters every `poll_seconds` (MATCHMAKER_INDEX_POLL_SECONDS, 0.2 s by
default) from a background thread rather than on a request's path (the look was a connection checkout
and round trips on every request, and a slow answer stalled every thread waiting on the index lock);
the worker that made a change applies it at once (`refresh`).
What the interval can delay is only a new solution showing up in another worker: every caller checks
the solutions it shows, pushes or lists against the database (`_matchable` filters), so a withdrawn
solution or a suspended provider never appears in the meantime.
"""

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass, replace

import numpy as np
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from embeddings import Encoder, load_encoder
from embeddings.memory import release_free_memory
from embeddings.shared import SharedEncoder
from matchmaker.matching.engine import MatchEngine, SolutionDoc, doc_text
from matchmaker.matching.fusion import DEFAULT_WEIGHTS, SIGNALS, RankedMatch, Weights
from matchmaker.matching.signals import NEUTRAL, NeedProfile, rating_prior
from matchmaker.matching.tagging import Suggestion, suggest
from matchmaker.matching.taxonomy import Taxonomy
from models import (
    CapabilityTag,
    ChangeCounter,
    Domain,
    FusionWeights,
    Industry,
    Provider,
    ProviderRating,
    ProviderStatus,
    RatingStatus,
    Solution,
    SolutionStatus,
    SolutionVector,
)

log = logging.getLogger(__name__)

# ChangeCounter row 1 stamps solutions; row 2 counts changes of the taxonomy and of the fusion weights
# (both rebuild the engine); row 3 API key revocations
TAXONOMY_COUNTER = 2
API_KEYS_COUNTER = 3


def taxonomy_version(session: Session) -> int:
    """The number of taxonomy changes so far (0 before the first); a worker whose cached taxonomy was
    read at another version reloads it (see `SearchIndex`)."""
    return session.exec(select(ChangeCounter.value).where(ChangeCounter.id == TAXONOMY_COUNTER)).first() or 0


def read_taxonomy(session: Session) -> Taxonomy:
    """The taxonomy as the database holds it now (the admin edits it at 分类体系)."""
    domains = session.exec(select(Domain).order_by(Domain.position))
    industries = session.exec(select(Industry).order_by(Industry.position))
    tags = session.exec(select(CapabilityTag).order_by(CapabilityTag.domain, CapabilityTag.id))
    return Taxonomy.from_dict(
        {
            "domains": [{"code": d.code, "name": d.name, "description": d.description} for d in domains],
            "industries": [
                {"code": i.code, "name": i.name, "kind": i.kind, "gbt": i.gbt, "synonyms": i.synonyms}
                for i in industries
            ],
            "tags": [{"name": t.name, "domain": t.domain, "synonyms": t.synonyms} for t in tags],
        }
    )


def stored_weights(session: Session) -> Weights:
    """The fusion weights last adopted (`flask refit-weights`), or DEFAULT_WEIGHTS before the first."""
    row = session.exec(select(FusionWeights).order_by(col(FusionWeights.id).desc()).limit(1)).first()
    if row is None:
        return DEFAULT_WEIGHTS
    return Weights(**{name: getattr(row, name) for name in SIGNALS})


ENCODE_BATCH = 256
TOP_N = 10


def published_priors(session: Session, provider_ids: Iterable[int] | None = None) -> dict[int, float]:
    """provider id -> `rating_prior` of its newest published rating (评星评级); providers without one are
    left out (they rank with NEUTRAL)."""
    newest = select(ProviderRating.provider_id, func.max(ProviderRating.period).label("period")).where(
        ProviderRating.status == RatingStatus.published
    )
    if provider_ids is not None:
        newest = newest.where(col(ProviderRating.provider_id).in_(list(provider_ids)))
    newest = newest.group_by(ProviderRating.provider_id).subquery()
    rows = session.exec(
        select(ProviderRating.provider_id, ProviderRating.stars).join(
            newest,
            (newest.c.provider_id == ProviderRating.provider_id) & (newest.c.period == ProviderRating.period),
        )
    )
    return {provider_id: rating_prior(stars) for provider_id, stars in rows}


def to_doc(solution: Solution, rating: float = NEUTRAL) -> SolutionDoc:
    return SolutionDoc(
        id=solution.id,
        provider_id=solution.provider_id,
        title=solution.title,
        summary=solution.summary,
        description=solution.description,
        domain=solution.domain,
        industries=tuple(solution.industries),
        sizes=tuple(solution.sizes),
        modules=tuple(solution.modules),
        tags=tuple(solution.tags),
        maturity=solution.maturity_band,
        rating=rating,
    )


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stored_vectors(session: Session, encoder: Encoder, docs: Sequence[SolutionDoc], force: bool = False) -> np.ndarray:
    """Vectors for `docs` in order: stored ones where the text is unchanged (unless `force`), the rest
    encoded and stored, one commit per batch, so an interrupted run keeps what it finished."""
    if not docs:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    ids = [doc.id for doc in docs]
    rows = {
        row.solution_id: row
        for row in session.exec(
            select(SolutionVector).where(SolutionVector.model == encoder.name, col(SolutionVector.solution_id).in_(ids))
        )
    }
    hashes = [text_hash(doc_text(doc)) for doc in docs]
    matrix = np.zeros((len(docs), encoder.dim), dtype=np.float32)
    stale = []
    for i, (doc, digest) in enumerate(zip(docs, hashes, strict=True)):
        if not force and doc.id in rows and rows[doc.id].text_hash == digest:
            matrix[i] = np.frombuffer(rows[doc.id].vector, dtype=np.float32)
        else:
            stale.append(i)
    for start in range(0, len(stale), ENCODE_BATCH):
        batch = stale[start : start + ENCODE_BATCH]
        encoded = encoder.encode([doc_text(docs[i]) for i in batch])
        values = []
        for i, vector in zip(batch, encoded, strict=True):
            matrix[i] = vector
            values.append(
                {
                    "solution_id": docs[i].id,
                    "model": encoder.name,
                    "text_hash": hashes[i],
                    "vector": np.asarray(vector, dtype=np.float32).tobytes(),
                }
            )
        session.exec(_upsert_vectors(session, values))
        session.commit()
    return matrix


def _upsert_vectors(session: Session, values: list[dict]):
    """Insert or replace: two workers may encode the same new solution at once (the one that saved it
    and another catching up), and both write the same vector; neither may fail on the other's row."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(SolutionVector).values(values)
    return statement.on_conflict_do_update(
        index_elements=["solution_id", "model"],
        set_={"text_hash": statement.excluded.text_hash, "vector": statement.excluded.vector},
    )


@dataclass(frozen=True)
class TextMatchResult:
    suggestion: Suggestion
    ranked: list[RankedMatch]
    cached: bool  # the need text's vector came from the encoder's cache


class SearchIndex:
    """One per process; thread-safe; built lazily so that starting a worker loads no model.

    With a poll interval (> 0) a background thread of the process looks at the change counters every
    interval, on an autocommit connection and outside the matching lock, and takes the lock only to
    apply a change it found: a request never waits on the database for the index, nor behind a slow
    look. With 0 (the test suite) every use looks first, in the caller's thread.
    """

    def __init__(self, encoder_spec: str, poll_seconds: float = 0.0) -> None:
        self._encoder_spec = encoder_spec
        self._poll_seconds = poll_seconds
        self._encoder: SharedEncoder | None = None
        self._engine: MatchEngine | None = None
        self._taxonomy: Taxonomy | None = None
        self._taxonomy_version = 0  # taxonomy_version() when the taxonomy (and engine) were read
        self._applied_seq = 0
        self._counters: dict[int, int] | None = None  # the change counters at the poll thread's last look
        self._poller_pid: int | None = None  # the process whose poll thread runs (gunicorn forks workers)
        self._stopped = threading.Event()
        self._start_lock = threading.Lock()  # the request lock may be held by the caller
        self._lock = threading.Lock()

    @property
    def encoder(self) -> SharedEncoder:
        if self._encoder is None:
            self._encoder = SharedEncoder(load_encoder(self._encoder_spec))
        return self._encoder

    @property
    def applied_seq(self) -> int:
        return self._applied_seq

    @property
    def built(self) -> bool:
        return self._engine is not None

    def match(self, db: Engine, need: NeedProfile, top_n: int = TOP_N) -> list[RankedMatch]:
        """Rank the matchable solutions for `need`, on an index brought up to date first."""
        query, _ = self.encoder.encode_one(need.text)  # outside the lock: batched with other threads' texts
        with self._lock:
            return self._current(db).match(need, top_n, query=query)

    def match_among(self, db: Engine, need: NeedProfile, ids: Iterable[int], top_n: int = TOP_N) -> list[RankedMatch]:
        """`MatchEngine.match_among` on an index brought up to date first."""
        with self._lock:
            return self._current(db).match_among(need, ids, top_n)

    def suggest_and_match(self, db: Engine, need: NeedProfile, top_n: int = TOP_N) -> TextMatchResult:
        """`suggest(need.text)` and `match(need)` (the API's hot path): the text is encoded outside the
        lock and suggested once (the ranking takes the suggestion as the need's tags and domains, as it
        would have suggested them itself)."""
        query, cached = self.encoder.encode_one(need.text)
        with self._lock:
            engine = self._current(db)
            taxonomy = self._taxonomy
        assert taxonomy is not None
        suggestion = suggest(need.text, taxonomy)
        suggested = replace(need, tags=need.tags or suggestion.tags, domains=need.domains or suggestion.domains)
        with self._lock:
            return TextMatchResult(suggestion, engine.match(suggested, top_n, query=query), cached)

    def listing(
        self,
        db: Engine,
        terms: Sequence[str] = (),
        domain: str | None = None,
        industries: Set[str] | None = None,
        size: str | None = None,
    ) -> list[int]:
        """`MatchEngine.listing` on an index brought up to date first: the matchable solutions' ids."""
        with self._lock:
            return self._current(db).listing(terms, domain, industries, size)

    def suggest(self, db: Engine, text: str) -> Suggestion:
        """Domains, tags and industry the text talks about (needs the taxonomy only, not the model)."""
        return suggest(text, self.taxonomy(db))

    def taxonomy(self, db: Engine) -> Taxonomy:
        """The taxonomy as the database holds it: kept current by the poll thread, else read now."""
        with self._lock:
            polled = self._taxonomy if self._polling() else None
            return polled or self._taxonomy_of(db)

    def counter(self, db: Engine, counter_id: int) -> int:
        """A change counter's value: as the poll thread last saw it (at most one interval old), or read
        now when no poll thread runs. Other per-process caches key on it (the API key cache)."""
        if self._poll_seconds > 0:
            self._start_polling(db)
            if self._counters is not None:  # the poll thread has looked
                return self._counters.get(counter_id, 0)
        with Session(_autocommit(db)) as session:
            return read_counters(session).get(counter_id, 0)

    def _taxonomy_of(self, db: Engine) -> Taxonomy:
        with Session(db) as session:
            version = taxonomy_version(session)
            if self._taxonomy is None or version != self._taxonomy_version:
                self._taxonomy = read_taxonomy(session)
                self._taxonomy_version, self._engine = version, None  # the engine ranks with the old one
        return self._taxonomy

    def refresh(self, db: Engine) -> None:
        """Apply the latest changes now if this process has an index (a worker that never matched
        builds it on first use instead, so a provider's save does not wait for a full build)."""
        with self._lock:
            if self._engine is not None:
                self._current(db, fresh=True)

    def warm(self, db: Engine) -> None:
        """Load the model and build (or bring up to date) the index now."""
        self.encoder  # noqa: B018  (loads it)
        with self._lock:
            self._current(db, fresh=True)

    def reset(self) -> None:
        """Drop the in-memory index; the next use rebuilds it from the stored vectors."""
        with self._lock:
            self._engine, self._taxonomy, self._applied_seq, self._taxonomy_version = None, None, 0, 0
            self._counters = None

    def stop_polling(self) -> None:
        """End the poll thread (an app made and dropped again, as in tests); requests then look themselves."""
        self._stopped.set()
        self._poll_seconds = 0.0

    def _polling(self) -> bool:
        return self._poll_seconds > 0 and self._poller_pid == os.getpid()

    def _current(self, db: Engine, fresh: bool = False) -> MatchEngine:
        """The engine (caller holds the lock), brought up to date with the database unless the poll
        thread keeps it so (`fresh`: look now)."""
        if self._engine is not None and not fresh and self._poll_seconds > 0:
            self._start_polling(db)
            return self._engine
        with Session(db, expire_on_commit=False) as session:
            stamps = read_counters(session)
            if self._engine is None or stamps.get(TAXONOMY_COUNTER, 0) != self._taxonomy_version:
                self._build(session)  # a taxonomy edit (rare) changes tags and relations: rebuild from stored vectors
            elif stamps.get(1, 0) > self._applied_seq:  # the counter is bumped with every stamp, in its transaction
                self._catch_up(session, stamps[1])
        assert self._engine is not None
        return self._engine

    def _start_polling(self, db: Engine) -> None:
        """Start this process's poll thread on its first use here (a forked worker has no threads)."""
        if self._poller_pid != os.getpid():
            with self._start_lock:
                if self._poller_pid != os.getpid():
                    self._poller_pid, self._counters = os.getpid(), None  # none seen in this process yet
                    threading.Thread(target=self._poll, args=(db,), name="search-index-poll", daemon=True).start()

    def _poll(self, db: Engine) -> None:
        """The poll thread: look at the counters every interval; take the lock only to apply a change."""
        reader = _autocommit(db)
        while not self._stopped.wait(self._poll_seconds):
            try:
                with Session(reader) as session:
                    self._counters = stamps = read_counters(session)
                behind = (
                    stamps.get(1, 0) > self._applied_seq or stamps.get(TAXONOMY_COUNTER, 0) != self._taxonomy_version
                )
                if self._engine is not None and behind:
                    with self._lock:
                        self._current(db, fresh=True)
            except Exception:  # a database hiccup: the next round tries again
                log.exception("search index: looking for changes failed")

    def _build(self, session: Session) -> None:
        seq = session.exec(select(ChangeCounter.value).where(ChangeCounter.id == 1)).one()
        self._taxonomy_version = taxonomy_version(session)
        self._taxonomy = read_taxonomy(session)
        engine = MatchEngine(self.encoder, self._taxonomy, stored_weights(session))
        priors = published_priors(session)
        docs = [to_doc(s, priors.get(s.provider_id, NEUTRAL)) for s in _matchable_solutions(session)]
        engine.upsert(docs, stored_vectors(session, self.encoder, docs))
        del docs
        release_free_memory()
        self._engine, self._applied_seq = engine, seq

    def _catch_up(self, session: Session, seq: int) -> None:
        """Apply the rows stamped after the last applied change, up to at least `seq`: the counter's value
        read before this query (stamps commit in counter order, so all of them are visible to it)."""
        changed = list(
            session.exec(
                select(Solution, Provider.status)
                .join(Provider)
                .where(Solution.change_seq > self._applied_seq)
                .order_by(Solution.change_seq)
            )
        )
        if not changed:
            self._applied_seq = seq  # e.g. a whitelist change of a provider without solutions
            return
        assert self._engine is not None
        priors = published_priors(session, {solution.provider_id for solution, _ in changed})
        keep = [
            to_doc(solution, priors.get(solution.provider_id, NEUTRAL))
            for solution, status in changed
            if _matchable(solution, status)
        ]
        drop = [solution.id for solution, status in changed if not _matchable(solution, status)]
        if drop:
            self._engine.remove(drop)
        if keep:
            self._engine.upsert(keep, stored_vectors(session, self.encoder, keep))
        self._applied_seq = max(seq, *(solution.change_seq for solution, _ in changed))


def read_counters(session: Session) -> dict[int, int]:
    return dict(session.exec(select(ChangeCounter.id, ChangeCounter.value)).all())


def _autocommit(db: Engine) -> Engine:
    """`db` for reads that need no transaction: no BEGIN or ROLLBACK round trips (same pool)."""
    return db.execution_options(isolation_level="AUTOCOMMIT")


def reindex(
    session: Session, encoder: Encoder, force: bool = False, on_batch: Callable[[int], None] | None = None
) -> int:
    """Bring the stored vectors of every matchable solution up to date (all re-encoded with `force`).

    Workers keep serving from the rows as they were until a batch commits, and every committed batch
    is complete, so stopping half-way leaves a usable index; running again finishes the job.
    """
    docs = [to_doc(solution) for solution in _matchable_solutions(session)]
    for start in range(0, len(docs), ENCODE_BATCH):
        batch = docs[start : start + ENCODE_BATCH]
        stored_vectors(session, encoder, batch, force)
        if on_batch is not None:
            on_batch(len(batch))
    return len(docs)


def _matchable_query():
    return (
        select(Solution)
        .join(Provider)
        .where(Solution.status == SolutionStatus.published, Provider.status == ProviderStatus.approved)
    )


def matchable_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(_matchable_query().subquery())).one()


def _matchable_solutions(session: Session) -> list[Solution]:
    return list(session.exec(_matchable_query().order_by(Solution.id)))


def _matchable(solution: Solution, provider_status: ProviderStatus) -> bool:
    return solution.status == SolutionStatus.published and provider_status == ProviderStatus.approved
