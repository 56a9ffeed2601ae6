-- Drops what up.sql created.
DROP TABLE archive_inspections;
