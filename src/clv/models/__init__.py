"""Purchase and spend models: clv's own engine, with lifetimes as the reference.

Models are fitted on the distinct summary rows with the number of customers
sharing each as weights, which gives the same estimates as a fit on every
customer at a fraction of the cost.

Purchase models (number of repeat purchases and dropout):

``"bgnbd"``
    BG/NBD, Fader, Hardie and Lee (2005), "Counting your customers the easy
    way", Marketing Science 24(2) (:mod:`clv.models.bgnbd`).
``"pareto_nbd"``
    Pareto/NBD, Schmittlein, Morrison and Colombo (1987), with the likelihood
    of Fader and Hardie (2005), "A note on deriving the Pareto/NBD model"
    (:mod:`clv.models.pareto_nbd`).
``"mbgnbd"``
    MBG/NBD, Batislam, Denizel and Filiztekin (2007): BG/NBD where a customer
    may also drop out right after the first purchase (:mod:`clv.models.mbgnbd`).

Spend model: Gamma-Gamma, Fader and Hardie (2013), "The Gamma-Gamma model of
monetary value", on customers with at least one repeat purchase
(:mod:`clv.models.gamma_gamma`).

Fits (:mod:`clv.models.fitting`) maximise the factorised likelihoods with
their analytic gradients from several starts (``engine="clv"``, the default)
or through lifetimes' own fitters (``engine="lifetimes"``,
:mod:`clv.models._lifetimes`, the only module that imports lifetimes). Each
returns a results object in the manner of statsmodels
(:mod:`clv.models.results`): ``params`` labelled by name, ``bse``,
``conf_int(alpha)``, ``loglik``, ``aic``, ``bic`` and ``summary()``. Standard
errors come from the observed information: the Hessian of the total
log-likelihood at the estimate, in log parameters (every parameter is
positive), carried to the natural scale by the delta method. Confidence
intervals are Wald intervals on the log scale, so they stay positive.
"""

from __future__ import annotations

from clv.models import _histories, bgnbd, fitting, gamma_gamma, mbgnbd, pareto_nbd, results
from clv.models.fitting import (
    fit_purchase_model,
    fit_purchase_model_with_fallback,
    fit_spend_model,
    spend_independence_check,
)
from clv.models.results import (
    ENGINES,
    PURCHASE_MODELS,
    Engine,
    FitAttempt,
    IndependenceCheck,
    ModelFitError,
    PurchaseModel,
    PurchaseModelResults,
    SpendModelResults,
)

__all__ = [
    "ENGINES",
    "PURCHASE_MODELS",
    "Engine",
    "FitAttempt",
    "IndependenceCheck",
    "ModelFitError",
    "PurchaseModel",
    "PurchaseModelResults",
    "SpendModelResults",
    "fit_purchase_model",
    "fit_purchase_model_with_fallback",
    "fit_spend_model",
    "spend_independence_check",
]

# private names other modules use
_columns = fitting._columns
_time_unit = fitting._time_unit
_check_summary = fitting._check_summary
_at_boundary = fitting._at_boundary
_finite = results._finite
_PARAM_NAMES = results._PARAM_NAMES
_Histories = _histories.Histories

# per-customer log-likelihoods and their factorised forms, by model
_bgnbd_ll = bgnbd.loglik
_mbgnbd_ll = mbgnbd.loglik
_pareto_ll = pareto_nbd.loglik
_pareto_log_a0 = pareto_nbd.log_a0
_pareto_log_a0_quad = pareto_nbd.log_a0_quad
_gamma_gamma_ll = gamma_gamma.loglik
_LOGLIK = {"bgnbd": bgnbd.loglik, "pareto_nbd": pareto_nbd.loglik, "mbgnbd": mbgnbd.loglik}
_GROUPED = {
    "bgnbd": bgnbd.loglik_grouped,
    "mbgnbd": mbgnbd.loglik_grouped,
    "pareto_nbd": pareto_nbd.loglik_grouped,
}
