"""The catalog importer stores the table-level features (classifier.table_features) it computes
over the whole file, the same values the command line's loader computes."""
from __future__ import annotations

import numpy as np
import pytest

from classifier.loaders import load_archive_table
from classifier.table_features import TABLE_FEATURE_NAMES
from tests.candidates.conftest import DR24, KOI
from vetting.candidates import services
from vetting.candidates.models import Candidate

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("relative", [KOI, DR24])
def test_import_stores_table_features_like_the_loader(table_slice, relative):
    path = table_slice(relative, 120)
    report = services.import_catalog_file(path=path)
    assert report.ok, report.errors
    ds = load_archive_table(path)
    stored = {c.catalog_id: c.catalog_features for c in Candidate.objects.all()}
    assert len(stored) == len(ds.candidate_ids)
    cols = {name: ds.feature_names.index(name) for name in TABLE_FEATURE_NAMES}
    key = (lambda cid: cid) if relative == KOI else (lambda cid: "TCE {}-{:02d}".format(*map(int, cid.split("-"))))
    multi = 0
    for i, cid in enumerate(ds.candidate_ids):
        features = stored[key(cid)]
        for name, col in cols.items():
            value = ds.X[i, col]
            if np.isfinite(value):
                assert features[name] == pytest.approx(value), (cid, name)
            else:
                assert name not in features
        multi += features["tbl_n_on_star"] > 1
    assert multi > 0  # the slices hold multi-candidate stars
