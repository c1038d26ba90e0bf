-- person_returns: one row per person (person_key) linked from the accepted worker records
-- of the active packages, for the vintage $as_of. SPEC §4 (linkage, survivorship), §6.
--
-- Reads: persons (the linkage output for $as_of, already one row per person; no names,
-- ID numbers or phones, person_key is a keyed hash).
SELECT person_key,
       CAST(return_date AS DATE) AS return_date,
       mode,
       origin_province,
       origin_county,
       destination_province,
       employer_uscc,
       CAST(n_records AS BIGINT) AS n_records,
       source_records
FROM persons
WHERE return_date <= CAST($as_of AS DATE)
ORDER BY person_key
