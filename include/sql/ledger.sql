-- ledger: one row per (package, file) of every package with report_date <= $as_of: where
-- each received row ended. SPEC §3 (every row ends in exactly one place), §6 (contract).
--
-- Reads: ledger_staged (status already accepted / rejected / superseded, rows_merged = 0)
-- and merged_counts (merged_counts.sql, or merged_counts_increment.sql when publishing by
-- increment): rows_merged counts the accepted records of the file that joined a person
-- founded by an earlier record.
SELECT l.package,
       l.file,
       CAST(l.report_date AS DATE) AS report_date,
       l.province,
       CAST(l.version AS BIGINT) AS version,
       l.status,
       CAST(l.rows_received AS BIGINT) AS rows_received,
       CAST(l.rows_accepted AS BIGINT) AS rows_accepted,
       CAST(l.rows_quarantined AS BIGINT) AS rows_quarantined,
       CAST(coalesce(m.rows_merged, 0) AS BIGINT) AS rows_merged,
       l.reason
FROM ledger_staged AS l
LEFT JOIN merged_counts AS m USING (package, file)
WHERE l.report_date <= CAST($as_of AS DATE)
ORDER BY l.package, l.file
