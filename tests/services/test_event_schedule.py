"""The event scheduler: constraints on random events (property-style), optimality on small ones,
the reasons for unplaced meetings, and stability when re-run after late acceptances."""

import random
from collections import Counter

import pytest

from matchmaker.services.event_schedule import KEEP, MeetingSpec, Placement, Problem, solve, weight


def assert_valid(problem: Problem, placements: dict[int, Placement]) -> None:
    """Checked here from first principles, not with the module's own `conflicts`."""
    meetings = {m.id: m for m in problem.meetings}
    participant_slots = Counter()
    for m_id, p in placements.items():
        m = meetings[m_id]
        assert 0 <= p.slot < problem.slots and 0 <= p.table < problem.tables
        for who in (m.a, m.b):
            stated = problem.availability.get(who)
            assert stated is None or p.slot in stated, f"{who} unavailable in {p.slot}"
            participant_slots[who, p.slot] += 1
    assert max(participant_slots.values(), default=0) <= 1, "participant double-booked"
    tables = Counter((p.slot, p.table) for p in placements.values())
    assert max(tables.values(), default=0) <= 1, "table double-booked"


def random_event(rng: random.Random, feasible: bool) -> Problem:
    """A random event; when ``feasible``, drawn from a hidden conflict-free assignment of all."""
    slots, tables, people = rng.randint(1, 5), rng.randint(1, 4), rng.randint(2, 12)
    meetings, availability = [], {}
    busy: dict[int, set[int]] = {p: set() for p in range(people)}
    pairs = set()
    for s in range(slots):
        for _ in range(tables):
            a, b = rng.sample(range(people), 2)
            if feasible and (s in busy[a] or s in busy[b] or frozenset((a, b)) in pairs):
                continue
            pairs.add(frozenset((a, b)))
            busy[a].add(s)
            busy[b].add(s)
            meetings.append(MeetingSpec(len(meetings), a, b, rng.random()))
    for p in range(people):
        if rng.random() < 0.7:  # the others leave availability unstated: every slot
            availability[p] = busy[p] | {s for s in range(slots) if rng.random() < 0.4}
    return Problem(slots, tables, meetings, availability)


@pytest.mark.parametrize("seed", range(25))
def test_random_events_get_valid_schedules_and_every_meeting_is_accounted_for(seed):
    rng = random.Random(seed)
    problem = random_event(rng, feasible=False)
    schedule = solve(problem, time_limit=5)
    assert_valid(problem, schedule.placements)
    ids = {m.id for m in problem.meetings}
    assert set(schedule.placements) | set(schedule.unplaced) == ids
    assert not set(schedule.placements) & set(schedule.unplaced)
    assert all(schedule.unplaced.values())


@pytest.mark.parametrize("seed", range(25))
def test_random_feasible_events_are_placed_completely(seed):
    problem = random_event(random.Random(1000 + seed), feasible=True)
    schedule = solve(problem, time_limit=5)
    assert_valid(problem, schedule.placements)
    assert schedule.unplaced == {}
    assert schedule.optimal


def test_when_tables_run_out_the_better_match_is_placed_and_the_other_gets_a_reason():
    problem = Problem(1, 1, [MeetingSpec(1, 10, 11, 0.2), MeetingSpec(2, 12, 13, 0.9)])
    schedule = solve(problem, time_limit=5)
    assert set(schedule.placements) == {2}
    assert "桌位均已排满" in schedule.unplaced[1]


def test_more_meetings_beat_fewer_better_ones():
    # Meeting 1 (score 1.0) blocks both 2 and 3 (score 0.1): placing 2 and 3 wins.
    meetings = [MeetingSpec(1, 1, 2, 1.0), MeetingSpec(2, 1, 3, 0.1), MeetingSpec(3, 2, 4, 0.1)]
    schedule = solve(Problem(1, 5, meetings), time_limit=5)
    assert set(schedule.placements) == {2, 3}
    assert "至少一方已有其他会谈" in schedule.unplaced[1]


def test_no_common_free_slot_is_the_reason():
    problem = Problem(3, 2, [MeetingSpec(1, 1, 2)], {1: {0}, 2: {1, 2}})
    schedule = solve(problem, time_limit=5)
    assert schedule.unplaced == {1: "双方没有共同的空闲时段"}


