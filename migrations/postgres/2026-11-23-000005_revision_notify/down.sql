DROP TRIGGER revisions_announce ON revisions;
DROP FUNCTION niemyet_announce_revision();
