DROP INDEX postings_unit_idx;
CREATE INDEX postings_unit_idx ON postings (unit_code, posted_on);
