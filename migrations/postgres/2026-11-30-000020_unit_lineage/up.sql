-- Units retired by the 2025 reform (in force until 2025-06-30): the 63 provinces, their
-- districts and communes. They live beside `units`, not in it: 3,316 communes of 2025-07-01 reuse
-- a predecessor's code, so a code alone names two units, and every existing reference to
-- `units.code` keeps meaning the unit of today. A retired unit is keyed by its level and code
-- (2 digits a province, 3 a district, 5 a commune) and answers for dates up to `valid_to`.
CREATE TABLE retired_units (
    level          TEXT NOT NULL CHECK (level IN ('province', 'district', 'commune')),
    code           TEXT NOT NULL,
    name           TEXT NOT NULL,
    name_search    TEXT NOT NULL,
    division_type  TEXT NOT NULL,
    district_code  TEXT,
    province_code  TEXT,
    valid_to       DATE NOT NULL,
    source_sha256  TEXT NOT NULL,
    PRIMARY KEY (level, code),
    CHECK ((level = 'province') = (province_code IS NULL)),
    CHECK ((level = 'commune') = (district_code IS NOT NULL))
);
CREATE INDEX retired_units_district_idx ON retired_units (district_code, code);
CREATE INDEX retired_units_province_idx ON retired_units (province_code, code);

-- Lineage: which retired unit went, wholly or in part, to which unit of today, under which act.
CREATE TABLE unit_lineage (
    old_level     TEXT NOT NULL,
    old_code      TEXT NOT NULL,
    new_code      TEXT NOT NULL REFERENCES units (code),
    relation      TEXT NOT NULL CHECK (relation IN ('whole', 'part', 'unchanged', 'renamed_type')),
    note          TEXT NOT NULL,
    basis         TEXT NOT NULL,
    source_line   INTEGER NOT NULL,
    source_sha256 TEXT NOT NULL,
    PRIMARY KEY (old_level, old_code, new_code),
    FOREIGN KEY (old_level, old_code) REFERENCES retired_units (level, code)
);
CREATE INDEX unit_lineage_new_idx ON unit_lineage (new_code, old_level, old_code);
