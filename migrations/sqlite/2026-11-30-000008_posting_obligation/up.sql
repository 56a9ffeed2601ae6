-- Who must post what (the posting obligation): see the PostgreSQL migration of the same name.
PRAGMA foreign_keys = OFF;
BEGIN;

ALTER TABLE procedure_versions ADD COLUMN posting_place TEXT
    CHECK (posting_place IN ('commune_centre', 'commune_police', 'elsewhere'));
ALTER TABLE procedure_versions ADD COLUMN posting_rule TEXT;

CREATE TABLE sector_places (
    sector_name TEXT PRIMARY KEY,
    place       TEXT NOT NULL CHECK (place IN ('commune_centre', 'commune_police', 'elsewhere')),
    reason      TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE province_posting_places (
    province_code TEXT NOT NULL REFERENCES units (code),
    valid_from    DATE NOT NULL,
    places        TEXT NOT NULL,
    updated_by    TEXT NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (province_code, valid_from)
);

-- The decisions table again, with `list` among its kinds.
CREATE TABLE decisions_new (
    id            TEXT PRIMARY KEY,
    number        TEXT NOT NULL,
    number_norm   TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    scope         TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('announcement', 'import', 'list')),
    title         TEXT,
    signed_on     DATE NOT NULL,
    source        TEXT,
    source_sha256 TEXT,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    UNIQUE (number_norm, scope)
);
INSERT INTO decisions_new SELECT id, number, number_norm, issuer, scope, kind, title, signed_on,
    source, source_sha256, created_by, created_at FROM decisions;
DROP TABLE decisions;
ALTER TABLE decisions_new RENAME TO decisions;
CREATE INDEX decisions_signed_idx ON decisions (signed_on, id);

CREATE TABLE list_items (
    decision_id    TEXT NOT NULL REFERENCES decisions (id),
    seq            INTEGER NOT NULL,
    province_code  TEXT NOT NULL REFERENCES units (code),
    procedure_code TEXT NOT NULL REFERENCES procedures (code),
    action         TEXT NOT NULL CHECK (action IN ('listed', 'delisted')),
    valid_from     DATE NOT NULL,
    valid_to       DATE,
    version_id     TEXT NOT NULL REFERENCES procedure_versions (id),
    PRIMARY KEY (decision_id, seq),
    UNIQUE (decision_id, procedure_code),
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE INDEX list_items_code_idx ON list_items (province_code, procedure_code, valid_from);

COMMIT;
PRAGMA foreign_keys = ON;
