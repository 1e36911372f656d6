"""Timetabling of an event's accepted 1:1 meetings: a slot and a table for each (pure, no database).

A meeting may take a slot only when both participants said they are available then; a participant
holds at most one meeting per slot; a slot holds at most as many meetings as there are tables.
Tables are interchangeable, so the solver (OR-Tools CP-SAT) decides slots only, one boolean per
meeting and allowed slot, and tables are handed out per slot afterwards. That keeps the model at
about meetings x slots variables: 18 000 for the benchmark event of 1 500 meetings and 12 slots.

Objective: the sum of the weights of the placed meetings, a weight being ``100 + round(100 * score)``
(every meeting counts, a better match counts up to twice as much), plus ``KEEP`` for every meeting
that keeps its slot of the previous schedule (``previous``). On a first run that is simply the
weighted number of meetings. When re-running after late acceptances, a meeting already on someone's
agenda moves only if that lets in at least as much weight: moving one meeting to place a late one
is worth it, moving two for one is not. Tables follow the slot: a meeting keeping its slot keeps
its table.
"""

import random
import time
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

DEFAULT_TIME_LIMIT = 20.0  # seconds the solver may search; the best schedule found by then is kept
KEEP = 100  # the worth of leaving a scheduled meeting where it is: the weight of a meeting scored 0


@dataclass(frozen=True)
class MeetingSpec:
    """One accepted meeting between participants ``a`` and ``b`` (any hashable ids)."""

    id: int
    a: int
    b: int
    score: float = 0.0  # the match score in [0, 1]


@dataclass(frozen=True)
class Placement:
    slot: int
    table: int


@dataclass(frozen=True)
class Problem:
    """``availability`` maps a participant to the slots it can take; a participant absent from it is
    available throughout. ``previous`` is the placement of meetings in the last schedule."""

    slots: int
    tables: int
    meetings: Sequence[MeetingSpec]
    availability: Mapping[int, Collection[int]] = field(default_factory=dict)
    previous: Mapping[int, Placement] = field(default_factory=dict)

    def free_slots(self, participant: int) -> frozenset[int]:
        """The slots ``participant`` can take (all of them when it stated none)."""
        stated = self.availability.get(participant)
        every = range(self.slots)
        return frozenset(every if stated is None else (s for s in stated if 0 <= s < self.slots))

    def allowed_slots(self, meeting: MeetingSpec) -> list[int]:
        return sorted(self.free_slots(meeting.a) & self.free_slots(meeting.b))


@dataclass
class Schedule:
    placements: dict[int, Placement]
    unplaced: dict[int, str]  # meeting id -> reason, in Chinese for the admin
    moved: int  # previously placed meetings that changed slot or table, or lost their place
    optimal: bool  # the solver proved no better schedule exists


def weight(score: float) -> int:
    return 100 + round(100 * min(max(score, 0.0), 1.0))


