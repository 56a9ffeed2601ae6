-- Who must post what (the posting obligation).
--
-- Every procedure version has a posting place, derived from its executing agency, authority and
-- sector when it is imported or announced (`posting_rule` names the rule that decided it). Rows
-- written before this migration get theirs when the service next starts.
ALTER TABLE procedure_versions ADD COLUMN posting_place TEXT
    CHECK (posting_place IN ('commune_centre', 'commune_police', 'elsewhere'));
ALTER TABLE procedure_versions ADD COLUMN posting_rule TEXT;

-- Where a commune-level procedure whose agency text is blank or unclear is posted, by sector name
-- (data, with a reason; editable by an admin).
CREATE TABLE sector_places (
    sector_name TEXT PRIMARY KEY,
    place       TEXT NOT NULL CHECK (place IN ('commune_centre', 'commune_police', 'elsewhere')),
    reason      TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- Which posting places a province's communes must post, from a date (default: the centre only).
CREATE TABLE province_posting_places (
    province_code TEXT NOT NULL REFERENCES units (code),
    valid_from    DATE NOT NULL,
    places        TEXT NOT NULL,
    updated_by    TEXT NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (province_code, valid_from)
);

-- Provincial lists (danh mục TTHC thực hiện tại cấp xã): a provincial decision whose items add
-- (`listed`) or remove (`delisted`) a procedure for the communes of its province from a date. An
-- item is in force from `valid_from` until the next item of the same province and procedure.
ALTER TABLE decisions DROP CONSTRAINT decisions_kind_check;
ALTER TABLE decisions ADD CONSTRAINT decisions_kind_check
    CHECK (kind IN ('announcement', 'import', 'list'));
CREATE TABLE list_items (
    decision_id    TEXT NOT NULL REFERENCES decisions (id),
    seq            INTEGER NOT NULL,
    province_code  TEXT NOT NULL REFERENCES units (code),
    procedure_code TEXT NOT NULL REFERENCES procedures (code),
    action         TEXT NOT NULL CHECK (action IN ('listed', 'delisted')),
    valid_from     DATE NOT NULL,
    valid_to       DATE,
    -- The version that applied in the province on `valid_from` (what the item concerns).
    version_id     TEXT NOT NULL REFERENCES procedure_versions (id),
    PRIMARY KEY (decision_id, seq),
    UNIQUE (decision_id, procedure_code),
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE INDEX list_items_code_idx ON list_items (province_code, procedure_code, valid_from);
