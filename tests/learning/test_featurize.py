"""The site's design matrix: the classifier's column names, filled from the model fields."""
from __future__ import annotations

import numpy as np
import pytest

from classifier.dataset import DEFAULT_SCALAR_NAMES, feature_names_for
from vetting.learning.featurize import build_matrix

pytestmark = pytest.mark.django_db


@pytest.fixture
def candidate(make_candidate):
    cand = make_candidate("K00001.01", catalog_features={"qingress": 0.05, "is_multi": 1.0, "koi_impact": 0.3},
                          features={"depth_ppm": 812.0, "odd_even_sigma": None, "teff_k": 5100.0}, impact=0.2)
    target = cand.target
    target.teff_k, target.logg_cgs, target.radius_rsun, target.mass_msun = 5100.0, 4.5, 0.9, 0.95
    target.save()
    return cand


def test_site_matrix_has_the_classifiers_columns_from_the_model_fields(candidate):
    matrix = build_matrix([candidate.pk])
    assert matrix.feature_names == feature_names_for(DEFAULT_SCALAR_NAMES)
    row = dict(zip(matrix.feature_names, matrix.X[0].tolist()))
    assert row["teff_k"] == 5100.0 and row["logg_cgs"] == 4.5 and row["radius_rsun"] == pytest.approx(0.9)
    assert row["impact"] == pytest.approx(0.2) and row["period_days"] == candidate.period_days
    assert row["ingress_fraction"] == pytest.approx(0.05) and row["is_multi"] == 1.0  # Astronet columns
    assert row["lc_depth_ppm"] == 812.0 and np.isnan(row["lc_odd_even_sigma"]) and np.isnan(row["lc_snr"])


def test_a_model_trained_with_old_names_scores_the_same_columns(candidate):
    old = build_matrix([candidate.pk], scalar_names=["teff", "logg", "period_days"])
    new = build_matrix([candidate.pk], scalar_names=["teff_k", "logg_cgs", "period_days"])
    assert old.feature_names[:3] == ["teff", "logg", "period_days"]  # equal to the stored names
    np.testing.assert_array_equal(old.X, new.X)


def test_a_feature_the_site_does_not_compute_is_refused(candidate):
    with pytest.raises(ValueError, match="retrain"):
        build_matrix([candidate.pk], scalar_names=["period_days", "lc_removed_metric_ppm"])
