-- An inspection of a commune retired by the 2025 reform, recorded from a paper archive: what the
-- team found, as text, since there was no catalogue then to compute a report from. The record is
-- kept under the old unit as it was (its code, the day it was retired, its names of the time: the
-- code may now name another unit, and a later lineage import must not change what was recorded)
-- and filed with the province of today its successors belong to, whose auditors keep it.
CREATE TABLE archive_inspections (
    id                 TEXT PRIMARY KEY,
    unit_code          TEXT NOT NULL,
    unit_valid_to      DATE NOT NULL,
    unit_name          TEXT NOT NULL,
    district_code      TEXT,
    district_name      TEXT,
    old_province_code  TEXT NOT NULL,
    old_province_name  TEXT NOT NULL,
    province_code      TEXT NOT NULL REFERENCES units (code),
    inspected_on       DATE NOT NULL CHECK (inspected_on <= unit_valid_to),
    team               TEXT NOT NULL,
    notes              TEXT,
    findings           TEXT NOT NULL,
    finding_count      INTEGER NOT NULL,
    content_hash       TEXT NOT NULL,
    created_by         TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL
);
CREATE INDEX archive_inspections_unit_idx ON archive_inspections (unit_code, inspected_on);
CREATE INDEX archive_inspections_province_idx ON archive_inspections (province_code, inspected_on);

-- Like every inspection, an archive record is never changed or deleted.
CREATE TRIGGER archive_inspections_append_only BEFORE UPDATE OR DELETE ON archive_inspections
    FOR EACH ROW EXECUTE FUNCTION niemyet_append_only();
CREATE TRIGGER archive_inspections_no_truncate BEFORE TRUNCATE ON archive_inspections
    FOR EACH STATEMENT EXECUTE FUNCTION niemyet_append_only();
