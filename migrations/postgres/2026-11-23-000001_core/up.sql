-- Administrative units: the 34 provinces and the commune-level units below them.
-- Codes are strings (zero-padded); a merged unit may reuse a code, hence the validity dates.
CREATE TABLE units (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    name_search   TEXT NOT NULL,
    division_type TEXT NOT NULL,
    level         TEXT NOT NULL CHECK (level IN ('province', 'commune')),
    parent_code   TEXT REFERENCES units (code),
    valid_from    DATE NOT NULL,
    valid_to      DATE,
    CHECK ((level = 'province') = (parent_code IS NULL))
);
CREATE INDEX units_parent_idx ON units (parent_code, code);

-- Sectors (lĩnh vực) are data: they move between ministries.
CREATE TABLE sectors (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    name_search TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

-- Announcing decisions (quyết định công bố), including catalogue imports.
CREATE TABLE decisions (
    id            TEXT PRIMARY KEY,
    number        TEXT NOT NULL,
    number_norm   TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    scope         TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('announcement', 'import')),
    title         TEXT,
    signed_on     DATE NOT NULL,
    source        TEXT,
    source_sha256 TEXT,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    UNIQUE (number_norm, scope)
);
CREATE INDEX decisions_signed_idx ON decisions (signed_on, id);

-- Every procedure code ever announced.
CREATE TABLE procedures (
    code       TEXT PRIMARY KEY,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE procedure_versions (
    id                TEXT PRIMARY KEY,
    procedure_code    TEXT NOT NULL REFERENCES procedures (code),
    scope             TEXT NOT NULL,
    decision_id       TEXT NOT NULL REFERENCES decisions (id),
    item_seq          INTEGER NOT NULL,
    abolished         BOOLEAN NOT NULL,
    valid_from        DATE NOT NULL,
    valid_to          DATE,
    name              TEXT NOT NULL,
    name_search       TEXT NOT NULL,
    sector_code       TEXT NOT NULL REFERENCES sectors (code),
    levels            TEXT NOT NULL,
    procedure_type    TEXT,
    subjects          TEXT,
    authority         TEXT,
    executing_agency  TEXT,
    steps             TEXT,
    documents         TEXT,
    requirements      TEXT,
    legal_basis       TEXT,
    results           TEXT,
    channels          TEXT NOT NULL,
    source_url        TEXT,
    announced_by      TEXT,
    announced_by_norm TEXT,
    content_hash      TEXT NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE INDEX procedure_versions_code_idx ON procedure_versions (procedure_code, scope, valid_from);
CREATE INDEX procedure_versions_window_idx ON procedure_versions (valid_from, valid_to);
CREATE INDEX procedure_versions_decision_idx ON procedure_versions (decision_id);

CREATE TABLE decision_items (
    decision_id    TEXT NOT NULL REFERENCES decisions (id),
    seq            INTEGER NOT NULL,
    action         TEXT NOT NULL CHECK (action IN ('new', 'amended', 'abolished')),
    procedure_code TEXT NOT NULL REFERENCES procedures (code),
    effective_on   DATE NOT NULL,
    version_id     TEXT NOT NULL REFERENCES procedure_versions (id),
    PRIMARY KEY (decision_id, seq),
    UNIQUE (decision_id, procedure_code)
);
CREATE INDEX decision_items_code_idx ON decision_items (procedure_code);

-- Append-only record of every write.
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    at          TIMESTAMP NOT NULL,
    actor_sub   TEXT NOT NULL,
    actor_role  TEXT NOT NULL,
    actor_unit  TEXT,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    hash_before TEXT,
    hash_after  TEXT,
    request_id  TEXT
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id);
