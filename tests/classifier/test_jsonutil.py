"""Numbers to JSON, time systems and catalog tables: the shared definitions."""
from __future__ import annotations

import json

import numpy as np
import pytest

from classifier import catalogs
from classifier.jsonutil import json_floats, json_number, jsonable
from classifier.timesystems import BJD_OFFSETS, epoch_in_system, time_axis_title


def test_json_number():
    assert json_number(1) == 1.0 and isinstance(json_number(np.float32(2.5)), float)
    assert json_number("3.5") == 3.5
    for bad in (None, float("nan"), float("inf"), np.float64("-inf"), "text", {}):
        assert json_number(bad) is None


def test_json_floats_flattens_and_rounds():
    assert json_floats(np.array([[1.0, np.nan], [np.inf, 2.0]])) == [1.0, None, None, 2.0]
    assert json_floats([1.23456789], digits=3) == [1.23]
    assert json_floats([]) == []


def test_jsonable_nested():
    value = {1: np.array([1.0, np.nan]), "b": (np.int64(3), np.bool_(True)), "c": [{"d": float("inf")}], "e": "x"}
    out = jsonable(value)
    assert out == {"1": [1.0, None], "b": [3, True], "c": [{"d": None}], "e": "x"}
    json.dumps(out, allow_nan=False)
    assert type(out["b"][0]) is int and type(out["b"][1]) is bool


def test_time_systems():
    assert epoch_in_system(100.0, "BKJD", "BTJD") == pytest.approx(100.0 + 2454833 - 2457000)
    assert epoch_in_system(2459000.5, "BJD", "BTJD") == pytest.approx(2000.5)
    x = 505.824971491944
    assert epoch_in_system(x, "BKJD", "BKJD") == x  # exactly: no round trip through 2.45e6
    assert set(BJD_OFFSETS) == {"BKJD", "BTJD", "BJD"}
    assert "2457000" in time_axis_title("BTJD") and "2454833" in time_axis_title(None)
    assert time_axis_title("BJD") == "Time (BJD, days)"
    with pytest.raises(KeyError):
        epoch_in_system(1.0, "MJD", "BJD")


def test_catalog_tables_are_detected_from_their_columns():
    assert catalogs.TABLE_NAMES == ("koi", "dr24_tce", "dr25_tce", "toi")
    assert catalogs.detect_table(["kepid", "kepoi_name"]) == "koi"
    assert catalogs.detect_table(["kepid", "tce_plnt_num", "av_training_set"]) == "dr24_tce"
    assert catalogs.detect_table(["kepid", "tce_plnt_num"]) == "dr25_tce"
    assert catalogs.detect_table(["toi", "tid"]) == "toi"
    assert catalogs.detect_table(["a", "b"]) is None
    for table in catalogs.TABLE_NAMES:  # every table maps its ephemeris
        assert {"period_days", "epoch", "duration_hours", "depth_ppm"} <= set(catalogs.CANDIDATE_COLUMNS[table])
        assert table in catalogs.STAR_ID_COLUMNS and table in catalogs.EPOCH_SYSTEMS
        assert catalogs.EPOCH_SYSTEMS[table] in BJD_OFFSETS
    assert set(catalogs.ASTRONET_EXTRA_COLUMNS) == {"ingress_fraction", "is_multi"}