def test_a_participant_with_no_stated_slot_is_unavailable_throughout():
    problem = Problem(3, 2, [MeetingSpec(1, 1, 2)], {1: set()})
    assert 1 in solve(problem, time_limit=5).unplaced


def test_bad_problems_are_refused():
    with pytest.raises(ValueError):
        solve(Problem(2, 1, [MeetingSpec(1, 1, 2), MeetingSpec(1, 3, 4)]))
    with pytest.raises(ValueError):
        solve(Problem(0, 1, [MeetingSpec(1, 1, 2)]))


def test_a_late_acceptance_that_fits_moves_nothing():
    rng = random.Random(7)
    problem = random_event(rng, feasible=True)
    first = solve(problem, time_limit=5)
    # Two newcomers and one more table per slot: the late meeting fits without moves.
    late = MeetingSpec(999, 100, 101, 0.5)
    again = solve(
        Problem(problem.slots, problem.tables + 1, [*problem.meetings, late], problem.availability, first.placements),
        time_limit=5,
    )
    assert again.moved == 0
    assert all(again.placements[m_id] == p for m_id, p in first.placements.items())
    assert 999 in again.placements


def test_a_late_acceptance_moves_exactly_the_one_meeting_in_its_way():
    # Participant 3 is only free in slot 0, where meeting 1 (1-2) sat; 1 and 2 are free in slot 1 too.
    meetings = [MeetingSpec(1, 1, 2, 0.5), MeetingSpec(2, 4, 5, 0.5), MeetingSpec(3, 6, 7, 0.5)]
    previous = {1: Placement(0, 0), 2: Placement(0, 1), 3: Placement(1, 0)}
    late = MeetingSpec(4, 1, 3, 0.5)
    problem = Problem(2, 2, [*meetings, late], {3: {0}}, previous)
    schedule = solve(problem, time_limit=5)
    assert_valid(problem, schedule.placements)
    assert len(schedule.placements) == 4
    assert schedule.moved == 1
    assert schedule.placements[1].slot == 1
    assert schedule.placements[2] == previous[2] and schedule.placements[3] == previous[3]


@pytest.mark.parametrize("seed", range(10))
def test_rescheduling_unchanged_event_moves_nothing(seed):
    problem = random_event(random.Random(2000 + seed), feasible=False)
    first = solve(problem, time_limit=5)
    again = solve(
        Problem(problem.slots, problem.tables, problem.meetings, problem.availability, first.placements),
        time_limit=5,
    )
    assert first.optimal
    assert again.moved == 0
    assert_valid(problem, again.placements)


@pytest.mark.parametrize("seed", range(30))
def test_late_acceptances_among_busy_participants_move_a_meeting_only_for_at_least_its_worth(seed):
    """Property: after late acceptances between participants already on the agenda, the new schedule is
    valid, nothing that kept its slot changed table, and every meeting moved (or dropped) was paid for
    by placing late meetings of at least the same weight (a move costs KEEP), so a late acceptance that
    fits moves nothing and two meetings never move for one late meeting of the lowest weight."""
    rng = random.Random(3000 + seed)
    problem = random_event(rng, feasible=True)
    first = solve(problem, time_limit=5)
    people = sorted({p for m in problem.meetings for p in (m.a, m.b)})
    late = []
    for _ in range(50):  # up to three late meetings of pairs sharing a free slot
        a, b = rng.sample(people, 2)
        if problem.free_slots(a) & problem.free_slots(b) and len(late) < 3:
            late.append(MeetingSpec(500 + len(late), a, b, rng.random()))
    again = solve(
        Problem(problem.slots, problem.tables, [*problem.meetings, *late], problem.availability, first.placements),
        time_limit=5,
    )
    assert_valid(
        Problem(problem.slots, problem.tables, [*problem.meetings, *late], problem.availability), again.placements
    )
    assert set(again.placements) | set(again.unplaced) == {m.id for m in [*problem.meetings, *late]}
    for m_id, before in first.placements.items():
        after = again.placements.get(m_id)
        if after is not None and after.slot == before.slot:
            assert after.table == before.table
    gained = sum(weight(m.score) for m in late if m.id in again.placements)
    assert again.moved * KEEP <= gained
    if not any(m.id in again.placements for m in late):
        assert again.moved == 0
