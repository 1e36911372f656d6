"""Fair exposure: no provider fills the first places of a ranking with its own solutions."""

from collections.abc import Sequence

from matchmaker.matching.signals import Candidate

EXPOSURE_TOP = 5  # fair exposure: in the first EXPOSURE_TOP places ...
EXPOSURE_PER_PROVIDER = 2  # ... at most this many solutions of one provider


def cap_exposure(ordered: Sequence[Candidate]) -> list[Candidate]:
    """Reorder so no provider holds more than EXPOSURE_PER_PROVIDER of the first EXPOSURE_TOP places.

    A capped solution is pushed down behind the next eligible one, never dropped; if only capped
    providers are left the places are filled in score order anyway.
    """
    remaining = list(ordered)
    head: list[Candidate] = []
    shown: dict[int, int] = {}
    while remaining and len(head) < EXPOSURE_TOP:
        pick = next((c for c in remaining if shown.get(c.provider_id, 0) < EXPOSURE_PER_PROVIDER), remaining[0])
        remaining.remove(pick)
        head.append(pick)
        shown[pick.provider_id] = shown.get(pick.provider_id, 0) + 1
    return head + remaining
