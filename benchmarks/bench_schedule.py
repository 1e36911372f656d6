"""Benchmark of the event scheduler (`matchmaker.services.event_schedule`) on synthetic events.

    python benchmarks/bench_schedule.py [--participants 300] [--meetings 1500] [--slots 12]
                                        [--tables 60] [--time-limit 20] [--seed 17]

Each instance is generated from a hidden conflict-free assignment, so its optimum is known:

- ``all_fit``: every meeting is drawn into the hidden assignment, with as many tables as that needs
  (``ceil(meetings / slots)``, 125) plus 4 spare for the late acceptances, so a schedule placing all
  of them exists;
- the stated instance (``--tables``, 60 by default): 12 slots x 60 tables seat at most 720 meetings,
  fewer than 1 500, so the hidden assignment holds ``slots x tables`` meetings and the rest are drawn
  at random on top (they may share no free slot). No schedule places more than ``capacity``
  (``min(meetings, slots x tables)``), hence ``placed_share_of_capacity``.

Participants are available in the slots of their hidden meetings plus each other slot with
probability one half. After the first schedule, 20 late acceptances are added and the event is
rescheduled with the first schedule as ``previous``: ``late_moved`` counts meetings that changed slot
or table. Every schedule is checked for conflicts (double-booked participants or tables, slots outside
someone's availability). The last line is one JSON object with the stated instance's figures at the
top level and the ``all_fit`` instance nested.
"""

import argparse
import json
import math
import random
import time

from matchmaker.services.event_schedule import MeetingSpec, Problem, conflicts, solve

SPARE_TABLES = 4


def generate(participants: int, meetings: int, slots: int, tables: int, rng: random.Random) -> Problem:
    """An event whose hidden assignment places ``min(meetings, slots * tables)`` meetings."""
    hidden = min(meetings, slots * tables)
    per_slot = [hidden // slots + (1 if s < hidden % slots else 0) for s in range(slots)]
    if max(per_slot) * 2 > participants:
        raise SystemExit("too few participants for the meetings per slot")
    pairs: set[frozenset[int]] = set()
    busy: dict[int, set[int]] = {p: set() for p in range(participants)}
    specs: list[MeetingSpec] = []
    for s, count in enumerate(per_slot):
        placed = 0
        while placed < count:
            people = rng.sample(range(participants), participants)
            free = [p for p in people if s not in busy[p]]
            for a, b in zip(free[0::2], free[1::2], strict=False):
                if placed == count:
                    break
                if frozenset((a, b)) in pairs:
                    continue
                pairs.add(frozenset((a, b)))
                busy[a].add(s)
                busy[b].add(s)
                specs.append(MeetingSpec(len(specs), a, b, rng.random()))
                placed += 1
    while len(specs) < meetings:
        a, b = rng.sample(range(participants), 2)
        if frozenset((a, b)) not in pairs:
            pairs.add(frozenset((a, b)))
            specs.append(MeetingSpec(len(specs), a, b, rng.random()))
    availability = {p: busy[p] | {s for s in range(slots) if rng.random() < 0.5} for p in range(participants)}
    rng.shuffle(specs)
    return Problem(slots, tables, specs, availability)


def late_acceptances(problem: Problem, count: int, rng: random.Random) -> list[MeetingSpec]:
    """New meetings between participants who share a free slot, as late acceptances would be."""
    pairs = {frozenset((m.a, m.b)) for m in problem.meetings}
    people = sorted(problem.availability)
    late: list[MeetingSpec] = []
    next_id = max(m.id for m in problem.meetings) + 1
    while len(late) < count:
        a, b = rng.sample(people, 2)
        if frozenset((a, b)) in pairs or not problem.free_slots(a) & problem.free_slots(b):
            continue
        pairs.add(frozenset((a, b)))
        late.append(MeetingSpec(next_id + len(late), a, b, rng.random()))
    return late


def run(args: argparse.Namespace, tables: int) -> dict:
    rng = random.Random(args.seed)
    problem = generate(args.participants, args.meetings, args.slots, tables, rng)
    started = time.perf_counter()
    schedule = solve(problem, time_limit=args.time_limit)
    seconds = time.perf_counter() - started
    capacity = min(args.meetings, args.slots * tables)

    rescheduled = Problem(
        problem.slots,
        problem.tables,
        [*problem.meetings, *late_acceptances(problem, 20, rng)],
        problem.availability,
        schedule.placements,
    )
    started = time.perf_counter()
    again = solve(rescheduled, time_limit=args.time_limit)
    reschedule_seconds = time.perf_counter() - started
    return {
        "participants": args.participants,
        "meetings": args.meetings,
        "slots": args.slots,
        "tables": tables,
        "capacity": capacity,
        "placed": len(schedule.placements),
        "placed_share": round(len(schedule.placements) / args.meetings, 4),
        "placed_share_of_capacity": round(len(schedule.placements) / capacity, 4),
        "conflicts": len(conflicts(problem, schedule.placements)),
        "optimal": schedule.optimal,
        "seconds": round(seconds, 2),
        "late_added": 20,
        "late_placed": len(again.placements) - len(schedule.placements),
        "late_moved": again.moved,
        "late_conflicts": len(conflicts(rescheduled, again.placements)),
        "reschedule_seconds": round(reschedule_seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument("--meetings", type=int, default=1500)
    parser.add_argument("--slots", type=int, default=12)
    parser.add_argument("--tables", type=int, default=60)
    parser.add_argument("--time-limit", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    all_fit = run(args, math.ceil(args.meetings / args.slots) + SPARE_TABLES)
    print("all_fit", json.dumps(all_fit))
    stated = run(args, args.tables)
    print(json.dumps({**stated, "all_fit": all_fit}, ensure_ascii=False))


if __name__ == "__main__":
    main()
