"""Rule-based grading programmes of the domain, beside the CLV-grounded tiers.

``points``: a points ledger with accrual, redemption and expiry.
"""

from clv.programmes.points import PointsLedger, PointsRules, build_ledger, load_points_rules

__all__ = ["PointsLedger", "PointsRules", "build_ledger", "load_points_rules"]
