-- returns_daily_increment: returns_daily for the vintage $as_of, carried forward from the
-- base vintage by the day's linkage delta (figures/increment.py). SPEC §5, §6; the same
-- cells as returns_daily.sql over all persons (tests/figures/test_increment.py).
--
-- Reads: base_returns_daily (the base vintage's returns_daily), added (the persons the
-- delta wrote), removed (the base's rows of the persons the delta retired).
WITH changes AS (
    SELECT date, origin_province, destination_province, mode, workers_new AS n
    FROM base_returns_daily
    UNION ALL
    SELECT return_date, origin_province, destination_province, mode, 1 FROM added
    WHERE return_date BETWEEN CAST($campaign_start AS DATE) AND CAST($as_of AS DATE)
    UNION ALL
    SELECT return_date, origin_province, destination_province, mode, -1 FROM removed
    WHERE return_date BETWEEN CAST($campaign_start AS DATE) AND CAST($as_of AS DATE)
)
SELECT date,
       origin_province,
       destination_province,
       mode,
       CAST(sum(n) AS BIGINT) AS workers_new
FROM changes
GROUP BY ALL
HAVING sum(n) <> 0
ORDER BY ALL
