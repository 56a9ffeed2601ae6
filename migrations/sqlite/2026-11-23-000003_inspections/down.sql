DROP TRIGGER audit_log_no_update;
DROP TRIGGER audit_log_no_delete;
DROP TABLE inspections;
DROP INDEX audit_log_province_idx;
DROP INDEX audit_log_at_idx;
ALTER TABLE audit_log DROP COLUMN province_code;
ALTER TABLE audit_log DROP COLUMN unit_code;
