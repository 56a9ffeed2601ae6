DROP TABLE list_items;
DROP TABLE province_posting_places;
DROP TABLE sector_places;
ALTER TABLE procedure_versions DROP COLUMN posting_rule;
ALTER TABLE procedure_versions DROP COLUMN posting_place;
