-- Webhook subscriptions: a receiver's URL, the event types it wants, and the province it is
-- about (none: the whole country). The secret signs every delivery; during a rotation the
-- previous one signs too, until `previous_until`. Secrets are stored encrypted when the service
-- has a key (NIEMYET_WEBHOOKS_KEY), as `enc:v1:…`.
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    province_code   TEXT REFERENCES units (code),
    description     TEXT,
    enabled         BOOLEAN NOT NULL,
    disabled_reason TEXT,
    secret          TEXT NOT NULL,
    previous_secret TEXT,
    previous_until  TIMESTAMP,
    created_by      TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);

-- The outbox: one row per event, written in the transaction of the change it reports (or, for a
-- day's events, in the transaction that marks the day done). `data` is filled in once, by the
-- delivery worker, for events whose data takes a computation (a decision's affected communes).
CREATE TABLE webhook_events (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    subject     TEXT NOT NULL,
    scope       TEXT NOT NULL,
    data        TEXT
);
CREATE INDEX webhook_events_unprepared_idx ON webhook_events (occurred_at) WHERE data IS NULL;

-- One delivery of one event to one subscription, with its attempts. A worker leases the
-- deliveries it sends (`lease_until`), so that instances sharing a database never send one
-- delivery twice at once.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES webhook_events (id),
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until     TIMESTAMP,
    body            TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    delivered_at    TIMESTAMP,
    replay_of       TEXT
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, created_at, id);

CREATE TABLE webhook_attempts (
    id           TEXT PRIMARY KEY,
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at TIMESTAMP NOT NULL,
    status_code  INTEGER,
    latency_ms   BIGINT NOT NULL,
    error        TEXT
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, attempted_at);

-- Days whose events (`items.effective`, `findings.overdue`) have been written: a day is done once,
-- whichever instance gets there first.
CREATE TABLE webhook_days (
    day     DATE PRIMARY KEY,
    done_at TIMESTAMP NOT NULL
);
