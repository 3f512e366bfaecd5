"""Rule-based grading programmes of the domain, beside the CLV-grounded tiers.

``points``: a points ledger with accrual, redemption and expiry.
``ladders``: membership ladders with evaluations, upgrades and downgrades.
``scorecard``: the B2B A-E scorecard.
``satisfaction``: survey scoring with the complaint rule.
``evaluation``: outcomes per tier and period, rule grades against CLV tiers.
``inputs``: reading the events, redemptions and accounts files.
"""

from clv.programmes.evaluation import agreement, compare_periods, tier_outcomes
from clv.programmes.inputs import (
    EventsInput,
    ProgrammeInputError,
    read_accounts,
    read_events,
    read_redemptions,
)
from clv.programmes.ladders import Ladder, LadderResult, load_ladder, run_ladder
from clv.programmes.points import PointsLedger, PointsRules, build_ledger, load_points_rules
from clv.programmes.satisfaction import INDICATORS, satisfaction_by_group, score_satisfaction
from clv.programmes.scorecard import Scorecard, ScorecardError, grade_accounts, load_scorecard

__all__ = [
    "INDICATORS",
    "EventsInput",
    "Ladder",
    "LadderResult",
    "PointsLedger",
    "PointsRules",
    "ProgrammeInputError",
    "Scorecard",
    "ScorecardError",
    "agreement",
    "build_ledger",
    "compare_periods",
    "grade_accounts",
    "load_ladder",
    "load_points_rules",
    "load_scorecard",
    "read_accounts",
    "read_events",
    "read_redemptions",
    "run_ladder",
    "satisfaction_by_group",
    "score_satisfaction",
    "tier_outcomes",
]
