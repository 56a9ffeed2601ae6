-- Revision counters, bumped in the same transaction as every write they cover: `catalogue`
-- (decisions, imports, sectors), `reference` (units, holidays, province settings) and one per
-- commune (its postings and exemptions). A cached report is reused only while the counters it
-- was computed under are unchanged, which keeps several instances over one database consistent.
CREATE TABLE revisions (
    key      TEXT PRIMARY KEY,
    revision BIGINT NOT NULL
);
