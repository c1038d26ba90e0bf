-- report_checks: the report-level findings of SPEC §3.3 in the vintage $as_of, never
-- rejecting anything:
--   report.declared_totals.mismatch  one row per declared figure of an active package that
--                                    differs from the count over its accepted records;
--   report.package.late              an active package first processed by the run of a
--                                    later as-of date than its report date;
--   report.province.missing          a province without any package for $as_of.
--
-- Reads: packages_staged (the active packages, with first_processed_as_of), totals_staged
-- (declared and observed figures per package, from ingest), ledger_staged, provinces.
SELECT t.package,
       'report.declared_totals.mismatch' AS "check",
       p.province,
       CAST(p.report_date AS DATE) AS report_date,
       CAST(p.version AS BIGINT) AS version,
       t.figure,
       CAST(t.declared AS BIGINT) AS declared,
       CAST(t.observed AS BIGINT) AS observed,
       'declared ' || t.declared || ', accepted records ' || t.observed AS detail
FROM totals_staged AS t
JOIN packages_staged AS p USING (package)
WHERE p.report_date <= CAST($as_of AS DATE) AND t.declared IS DISTINCT FROM t.observed
UNION ALL
SELECT package,
       'report.package.late',
       province,
       CAST(report_date AS DATE),
       CAST(version AS BIGINT),
       NULL, NULL, NULL,
       'first processed by the run of ' || CAST(first_processed_as_of AS VARCHAR) || ', '
           || date_diff('day', report_date, first_processed_as_of) || ' days after its report date'
FROM packages_staged
WHERE report_date <= CAST($as_of AS DATE) AND first_processed_as_of > report_date
UNION ALL
SELECT NULL,
       'report.province.missing',
       code,
       CAST($as_of AS DATE),
       NULL, NULL, NULL, NULL,
       'no package for the as-of date'
FROM provinces
WHERE code NOT IN (SELECT province FROM ledger_staged
                   WHERE report_date = CAST($as_of AS DATE))
ORDER BY "check", report_date, province, package, figure
