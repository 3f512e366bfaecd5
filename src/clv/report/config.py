"""The parameters of a grading run."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

__all__ = ["RunConfig"]

_PERIOD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class RunConfig:
    """Parameters of one grading run (the notebook's ``parameters`` cell)."""

    data_path: str  # transaction log, absolute or relative to the project root
    period: str  # label of the graded period, names reports/<period>/
    observation_end: str  # last day of transactions used, YYYY-MM-DD
    freq: str = "D"
    time_unit: str = "W"
    model: str = "bgnbd"
    horizon_days: float = 365.0
    discount_rate_annual: float = 0.10
    scheme: str = "five_card"
    lang: str = "en"
    previous_graded: str = ""
    calibration_end: str = ""
    n_bootstrap: int = 200
    seed: int = 0
    ladder: str = "ladder_five_card"
    points_events: str = ""
    accounts_path: str = ""

    def __post_init__(self) -> None:
        if not _PERIOD.match(self.period):
            raise ValueError(
                f"period={self.period!r}; use letters, digits, '-', '_' or '.', starting with a "
                "letter or digit, e.g. '1998-06'"
            )
        for name in ("observation_end", "calibration_end"):
            value = getattr(self, name)
            if value:
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    raise ValueError(f"{name}={value!r} is not a date YYYY-MM-DD") from None
        if self.lang not in ("en", "zh"):
            raise ValueError(f"lang={self.lang!r}; use 'en' or 'zh'")
