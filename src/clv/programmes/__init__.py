"""Rule-based grading programmes of the domain, beside the CLV-grounded tiers.

``points``: a points ledger with accrual, redemption and expiry.
``ladders``: membership ladders with evaluations, upgrades and downgrades.
``scorecard``: the B2B A-E scorecard.
``satisfaction``: survey scoring with the complaint rule.
``liability``: the points liability: balances in yuan, redemption and
breakage forecast from the CLV scores, with a back-test.
``loyalty``: the value x loyalty grid (frequency, stability, referrals).
``evaluation``: outcomes per tier and period, rule grades against CLV tiers.
``inputs``: reading the events, redemptions and accounts files.
``calibrate``: thresholds on past spend that best reproduce the CLV tiers.
"""

from clv.programmes import calibrate
from clv.programmes.calibrate import SpendThresholds, spend_thresholds
from clv.programmes.evaluation import agreement, compare_periods, tier_outcomes
from clv.programmes.inputs import (
    EventsInput,
    ProgrammeInputError,
    read_accounts,
    read_events,
    read_redemptions,
)
from clv.programmes.ladders import (
    ORDER_STATUSES,
    Ladder,
    LadderResult,
    evaluation_dates,
    load_ladder,
    run_ladder,
)
from clv.programmes.liability import (
    LiabilityForecast,
    RedemptionBehaviour,
    backtest_liability,
    forecast_liability,
    redemption_behaviour,
    value_liability,
)
from clv.programmes.loyalty import (
    LOYALTY_LABELS,
    VALUE_LABELS,
    LoyaltyGrid,
    LoyaltyRules,
    loyalty_grid,
)
from clv.programmes.points import (
    PointsLedger,
    PointsRules,
    anniversary,
    build_ledger,
    load_points_rules,
)
from clv.programmes.satisfaction import INDICATORS, satisfaction_by_group, score_satisfaction
from clv.programmes.scorecard import Scorecard, ScorecardError, grade_accounts, load_scorecard

__all__ = [
    "INDICATORS",
    "LOYALTY_LABELS",
    "ORDER_STATUSES",
    "VALUE_LABELS",
    "EventsInput",
    "Ladder",
    "LadderResult",
    "LiabilityForecast",
    "LoyaltyGrid",
    "LoyaltyRules",
    "PointsLedger",
    "PointsRules",
    "ProgrammeInputError",
    "RedemptionBehaviour",
    "Scorecard",
    "ScorecardError",
    "SpendThresholds",
    "agreement",
    "anniversary",
    "backtest_liability",
    "build_ledger",
    "calibrate",
    "compare_periods",
    "evaluation_dates",
    "forecast_liability",
    "grade_accounts",
    "load_ladder",
    "load_points_rules",
    "load_scorecard",
    "loyalty_grid",
    "read_accounts",
    "read_events",
    "read_redemptions",
    "redemption_behaviour",
    "run_ladder",
    "satisfaction_by_group",
    "score_satisfaction",
    "spend_thresholds",
    "tier_outcomes",
    "value_liability",
]
