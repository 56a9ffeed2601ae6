-- The request id a client sent (X-Request-Id), kept beside the server's own.
ALTER TABLE audit_log ADD COLUMN client_request_id TEXT;
