"""Match bands: the cut-off procedure reads precision from the top down, and scores map to bands."""

from pathlib import Path

from embeddings import load_encoder
from matchmaker.matching.bands import ScoredPair, band_of, cutoff, derive, labelled_pairs
from matchmaker.matching.evaluation import DEFAULT_TAXONOMY, load_taxonomy

DEV_SET = Path(__file__).resolve().parents[2] / "seed_data" / "dev_set.json"


def pairs(*rows: tuple[float, bool]) -> list[ScoredPair]:
    return [ScoredPair(score, relevant) for score, relevant in rows]


def test_the_cutoff_is_where_precision_from_the_top_first_falls_below_the_target():
    ranked = pairs(
        (0.9, True), (0.8, True), (0.7, False), (0.6, True), (0.5, False), (0.4, False), (0.3, False), (0.2, True)
    )
    assert cutoff(ranked, 1.0) == 0.8
    assert cutoff(ranked, 0.75) == 0.8  # 3 of 4 from 0.6 up, but only 2 of 3 from 0.7
    assert cutoff(ranked, 0.6) == 0.5  # 3 of 5
    assert cutoff(ranked, 0.5) == 0.4  # 3 of 6; the relevant pair at 0.2 cannot reopen the band
    assert cutoff(pairs((0.9, False)), 0.5) is None


def test_lower_bands_never_start_above_higher_ones_and_scores_fall_into_them():
    ranked = pairs((0.9, True), (0.8, True), (0.7, True), (0.6, False), (0.5, True), (0.4, False), (0.2, False))
    reports = {r.band: r for r in derive(ranked)}
    assert reports["high"].cutoff >= reports["good"].cutoff >= reports["partial"].cutoff
    assert reports["high"].share_relevant >= 0.9
    cuts = {band: r.cutoff for band, r in reports.items()}
    assert band_of(0.95, cuts) == "high"
    assert band_of(cuts["partial"], cuts) in {"partial", "good", "high"}
    assert band_of(0.1, cuts) is None


def test_the_procedure_runs_on_the_public_development_set():
    found = labelled_pairs([DEV_SET], load_encoder("hash"), load_taxonomy(DEFAULT_TAXONOMY))
    assert len(found) > 500 and any(p.relevant for p in found) and not all(p.relevant for p in found)
