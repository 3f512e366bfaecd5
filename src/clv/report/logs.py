"""The run's transaction log on either engine, and what the report reads of it.

With ``engine="polars"`` (the default) the report loads the log on this
machine (:func:`clv.load_transactions`). With ``engine="spark"`` the log is
read, validated and summarised on Spark (:mod:`clv.spark`): only
per-customer rows (the summary and the back-test's calibration split) and
small aggregates (date range, window counts, the weekly tracking counts) come
back to the report, through Arrow. The models, scores and tiers are then
computed from the collected summary exactly as on the polars path, so both
engines give the same graded table.

The sections that read every order of every customer (the membership ladder,
the suggested spend thresholds, loyalty, the points ledger, the rule-ladder
grading of a log too small to predict, a margin per order) are left out on
Spark, and the report says so: moving the whole log to one machine is what
the Spark engine is there to avoid.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import polars as pl

from clv.i18n import pick

if TYPE_CHECKING:
    from clv.data import TransactionLog
    from clv.report.config import RunConfig
    from clv.rfm import WindowCounts

__all__ = [
    "SPARK_LOADER_OPTIONS",
    "date_range",
    "left_out_on_spark",
    "load_log",
    "on_spark",
    "summaries",
]

# the reading options of clv.load_transactions that clv.spark.read_transactions
# also takes (a CSV's encoding and separator are Spark's own reader options)
SPARK_LOADER_OPTIONS = (
    "customer_id",
    "date",
    "amount",
    "quantity",
    "date_format",
    "decimal",
    "thousands",
    "time_zone",
    "duplicates",
    "zero_amounts",
    "leading_zeros",
)

# sections that need every order on one machine, with their names in en / zh
_LOCAL_SECTIONS = {
    "membership ladder": ("membership ladder", "会员等级阶梯"),
    "loyalty": ("loyalty grid", "忠诚度分组"),
    "points ledger": ("points ledger", "积分账户"),
    "programme ladders": (
        "ladders of the programme documents (supermarket grades, P-G-S-B, VIP cards)",
        "各方案文件中的等级体系（超市分级、P-G-S-B、VIP 卡）",
    ),
    "rule ladder": ("rule-ladder grading", "按规则阶梯分级"),
}


def on_spark(tx: object) -> bool:
    """Whether ``tx`` is a log kept on Spark (:class:`clv.spark.SparkTransactionLog`),
    told without importing pyspark."""
    return type(tx).__name__ == "SparkTransactionLog" and type(tx).__module__ == "clv.spark"


def load_log(config: RunConfig) -> Any:
    """Load the run's log: a :class:`clv.TransactionLog`, or with
    ``config.engine == "spark"`` a :class:`clv.spark.SparkTransactionLog`
    (read from the path or table ``config.data_path`` on the session of
    ``config.spark_master``, validated, and kept in Spark's cache for the
    run), whose dates are checked against the run's observation and
    calibration ends as the command line checks a local log's."""
    if config.engine != "spark":
        from clv.data import load_transactions

        return load_transactions(config.data_path, **config.loader_options)
    from clv import spark
    from clv.report.config import check_dates

    session = spark.get_session(config.spark_master or None)
    log = spark.read_transactions(session, config.data_path, **config.loader_options)
    log = spark.SparkTransactionLog(log.data.persist(), log.quality)
    first, last = date_range(log)
    check_dates(first, last, config.observation_end, config.calibration_end)
    return log


def date_range(tx: TransactionLog | Any) -> tuple[dt.date, dt.date]:
    """The days of the log's first and last transaction."""
    if on_spark(tx):
        from pyspark.sql import functions as F

        row = tx.data.agg(F.min("date").alias("first"), F.max("date").alias("last")).first()
        if row is None or row["first"] is None:
            raise ValueError("the transaction log is empty")
        return row["first"].date(), row["last"].date()
    dates = tx.data["date"]
    return dates.min().date(), dates.max().date()


def summaries(tx: TransactionLog | Any, config: RunConfig) -> tuple[pl.DataFrame, WindowCounts]:
    """The per-customer summary (:func:`clv.summarize`, sorted by customer)
    and the window counts (:func:`clv.window_counts`) of the run, computed on
    the log's engine; the summary comes back as a polars frame."""
    from clv.rfm import summarize, window_counts

    if on_spark(tx):
        from clv import spark

        summary = spark.to_polars(
            spark.summarize(
                tx.data,
                freq=config.freq,
                time_unit=config.time_unit,
                observation_end=config.observation_end,
            )
        ).sort("customer_id")
        counts = spark.window_counts(tx.data, observation_end=config.observation_end)
        return summary, counts
    summary = summarize(
        tx, freq=config.freq, time_unit=config.time_unit, observation_end=config.observation_end
    )
    return summary, window_counts(tx, observation_end=config.observation_end)


def calibration_holdout(tx: TransactionLog | Any, config: RunConfig) -> pl.DataFrame:
    """The back-test's calibration / holdout split (:func:`clv.calibration_holdout`)
    of the run's window, computed on the log's engine and sorted by customer."""
    options = {
        "calibration_end": config.calibration_end,
        "observation_end": config.observation_end,
        "freq": config.freq,
        "time_unit": config.time_unit,
    }
    if on_spark(tx):
        from clv import spark

        return spark.to_polars(spark.calibration_holdout(tx.data, **options)).sort("customer_id")
    from clv.rfm import calibration_holdout as split

    return split(tx, **options)


def left_out_on_spark(section: str, lang: str = "en") -> str:
    """The report's line for a section left out on the Spark engine."""
    en, zh = _LOCAL_SECTIONS[section]
    return pick(
        lang,
        f"*The {en} is left out on the Spark engine: it reads every order of every customer, "
        "which would move the whole log to one machine. Run the report with `--engine polars` "
        "on a log that fits one machine to see it.*",
        f"*Spark 引擎下不计算{zh}：它要读取每位客户的每一笔订单，等于把整个交易日志搬到一台机器上。"
        "若日志能在一台机器上处理，请用 `--engine polars` 运行报告查看这一部分。*",
    )
