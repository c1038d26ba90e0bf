-- national_summary: one row per date from $campaign_start to $as_of inclusive (zero-filled),
-- for the vintage $as_of. SPEC §5 (figure definitions), §6 (table contract).
--
-- Reads: returns_daily (this vintage's table: persons by return date, origin, destination
-- and mode, dates from $campaign_start to $as_of), enterprises (staged enterprise records
-- of the active packages), ledger_staged (package files with their status).
--
-- key_enterprises_resolved_cumulative(d): distinct enterprise_uscc whose latest record with
-- status_date <= d is a key enterprise with workers_supplied >= labour_gap. "Latest" orders
-- by status_date, then report_date, then version (later/higher wins), then province (lower
-- code wins), then row_number (higher wins). The latest record is the enterprise's state:
-- a later record that is not marked key, or falls short of the gap, un-resolves it.
WITH days AS (
    SELECT CAST(d AS DATE) AS date
    FROM generate_series(CAST($campaign_start AS DATE), CAST($as_of AS DATE), INTERVAL 1 DAY) AS g(d)
),
returns AS (
    SELECT date,
           sum(workers_new) AS returns_new,
           sum(workers_new) FILTER (WHERE mode = 'special_train') AS new_special_train,
           sum(workers_new) FILTER (WHERE mode = 'chartered_bus') AS new_chartered_bus,
           sum(workers_new) FILTER (WHERE mode = 'train_carriage') AS new_train_carriage,
           sum(workers_new) FILTER (WHERE mode = 'charter_flight') AS new_charter_flight,
           sum(workers_new) FILTER (WHERE origin_province <> destination_province) AS cross_province_new
    FROM returns_daily
    GROUP BY date
),
-- The winning record of each enterprise on each status_date it has records for.
enterprise_state AS (
    SELECT enterprise_uscc, status_date,
           key_enterprise AND workers_supplied >= labour_gap AS resolved
    FROM enterprises
    WHERE status_date <= CAST($as_of AS DATE)
    QUALIFY row_number() OVER (
        PARTITION BY enterprise_uscc, status_date
        ORDER BY report_date DESC, version DESC, province ASC, row_number DESC
    ) = 1
),
-- Each state holds from its status_date until the enterprise's next status_date.
enterprise_spans AS (
    SELECT enterprise_uscc, resolved, status_date AS valid_from,
           lead(status_date) OVER (PARTITION BY enterprise_uscc ORDER BY status_date) AS valid_until
    FROM enterprise_state
),
resolved AS (
    SELECT days.date, count(DISTINCT s.enterprise_uscc) AS key_enterprises_resolved_cumulative
    FROM days
    JOIN enterprise_spans AS s
      ON s.valid_from <= days.date AND (s.valid_until IS NULL OR days.date < s.valid_until)
    WHERE s.resolved
    GROUP BY days.date
),
reporting AS (
    SELECT report_date AS date, count(DISTINCT province) AS provinces_reporting
    FROM ledger_staged
    WHERE status = 'accepted' AND report_date <= CAST($as_of AS DATE)
    GROUP BY report_date
)
SELECT days.date,
       CAST(coalesce(r.returns_new, 0) AS BIGINT) AS returns_new,
       CAST(sum(coalesce(r.returns_new, 0)) OVER w AS BIGINT) AS returns_cumulative,
       CAST(sum(coalesce(r.new_special_train, 0)) OVER w AS BIGINT) AS returns_cumulative_special_train,
       CAST(sum(coalesce(r.new_chartered_bus, 0)) OVER w AS BIGINT) AS returns_cumulative_chartered_bus,
       CAST(sum(coalesce(r.new_train_carriage, 0)) OVER w AS BIGINT) AS returns_cumulative_train_carriage,
       CAST(sum(coalesce(r.new_charter_flight, 0)) OVER w AS BIGINT) AS returns_cumulative_charter_flight,
       CAST(coalesce(r.cross_province_new, 0) AS BIGINT) AS cross_province_new,
       CAST(sum(coalesce(r.cross_province_new, 0)) OVER w AS BIGINT) AS cross_province_cumulative,
       CAST(coalesce(k.key_enterprises_resolved_cumulative, 0) AS BIGINT) AS key_enterprises_resolved_cumulative,
       CAST(coalesce(p.provinces_reporting, 0) AS BIGINT) AS provinces_reporting
FROM days
LEFT JOIN returns AS r USING (date)
LEFT JOIN resolved AS k USING (date)
LEFT JOIN reporting AS p USING (date)
WINDOW w AS (ORDER BY days.date ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
ORDER BY days.date
