"""The "Promotion" P of the 7P customer analysis: how customers answered the campaigns, the
uplift against a control group where a campaign held one out, and the best next campaign per
segment. Computed at the end of the 7P refresh (`customers.customers_refresh`) from crm's
`campaign_exposures` (who was reached by — or held out of — which campaign, and who responded)
and the warehouse's order lines; written into this module's tables (`tables_ensure`).

Definitions, for the exposures up to `as_of` (an exposure's date is its local date):

* response rate = treated customers who responded (opened or clicked the e-mail, became a lead
  of the campaign, ordered with its coupon) / treated customers;
* conversion = the share of the exposed customers with an order (`fact_sales_line`) dated from
  the exposure's day to `CONVERSION_DAYS` days after it; a control customer's exposure is the
  moment they were held out;
* uplift = treated conversion − control conversion (absolute, in points) and / control conversion
  (relative); its p-value is that of a two-sided two-proportion z-test with pooled variance.
  A campaign without control customers has no uplift ("no control group").
* best next campaign of a segment (a 7P behaviour cluster, a customer group): among the past
  campaigns with at least `MIN_SAMPLE` treated members of the segment, the highest uplift among
  the segment's members where at least `MIN_CONTROL` of them were held out, else — when no
  campaign had such a control group in the segment — the highest response rate.

Share of revenue on promotion is left out: the warehouse's order lines carry no coupon or
promotion (only net amounts are loaded)."""

# SQL assembled from constant fragments of this module; every value is a bound parameter.
# ruff: noqa: S608
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

import duckdb
import pyarrow as pa

from xietong.analytics import warehouse
from xietong.crm import campaign_selectors

CONVERSION_DAYS = 30
MIN_SAMPLE = 10  # treated members of a segment for a campaign to be ranked there
MIN_CONTROL = 5  # control members of a segment for its uplift to be ranked
TABLES_VERSION = "1"
TABLES: dict[str, str] = {
    "cust_7p_promo_campaign": (
        "company_id BIGINT, campaign_id BIGINT, campaign VARCHAR, channel VARCHAR, "
        "first_exposed DATE, treated BIGINT, control BIGINT, responded BIGINT, "
        "response_rate DOUBLE, converted BIGINT, conversion DOUBLE, control_converted BIGINT, "
        "control_conversion DOUBLE, uplift DOUBLE, uplift_relative DOUBLE, p_value DOUBLE, "
        "PRIMARY KEY (company_id, campaign_id)"
    ),
    "cust_7p_promo_exposure": (
        "company_id BIGINT, customer_key BIGINT, campaign_id BIGINT, exposed DATE, "
        "grp VARCHAR, opened BOOLEAN, clicked BOOLEAN, lead BOOLEAN, coupon_orders INTEGER, "
        "responded BOOLEAN, converted BOOLEAN, PRIMARY KEY (company_id, campaign_id, customer_key)"
    ),
    "cust_7p_promo_customer": (
        "company_id BIGINT, customer_key BIGINT, campaigns BIGINT, responses BIGINT, "
        "coupon_orders BIGINT, held_out BIGINT, last_exposed DATE, "
        "PRIMARY KEY (company_id, customer_key)"
    ),
    "cust_7p_promo_best": (
        "company_id BIGINT, kind VARCHAR, segment VARCHAR, campaign_id BIGINT, campaign VARCHAR, "
        "channel VARCHAR, metric VARCHAR, value DOUBLE, treated BIGINT, control BIGINT, "
        "candidates INTEGER"
    ),
}
EXPOSURE_SCHEMA = pa.schema([
    ("campaign_id", pa.int64()), ("campaign", pa.string()), ("channel", pa.string()),
    ("customer_key", pa.int64()), ("exposed", pa.date32()), ("grp", pa.string()),
    ("opened", pa.bool_()), ("clicked", pa.bool_()), ("lead", pa.bool_()),
    ("coupon_orders", pa.int32()), ("responded", pa.bool_()),
])  # fmt: skip


def tables_ensure(con: duckdb.DuckDBPyConnection) -> None:
    """Create this module's tables if missing (again, when `TABLES_VERSION` changed)."""
    if warehouse.meta_get(con, "customers_promotion_tables") == TABLES_VERSION:
        for name, columns in TABLES.items():
            con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
        return
    for name, columns in TABLES.items():
        con.execute(f"DROP TABLE IF EXISTS {name}")
        con.execute(f"CREATE TABLE {name} ({columns})")
    warehouse.meta_set(con, "customers_promotion_tables", TABLES_VERSION)


