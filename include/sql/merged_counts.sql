-- merged_counts: one row per (package, file) with linked records: how many of its accepted
-- records joined a person founded by an earlier record (the ledger's rows_merged, SPEC §6).
--
-- Reads: record_person (linkage output for $as_of, the current version of every record).
SELECT package,
       file,
       CAST(count(*) FILTER (WHERE merged) AS BIGINT) AS rows_merged
FROM record_person
GROUP BY package, file
