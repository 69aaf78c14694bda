"""Time systems of light curves and ephemerides: the ONE table of offsets to BJD.

Kepler/K2 times are BKJD (BJD - 2454833), TESS times BTJD (BJD - 2457000); archive tables
give some epochs in plain BJD. Codes match ``vetting.candidates.models.TimeSystem``.
"""
from __future__ import annotations

#: Days to add to a time in this system to get BJD (TDB).
BJD_OFFSETS: dict[str, float] = {"BKJD": 2454833.0, "BTJD": 2457000.0, "BJD": 0.0}


def epoch_in_system(epoch: float, epoch_system: str, time_system: str) -> float:
    """Convert a time (days) from ``epoch_system`` to ``time_system``; KeyError for an unknown code.

    The same system returns ``epoch`` exactly (adding and removing 2.45e6 days would round it).
    """
    shift = BJD_OFFSETS[epoch_system] - BJD_OFFSETS[time_system]
    return float(epoch) + shift if shift else float(epoch)


def time_axis_title(time_system: str | None) -> str:
    """Axis title of a time axis in ``time_system`` (BKJD when unknown, as Kepler data)."""
    system = time_system if time_system in BJD_OFFSETS else "BKJD"
    offset = BJD_OFFSETS[system]
    return f"Time (BJD - {offset:.0f}, days)" if offset else "Time (BJD, days)"


__all__ = ["BJD_OFFSETS", "epoch_in_system", "time_axis_title"]
