-- Each commune's latest summary (the figures province and national reports add up), for the day
-- it was computed and under the revision counters it was computed under. Derived data: a row
-- whose counters differ from the current ones is ignored and overwritten, so deleting rows is
-- always safe. It lets a restarted instance answer the national report without re-reading every
-- posting of the country.
CREATE TABLE commune_summaries (
    unit_code     TEXT PRIMARY KEY,
    as_of         DATE NOT NULL,
    catalogue_rev BIGINT NOT NULL,
    reference_rev BIGINT NOT NULL,
    unit_rev      BIGINT NOT NULL,
    summary       TEXT NOT NULL
);
