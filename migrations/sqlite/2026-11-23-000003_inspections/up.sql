-- Which commune or province an audit entry concerns, so that an auditor sees the entries of
-- their own province only. Entries about the whole country (national decisions, holidays) have
-- neither.
ALTER TABLE audit_log ADD COLUMN unit_code TEXT;
ALTER TABLE audit_log ADD COLUMN province_code TEXT;
CREATE INDEX audit_log_at_idx ON audit_log (at, id);
CREATE INDEX audit_log_province_idx ON audit_log (province_code, at, id);

-- Entries written before this migration: their commune or province, from what they record.
UPDATE audit_log SET unit_code = CASE
    WHEN entity = 'postings' AND entity_id <> '*' THEN CASE WHEN instr(entity_id, '/') > 0 THEN substr(entity_id, 1, instr(entity_id, '/') - 1) ELSE entity_id END
    WHEN entity = 'province_settings' THEN entity_id
    WHEN entity = 'exemption' THEN
        (SELECT unit_code FROM exemptions WHERE exemptions.id = audit_log.entity_id)
    WHEN entity = 'decision' THEN
        (SELECT NULLIF(scope, 'national') FROM decisions WHERE decisions.id = audit_log.entity_id)
END;
UPDATE audit_log SET province_code = COALESCE(
    (SELECT parent_code FROM units WHERE units.code = audit_log.unit_code), unit_code)
WHERE unit_code IS NOT NULL;

-- An inspection of one commune: the commune report as of the inspection day, frozen as JSON.
CREATE TABLE inspections (
    id            TEXT PRIMARY KEY,
    unit_code     TEXT NOT NULL REFERENCES units (code),
    province_code TEXT NOT NULL REFERENCES units (code),
    inspected_on  DATE NOT NULL,
    team          TEXT NOT NULL,
    notes         TEXT,
    finding_count INTEGER NOT NULL,
    completeness  DOUBLE PRECISION NOT NULL,
    report        TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX inspections_unit_idx ON inspections (unit_code, inspected_on);
CREATE INDEX inspections_province_idx ON inspections (province_code, inspected_on);

-- Neither the audit log nor an inspection can be changed or deleted, whatever the client.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER inspections_no_update BEFORE UPDATE ON inspections
BEGIN SELECT RAISE(ABORT, 'inspections are immutable'); END;
CREATE TRIGGER inspections_no_delete BEFORE DELETE ON inspections
BEGIN SELECT RAISE(ABORT, 'inspections are immutable'); END;
