-- What each commune office has posted (niêm yết): one procedure, one channel. A posting is never
-- deleted: taking it down sets removed_on, so any past date can be reported.
CREATE TABLE postings (
    id                   TEXT PRIMARY KEY,
    unit_code            TEXT NOT NULL REFERENCES units (code),
    procedure_code       TEXT NOT NULL,
    channel              TEXT NOT NULL CHECK (channel IN ('counter', 'portal')),
    decision_number      TEXT NOT NULL,
    decision_number_norm TEXT NOT NULL,
    posted_on            DATE NOT NULL,
    removed_on           DATE,
    evidence_url         TEXT,
    photo_ref            TEXT,
    note                 TEXT,
    recorded_by          TEXT NOT NULL,
    recorded_at          TIMESTAMP NOT NULL,
    CHECK (removed_on IS NULL OR removed_on >= posted_on)
);
-- At most one current posting per commune, procedure and channel.
CREATE UNIQUE INDEX postings_current_idx ON postings (unit_code, procedure_code, channel) WHERE removed_on IS NULL;
CREATE INDEX postings_unit_idx ON postings (unit_code, posted_on);

-- Public holidays, for deadlines counted in working days. Editable by an admin.
CREATE TABLE holidays (
    day  DATE PRIMARY KEY,
    name TEXT NOT NULL
);

-- Per-province rules: the posting deadline in working days and the channels a commune must use.
CREATE TABLE province_settings (
    province_code         TEXT PRIMARY KEY REFERENCES units (code),
    deadline_working_days INTEGER NOT NULL CHECK (deadline_working_days BETWEEN 0 AND 365),
    required_channels     TEXT NOT NULL,
    updated_by            TEXT NOT NULL,
    updated_at            TIMESTAMP NOT NULL
);

-- A procedure a commune need not post (e.g. a border procedure in a non-border commune).
CREATE TABLE exemptions (
    id             TEXT PRIMARY KEY,
    unit_code      TEXT NOT NULL REFERENCES units (code),
    procedure_code TEXT NOT NULL REFERENCES procedures (code),
    reason         TEXT NOT NULL,
    valid_from     DATE NOT NULL,
    valid_to       DATE,
    created_by     TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE INDEX exemptions_unit_idx ON exemptions (unit_code);
