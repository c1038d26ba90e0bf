-- record_flags: one row per warning finding (package, file, row_number, rule) of the
-- packages with report_date <= $as_of: records kept and counted, flagged.
-- SPEC §3.2 (record rules), §6 (table contract).
--
-- Reads: quarantine_staged (the staged quarantine of every processed package).
SELECT package,
       file,
       CAST(row_number AS BIGINT) AS row_number,
       CAST(report_date AS DATE) AS report_date,
       province,
       CAST(version AS BIGINT) AS version,
       record_id,
       rule,
       severity,
       detail
FROM quarantine_staged
WHERE report_date <= CAST($as_of AS DATE) AND severity = 'warning'
ORDER BY package, file, row_number, rule
