DROP TRIGGER audit_log_append_only ON audit_log;
DROP TRIGGER audit_log_no_truncate ON audit_log;
DROP TABLE inspections;
DROP FUNCTION niemyet_append_only();
DROP INDEX audit_log_province_idx;
DROP INDEX audit_log_at_idx;
ALTER TABLE audit_log DROP COLUMN province_code;
ALTER TABLE audit_log DROP COLUMN unit_code;