def solve(problem: Problem, time_limit: float = DEFAULT_TIME_LIMIT, workers: int = 2) -> Schedule:
    """The best schedule of ``problem`` found within ``time_limit`` seconds."""
    if problem.slots < 1 or problem.tables < 1:
        raise ValueError("slots and tables must be positive")
    meetings = _distinct(problem.meetings)
    model = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    by_participant_slot: dict[tuple[int, int], list] = defaultdict(list)
    by_slot: dict[int, list] = defaultdict(list)
    for m in meetings:
        choices = []
        for s in problem.allowed_slots(m):
            var = model.new_bool_var(f"m{m.id}s{s}")
            x[m.id, s] = var
            choices.append(var)
            by_participant_slot[m.a, s].append(var)
            by_participant_slot[m.b, s].append(var)
            by_slot[s].append(var)
        if len(choices) > 1:
            model.add_at_most_one(choices)
    for group in by_participant_slot.values():
        if len(group) > 1:
            model.add_at_most_one(group)
    for group in by_slot.values():
        if len(group) > problem.tables:
            model.add(sum(group) <= problem.tables)

    keep = [x[m_id, p.slot] for m_id, p in problem.previous.items() if (m_id, p.slot) in x]
    weights = {m.id: weight(m.score) for m in meetings}
    model.maximize(sum(weights[m_id] * var for (m_id, _), var in x.items()) + KEEP * sum(keep))
    started = time.perf_counter()
    start = local_search(problem, meetings, min(5.0, time_limit / 4))
    for (m_id, s), var in x.items():
        model.add_hint(var, start.get(m_id) == s)

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.1, time_limit - (time.perf_counter() - started))
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    chosen = start
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        found = {m_id: s for (m_id, s), var in x.items() if solver.boolean_value(var)}
        if _value(problem, weights, found) >= _value(problem, weights, start):
            chosen = found
    placements = _tables(problem, chosen)
    per_slot = Counter(p.slot for p in placements.values())
    unplaced = {m.id: _reason(problem, m, per_slot) for m in problem.meetings if m.id not in placements}
    moved = sum(1 for m_id, p in problem.previous.items() if placements.get(m_id) != p)
    return Schedule(placements, unplaced, moved, status == cp_model.OPTIMAL)


def _value(problem: Problem, weights: Mapping[int, int], chosen: Mapping[int, int]) -> int:
    """The objective of the model for the slots in ``chosen``."""
    kept = sum(1 for m_id, p in problem.previous.items() if chosen.get(m_id) == p.slot)
    return sum(weights[m_id] for m_id in chosen) + KEEP * kept


def local_search(problem: Problem, meetings: Sequence[MeetingSpec], seconds: float, seed: int = 0) -> dict[int, int]:
    """A start for the solver: min-conflicts search with a tabu list, from the previous slots.

    Takes an unplaced meeting, puts it in the allowed slot that evicts the fewest placed meetings
    (those sharing a participant there, or one more when the slot's tables are full) and queues the
    evicted ones; an evicted meeting may not return to that slot for a while. Keeps the state of
    the best objective (see the module's docstring). On the benchmark's tight event (1 500 meetings needing 250 of 300
    participants in every slot) CP-SAT alone places about 93 % in 20 s; this places all of them in
    a tenth of a second, and CP-SAT then trades meetings for better-scored ones.
    """
    rng = random.Random(seed)
    allowed = {m.id: problem.allowed_slots(m) for m in meetings}
    by_id = {m.id: m for m in meetings}
    slot_of: dict[int, int] = {}
    holder: dict[tuple[int, int], int] = {}  # (participant, slot) -> meeting
    in_slot: dict[int, set[int]] = defaultdict(set)

    value = 0  # the model's objective for the current state, kept up to date

    def worth(m_id: int, s: int) -> int:
        previous = problem.previous.get(m_id)
        return weight(by_id[m_id].score) + (KEEP if previous and previous.slot == s else 0)

    def place(m_id: int, s: int) -> None:
        nonlocal value
        m = by_id[m_id]
        value += worth(m_id, s)
        slot_of[m_id] = s
        holder[m.a, s] = holder[m.b, s] = m_id
        in_slot[s].add(m_id)

    def evict(m_id: int) -> None:
        nonlocal value
        m, s = by_id[m_id], slot_of.pop(m_id)
        value -= worth(m_id, s)
        del holder[m.a, s], holder[m.b, s]
        in_slot[s].discard(m_id)

    for m_id, p in sorted(problem.previous.items()):
        m = by_id.get(m_id)
        if m and p.slot in allowed[m_id] and len(in_slot[p.slot]) < problem.tables:
            if (m.a, p.slot) not in holder and (m.b, p.slot) not in holder:
                place(m_id, p.slot)
    queue = [m.id for m in meetings if m.id not in slot_of and allowed[m.id]]
    rng.shuffle(queue)
    best, best_value = dict(slot_of), value
    bound = min(len(queue) + len(slot_of), problem.slots * problem.tables)
    tabu: dict[tuple[int, int], int] = {}
    deadline = time.perf_counter() + seconds
    step = 0
    while queue and len(best) < bound and time.perf_counter() < deadline:
        step += 1
        m_id = queue.pop(rng.randrange(len(queue)))
        m = by_id[m_id]
        choice, victims = None, None
        for s in rng.sample(allowed[m_id], len(allowed[m_id])):
            if tabu.get((m_id, s), 0) > step:
                continue
            out = {holder[k] for k in ((m.a, s), (m.b, s)) if k in holder}
            if len(in_slot[s]) - len(out) >= problem.tables:
                out.add(rng.choice(sorted(in_slot[s] - out)))
            if victims is None or len(out) < len(victims):
                choice, victims = s, out
                if not out:
                    break
        if choice is None:
            queue.append(m_id)
            continue
        for victim in victims:
            tabu[victim, choice] = step + 10 + rng.randrange(10)
            evict(victim)
            queue.append(victim)
        place(m_id, choice)
        if value > best_value:
            best, best_value = dict(slot_of), value
    return best


