-- Drops what up.sql created.
DROP TABLE unit_lineage;
DROP TABLE retired_units;
