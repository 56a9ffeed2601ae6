DROP TABLE list_items;
ALTER TABLE decisions DROP CONSTRAINT decisions_kind_check;
ALTER TABLE decisions ADD CONSTRAINT decisions_kind_check CHECK (kind IN ('announcement', 'import'));
DROP TABLE province_posting_places;
DROP TABLE sector_places;
ALTER TABLE procedure_versions DROP COLUMN posting_rule;
ALTER TABLE procedure_versions DROP COLUMN posting_place;