# ---------------------------------------------------------------------------- statistics


def two_proportion_test(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """The two-sided p-value of H0 p1 = p2 (pooled two-proportion z-test); None when a group
    is empty, 1.0 when both proportions are 0 or both 1 (no variance)."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))


def uplift(converted: int, treated: int, control_converted: int, control: int
           ) -> dict[str, float | None]:  # fmt: skip
    """Conversions, absolute and relative uplift and p-value of treated against control."""
    conversion = converted / treated if treated else None
    control_conversion = control_converted / control if control else None
    absolute = relative = None
    if conversion is not None and control_conversion is not None:
        absolute = conversion - control_conversion
        relative = absolute / control_conversion if control_conversion else None
    return {"conversion": conversion, "control_conversion": control_conversion,
            "uplift": absolute, "uplift_relative": relative,
            "p_value": two_proportion_test(converted, treated, control_converted, control)}  # fmt: skip


# ---------------------------------------------------------------------------- refresh


def _exposure_table(exposures: Iterable[Any]) -> pa.Table:
    from django.utils import timezone

    cols: dict[str, list[Any]] = {name: [] for name in EXPOSURE_SCHEMA.names}
    for e in exposures:
        cols["campaign_id"].append(e.campaign_id)
        cols["campaign"].append(e.campaign)
        cols["channel"].append(e.channel)
        cols["customer_key"].append(e.party_id)
        cols["exposed"].append(timezone.localtime(e.exposed_at).date())
        cols["grp"].append(e.group)
        cols["opened"].append(bool(e.opened))
        cols["clicked"].append(bool(e.clicked))
        cols["lead"].append(bool(e.lead))
        cols["coupon_orders"].append(int(e.coupon_orders))
        cols["responded"].append(bool(e.responded))
    return pa.table(cols, schema=EXPOSURE_SCHEMA)


EXPOSED_SQL = """
CREATE OR REPLACE TEMP TABLE promo_exposed AS
WITH o AS (
    SELECT DISTINCT customer_key, date FROM fact_sales_line
    WHERE company_id = $company AND customer_key IS NOT NULL AND date <= $as_of)
SELECT e.campaign_id, e.customer_key, e.exposed, e.grp, e.opened, e.clicked, e.lead,
    e.coupon_orders, e.responded, count(o.date) > 0 AS converted
FROM promo_input e
LEFT JOIN o ON o.customer_key = e.customer_key AND o.date >= e.exposed
    AND o.date <= e.exposed + CAST($days AS INTEGER)
WHERE e.exposed <= $as_of
GROUP BY ALL
"""
CAMPAIGN_SQL = """
SELECT e.campaign_id, any_value(i.campaign) AS campaign, any_value(i.channel) AS channel,
    min(e.exposed) AS first_exposed,
    count(*) FILTER (WHERE e.grp = 'treated') AS treated,
    count(*) FILTER (WHERE e.grp = 'control') AS control,
    count(*) FILTER (WHERE e.grp = 'treated' AND e.responded) AS responded,
    count(*) FILTER (WHERE e.grp = 'treated' AND e.converted) AS converted,
    count(*) FILTER (WHERE e.grp = 'control' AND e.converted) AS control_converted
FROM promo_exposed e JOIN (SELECT DISTINCT campaign_id, campaign, channel FROM promo_input) i
    USING (campaign_id)
GROUP BY e.campaign_id ORDER BY e.campaign_id
"""
CUSTOMER_SQL = """
SELECT $company AS company_id, customer_key,
    count(*) FILTER (WHERE grp = 'treated') AS campaigns,
    count(*) FILTER (WHERE grp = 'treated' AND responded) AS responses,
    CAST(sum(coupon_orders) AS BIGINT) AS coupon_orders,
    count(*) FILTER (WHERE grp = 'control') AS held_out,
    max(exposed) AS last_exposed
FROM promo_exposed GROUP BY customer_key ORDER BY customer_key
"""
SEGMENT_SQL = """
WITH x AS (
    SELECT e.*, CAST(t.cluster AS VARCHAR) AS cluster, c.customer_group
    FROM promo_exposed e
    LEFT JOIN cust_7p t ON t.company_id = $company AND t.customer_key = e.customer_key
    LEFT JOIN dim_customer c ON c.customer_key = e.customer_key),
s AS (
    SELECT 'cluster' AS kind, cluster AS segment, * EXCLUDE (cluster, customer_group) FROM x
    WHERE cluster IS NOT NULL
    UNION ALL
    SELECT 'group' AS kind, customer_group AS segment, * EXCLUDE (cluster, customer_group) FROM x
    WHERE customer_group IS NOT NULL)
SELECT kind, segment, campaign_id,
    count(*) FILTER (WHERE grp = 'treated') AS treated,
    count(*) FILTER (WHERE grp = 'control') AS control,
    count(*) FILTER (WHERE grp = 'treated' AND responded) AS responded,
    count(*) FILTER (WHERE grp = 'treated' AND converted) AS converted,
    count(*) FILTER (WHERE grp = 'control' AND converted) AS control_converted
FROM s GROUP BY ALL ORDER BY kind, segment, campaign_id
"""


def best_next(rows: Iterable[dict[str, Any]], campaigns: dict[int, dict[str, Any]], *,
              min_sample: int = MIN_SAMPLE, min_control: int = MIN_CONTROL
              ) -> list[dict[str, Any]]:  # fmt: skip
    """Per (kind, segment) of the `SEGMENT_SQL` rows, the best past campaign (see the module):
    highest uplift where measurable, else highest response rate; ties: the lower campaign id."""
    by_segment: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r["treated"] >= min_sample:
            by_segment.setdefault((r["kind"], r["segment"]), []).append(r)
    out = []
    for (kind, segment), found in sorted(by_segment.items()):
        measured = [r for r in found if r["control"] >= min_control]
        if measured:
            metric = "uplift"
            scored = [(r["converted"] / r["treated"] - r["control_converted"] / r["control"], r)
                      for r in measured]  # fmt: skip
        else:
            metric = "response_rate"
            scored = [(r["responded"] / r["treated"], r) for r in found]
        value, best = max(scored, key=lambda s: (s[0], -s[1]["campaign_id"]))
        info = campaigns.get(best["campaign_id"], {})
        out.append({"kind": kind, "segment": segment, "campaign_id": best["campaign_id"],
                    "campaign": info.get("campaign", ""), "channel": info.get("channel", ""),
                    "metric": metric, "value": value, "treated": best["treated"],
                    "control": best["control"], "candidates": len(scored)})  # fmt: skip
    return out


def promotion_refresh(con: duckdb.DuckDBPyConnection, *, company_id: int, as_of: dt.date,
                      exposures: Iterable[Any] | None = None,
                      min_sample: int = MIN_SAMPLE, min_control: int = MIN_CONTROL
                      ) -> dict[str, Any]:  # fmt: skip
    """Compute the Promotion P of a company (after the rest of the 7P refresh, whose clusters it
    reads) and replace the company's rows of this module's tables in one transaction.
    `exposures`: crm's `campaign_exposures` rows (read from crm when None). Returns a summary."""
    if exposures is None:
        exposures = campaign_selectors.campaign_exposures(company_id)
    tables_ensure(con)
    con.register("promo_input", _exposure_table(exposures))
    try:
        con.execute(EXPOSED_SQL, {"company": company_id, "as_of": as_of, "days": CONVERSION_DAYS})
        campaign_rows = con.execute(CAMPAIGN_SQL).to_arrow_table().to_pylist()
        campaigns: dict[int, dict[str, Any]] = {}
        for r in campaign_rows:
            r.update(uplift(r["converted"], r["treated"], r["control_converted"], r["control"]))
            r["response_rate"] = r["responded"] / r["treated"] if r["treated"] else None
            campaigns[r["campaign_id"]] = r
        segment_rows = con.execute(SEGMENT_SQL, {"company": company_id}).to_arrow_table()
        best = best_next(segment_rows.to_pylist(), campaigns, min_sample=min_sample,
                         min_control=min_control)  # fmt: skip
        con.execute("BEGIN")
        try:
            for table in TABLES:
                con.execute(f"DELETE FROM {table} WHERE company_id = ?", [company_id])
            if campaign_rows:
                con.executemany(
                    "INSERT INTO cust_7p_promo_campaign VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(company_id, r["campaign_id"], r["campaign"], r["channel"],
                      r["first_exposed"], r["treated"], r["control"], r["responded"],
                      r["response_rate"], r["converted"], r["conversion"], r["control_converted"],
                      r["control_conversion"], r["uplift"], r["uplift_relative"], r["p_value"])
                     for r in campaign_rows],
                )  # fmt: skip
            con.execute("INSERT INTO cust_7p_promo_exposure SELECT $company, customer_key, "
                        "campaign_id, exposed, grp, opened, clicked, lead, coupon_orders, "
                        "responded, converted FROM promo_exposed", {"company": company_id})  # fmt: skip
            con.execute(f"INSERT INTO cust_7p_promo_customer {CUSTOMER_SQL}",
                        {"company": company_id})  # fmt: skip
            if best:
                con.executemany(
                    "INSERT INTO cust_7p_promo_best VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(company_id, b["kind"], b["segment"], b["campaign_id"], b["campaign"],
                      b["channel"], b["metric"], b["value"], b["treated"], b["control"],
                      b["candidates"]) for b in best],
                )  # fmt: skip
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    finally:
        con.unregister("promo_input")
        con.execute("DROP TABLE IF EXISTS promo_exposed")
    return {"campaigns": len(campaign_rows),
            "with_control": sum(1 for r in campaign_rows if r["control"]),
            "exposures": sum(r["treated"] + r["control"] for r in campaign_rows),
            "segments": len(best)}  # fmt: skip