def conflicts(problem: Problem, placements: Mapping[int, Placement]) -> list[str]:
    """Every broken constraint of ``placements`` (empty when the schedule is valid)."""
    found = []
    seen_participant: set[tuple[int, int]] = set()
    seen_table: set[tuple[int, int]] = set()
    by_id = {m.id: m for m in problem.meetings}
    for m_id, p in placements.items():
        m = by_id[m_id]
        if not (0 <= p.slot < problem.slots and 0 <= p.table < problem.tables):
            found.append(f"meeting {m_id}: slot or table out of range")
        for who in (m.a, m.b):
            if p.slot not in problem.free_slots(who):
                found.append(f"meeting {m_id}: participant {who} unavailable in slot {p.slot}")
            if (who, p.slot) in seen_participant:
                found.append(f"meeting {m_id}: participant {who} double-booked in slot {p.slot}")
            seen_participant.add((who, p.slot))
        if (p.slot, p.table) in seen_table:
            found.append(f"meeting {m_id}: table {p.table} double-booked in slot {p.slot}")
        seen_table.add((p.slot, p.table))
    return found


def _distinct(meetings: Sequence[MeetingSpec]) -> list[MeetingSpec]:
    """Meetings with two different participants; a duplicate id would corrupt the model."""
    ids = [m.id for m in meetings]
    if len(ids) != len(set(ids)):
        raise ValueError("meeting ids must be unique")
    return [m for m in meetings if m.a != m.b]


def _tables(problem: Problem, chosen: Mapping[int, int]) -> dict[int, Placement]:
    """Hand out tables per slot: a meeting keeping its slot keeps its table, others take the lowest free."""
    placements: dict[int, Placement] = {}
    taken: dict[int, set[int]] = defaultdict(set)
    for m_id, slot in sorted(chosen.items()):
        previous = problem.previous.get(m_id)
        if previous and previous.slot == slot and previous.table < problem.tables:
            if previous.table not in taken[slot]:
                placements[m_id] = previous
                taken[slot].add(previous.table)
    for m_id, slot in sorted(chosen.items()):
        if m_id not in placements:
            table = next(t for t in range(problem.tables) if t not in taken[slot])
            placements[m_id] = Placement(slot, table)
            taken[slot].add(table)
    return placements


def _reason(problem: Problem, meeting: MeetingSpec, per_slot: Mapping[int, int]) -> str:
    """Why ``meeting`` found no place, given how many meetings each slot holds."""
    if meeting.a == meeting.b:
        return "会谈双方为同一参会方"
    allowed = problem.allowed_slots(meeting)
    if not allowed:
        return "双方没有共同的空闲时段"
    if all(per_slot.get(s, 0) >= problem.tables for s in allowed):
        return f"双方共同空闲的 {len(allowed)} 个时段桌位均已排满"
    return f"双方共同空闲的 {len(allowed)} 个时段内，至少一方已有其他会谈"
