"""The quality gate: the default encoder on both public labelled sets, against the recorded figures."""

import json
from pathlib import Path

import pytest

from embeddings import load_encoder
from matchmaker.matching.evaluation import DEFAULT_TAXONOMY, evaluate
from matchmaker.matching.taxonomy import load_taxonomy

SEED = Path(__file__).resolve().parents[2] / "seed_data"
BASELINE = json.loads((SEED / "quality_baseline.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def encoder():
    return load_encoder(BASELINE["encoder"])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BASELINE["ndcg@10"]))
def test_full_ranker_keeps_its_recorded_quality_and_beats_each_signal(name, encoder):
    result = evaluate(SEED / name, encoder, load_taxonomy(DEFAULT_TAXONOMY))
    full = result["full"]["ndcg@10"]
    assert full >= BASELINE["ndcg@10"][name] - BASELINE["tolerance"], (name, full)
    for signal, figures in result["baselines"].items():
        assert full > figures["ndcg@10"], (name, signal, full, figures["ndcg@10"])
