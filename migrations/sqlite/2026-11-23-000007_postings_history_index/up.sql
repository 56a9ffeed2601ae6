-- A write looks up the history of the procedures it re-posts, to cut back earlier postings that
-- end after the new one starts: with the procedure, the end date and the start date in the index
-- that is a seek per procedure, answered from the index alone (voided postings, which end the day
-- they start, pile up when dates are corrected back and forth and must not cost a row read
-- each), not a scan of every posting the commune ever had. Reports, which read all of a
-- commune's postings, use the commune prefix as before.
DROP INDEX postings_unit_idx;
CREATE INDEX postings_unit_idx ON postings (unit_code, procedure_code, removed_on, posted_on);
