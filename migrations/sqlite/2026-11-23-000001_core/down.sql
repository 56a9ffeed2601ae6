DROP TABLE audit_log;
DROP TABLE decision_items;
DROP TABLE procedure_versions;
DROP TABLE procedures;
DROP TABLE decisions;
DROP TABLE sectors;
DROP TABLE units;
