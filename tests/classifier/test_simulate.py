"""``classifier.cli.simulate``: stopping at a target AP and what each round's queries showed a vetter."""
from __future__ import annotations

from classifier.cli import simulate
from classifier.loaders import load_any
from tests.classifier.test_cli import write_astronet_dir


def _data(tmp_path):
    pool = load_any(str(write_astronet_dir(tmp_path / "pool", n=120, seed=3)))
    test = load_any(str(write_astronet_dir(tmp_path / "test", n=40, seed=4)))
    return pool, test


def test_stop_at_ends_at_the_first_round_reaching_the_target(tmp_path):
    pool, test = _data(tmp_path)
    full = simulate(pool, test, strategy="default", initial=20, batch=15, budget=65, seed=1)
    target = full[1]["planet_ap"]
    stopped = simulate(pool, test, strategy="default", initial=20, batch=15, budget=65, seed=1, stop_at=target)
    first = next(r["n_labels"] for r in full if r["planet_ap"] >= target)
    assert stopped[-1]["n_labels"] == first
    assert [r["planet_ap"] for r in stopped] == [r["planet_ap"] for r in full[: len(stopped)]]


def test_rounds_report_the_queue_a_vetter_saw(tmp_path):
    pool, test = _data(tmp_path)
    for strategy in ("random", "likely_planet"):
        rows = simulate(pool, test, strategy=strategy, initial=20, batch=15, budget=50, seed=2)
        assert [r["n_labels"] for r in rows] == [20, 35, 50]
        assert rows[-1]["sure_planet_share"] is None and rows[-1]["planet_share"] is None
        for r in rows[:-1]:
            assert 0.0 <= r["sure_planet_share"] <= 1.0 and 0.0 <= r["planet_share"] <= 1.0
    # The likeliest planets first: on this easy data the batches are mostly planets.
    assert rows[0]["planet_share"] > 0.5
