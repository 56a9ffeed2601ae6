-- Every change of a revision counter is announced at commit on the `niemyet_revisions` channel
-- (payload: `key revision`), so that each instance can keep the counters in memory instead of
-- reading them on every request (see src/db/counters.rs). A rolled-back write announces nothing.
-- SQLite has no notifications; instances there watch `PRAGMA data_version` instead.
CREATE FUNCTION niemyet_announce_revision() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('niemyet_revisions', NEW.key || ' ' || NEW.revision);
    RETURN NULL;
END;
$$;

CREATE TRIGGER revisions_announce
AFTER INSERT OR UPDATE ON revisions
FOR EACH ROW EXECUTE FUNCTION niemyet_announce_revision();
