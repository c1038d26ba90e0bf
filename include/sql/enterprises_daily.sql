-- enterprises_daily: one row per (date, province) from $campaign_start to $as_of, for each
-- province whose packages reported key enterprises, from the first date it had any on;
-- vintage $as_of. SPEC §5 (key enterprises), §6 (table contract).
--
-- Reads: enterprises (staged enterprise records of the active packages). `province` is the
-- province whose package reported the enterprise. On each date, an enterprise's state in a
-- province is its latest record there with status_date <= date (latest: status_date, then
-- report_date, then version, then higher row_number, as in national_summary). An
-- enterprise counts as reported when that latest record marks it key, as resolved when it
-- also has workers_supplied >= labour_gap; the totals sum those latest key records.
WITH days AS (
    SELECT CAST(d AS DATE) AS date
    FROM generate_series(CAST($campaign_start AS DATE), CAST($as_of AS DATE), INTERVAL 1 DAY) AS g(d)
),
enterprise_state AS (
    SELECT province, enterprise_uscc, status_date, key_enterprise, labour_gap, workers_supplied
    FROM enterprises
    WHERE status_date <= CAST($as_of AS DATE)
    QUALIFY row_number() OVER (
        PARTITION BY province, enterprise_uscc, status_date
        ORDER BY report_date DESC, version DESC, row_number DESC
    ) = 1
),
enterprise_spans AS (
    SELECT *, status_date AS valid_from,
           lead(status_date) OVER (
               PARTITION BY province, enterprise_uscc ORDER BY status_date
           ) AS valid_until
    FROM enterprise_state
)
SELECT days.date,
       s.province,
       CAST(count(*) AS BIGINT) AS key_enterprises_reported,
       CAST(count(*) FILTER (WHERE s.workers_supplied >= s.labour_gap) AS BIGINT)
           AS key_enterprises_resolved_cumulative,
       CAST(sum(s.labour_gap) AS BIGINT) AS labour_gap_total,
       CAST(sum(s.workers_supplied) AS BIGINT) AS workers_supplied_total
FROM days
JOIN enterprise_spans AS s
  ON s.valid_from <= days.date AND (s.valid_until IS NULL OR days.date < s.valid_until)
WHERE s.key_enterprise
GROUP BY days.date, s.province
ORDER BY days.date, s.province