# ---------------------------------------------------------------------------- reads


def _ready(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute("SELECT count(*) FROM information_schema.tables "
                      "WHERE table_name = 'cust_7p_promo_campaign'").fetchone()  # fmt: skip
    return bool(row and row[0])


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> list[dict[str, Any]]:
    return con.execute(sql, params).to_arrow_table().to_pylist()


def promotion_overview(con: duckdb.DuckDBPyConnection, *, company_id: int) -> dict[str, Any]:
    """The campaigns (newest first) with response, conversion and uplift, and the best next
    campaign per 7P cluster and per customer group. Empty before the first refresh."""
    if not _ready(con):
        return {"campaigns": [], "best_clusters": [], "best_groups": []}
    campaigns = _records(con, "SELECT * EXCLUDE (company_id) FROM cust_7p_promo_campaign "
                         "WHERE company_id = $company ORDER BY first_exposed DESC, campaign_id DESC",
                         {"company": company_id})  # fmt: skip
    best = _records(con, "SELECT * EXCLUDE (company_id) FROM cust_7p_promo_best "
                    "WHERE company_id = $company ORDER BY kind, segment", {"company": company_id})  # fmt: skip
    labels = campaign_selectors.channel_labels()
    for row in (*campaigns, *best):
        row["channel"] = labels.get(row["channel"], row["channel"])
    for b in best:
        if b["kind"] == "cluster":
            b["cluster"] = int(b["segment"])
    return {"campaigns": campaigns,
            "best_clusters": sorted((b for b in best if b["kind"] == "cluster"),
                                    key=lambda b: b["cluster"]),
            "best_groups": [b for b in best if b["kind"] == "group"],
            "min_sample": MIN_SAMPLE, "min_control": MIN_CONTROL,
            "days": CONVERSION_DAYS}  # fmt: skip


def promotion_customer(con: duckdb.DuckDBPyConnection, *, company_id: int, customer_key: int
                       ) -> dict[str, Any] | None:  # fmt: skip
    """A customer's campaigns (received or held out of, newest first) and their totals; None
    when the customer was in no campaign (or before the first refresh)."""
    if not _ready(con):
        return None
    params = {"company": company_id, "key": customer_key}
    totals = _records(con, "SELECT campaigns, responses, coupon_orders, held_out, last_exposed "
                      "FROM cust_7p_promo_customer WHERE company_id = $company "
                      "AND customer_key = $key", params)  # fmt: skip
    if not totals:
        return None
    rows = _records(con, """SELECT e.campaign_id, c.campaign, c.channel, e.exposed, e.grp,
        e.opened, e.clicked, e.lead, e.coupon_orders, e.responded, e.converted
        FROM cust_7p_promo_exposure e JOIN cust_7p_promo_campaign c
            ON c.company_id = e.company_id AND c.campaign_id = e.campaign_id
        WHERE e.company_id = $company AND e.customer_key = $key
        ORDER BY e.exposed DESC, e.campaign_id DESC LIMIT 50""", params)  # fmt: skip
    labels = campaign_selectors.channel_labels()
    for row in rows:
        row["channel"] = labels.get(row["channel"], row["channel"])
    return {"totals": totals[0], "campaigns": rows, "days": CONVERSION_DAYS}
