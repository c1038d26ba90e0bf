-- returns_daily: one row per (date, origin_province, destination_province, mode) with at
-- least one return (non-zero cells only), for the vintage $as_of. SPEC §5 (returns_new by
-- mode, origin and destination province), §6 (table contract).
--
-- Reads: persons (linkage output, one row per person; date = the person's return_date).
SELECT return_date AS date,
       origin_province,
       destination_province,
       mode,
       CAST(count(*) AS BIGINT) AS workers_new
FROM persons
WHERE return_date BETWEEN CAST($campaign_start AS DATE) AND CAST($as_of AS DATE)
GROUP BY ALL
ORDER BY ALL
