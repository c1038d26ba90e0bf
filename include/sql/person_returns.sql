-- person_returns: one row per person (person_key) linked from the accepted worker records
-- of the active packages, for the vintage $as_of. SPEC §4 (linkage, survivorship), §6.
--
-- Reads: persons (the linkage output for $as_of, already one row per person; no names,
-- ID numbers or phones, person_key is a keyed hash).
--
-- seq, last, is storage, not a column of the table: the linkage delta that wrote the
-- person's current version, i.e. the partition segment it is stored in (figures/increment.py).
SELECT person_key,
       CAST(return_date AS DATE) AS return_date,
       mode,
       origin_province,
       origin_county,
       destination_province,
       employer_uscc,
       CAST(n_records AS BIGINT) AS n_records,
       source_records,
       seq
FROM persons
WHERE return_date <= CAST($as_of AS DATE)
ORDER BY person_key
