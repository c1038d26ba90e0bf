-- merged_counts_increment: merged_counts for the vintage $as_of, carried forward from the
-- base vintage's ledger by the day's linkage delta (figures/increment.py). SPEC §6; the
-- same counts as merged_counts.sql over all records (tests/figures/test_increment.py).
--
-- Reads: base_ledger (package, file, rows_merged of the base vintage), merged_change (the
-- delta's merged.parquet: what each file's count gained), linked_packages (the packages
-- of the state: a package that left it counts nothing).
SELECT package,
       file,
       CAST(sum(n) AS BIGINT) AS rows_merged
FROM (
    SELECT package, file, rows_merged AS n FROM base_ledger
    UNION ALL
    SELECT package, file, change FROM merged_change
)
WHERE package IN (SELECT package FROM linked_packages)
GROUP BY package, file
