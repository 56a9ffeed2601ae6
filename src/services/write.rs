//! The one way to write. Every change of record (decisions, imports, sectors, units, postings,
//! exemptions, holidays, province settings, inspections, ...) runs through [`transact`], which
//! owns what every write must do and no write may forget:
//!
//! - the transaction and its lock ([`WriteLock`]: `BEGIN IMMEDIATE` on SQLite, an advisory lock
//!   on PostgreSQL), rolled back on any error;
//! - the `If-Match` precondition, checked against the state read inside that transaction
//!   ([`Tx::check_if_match`]; a write that was given `If-Match` and never checked it fails);
//! - the revision counters the write bumps ([`Tx::bump`]), returned with the values committed
//!   as a [`Committed`], whose value is reached only by publishing them to the report cache;
//! - the audit entries ([`Tx::audit`]), written in the same transaction, with the actor and the
//!   request id filled in here;
//! - the events for the webhooks' outbox ([`Tx::emit`]), written in the same transaction, each
//!   with a delivery to every subscription that wants it.
//!
//! A service function reads like a plan: read the current state, check, change rows through
//! `repo`, say what it bumped and what to audit.

use std::collections::BTreeSet;

use crate::auth::Identity;
use crate::cache::counters::Committed;
use crate::db::{DbConnection, WriteLock, write_tx};
use crate::domain::webhooks::EventType;
use crate::repo::audit::{self, AuditEvent, Entity};
use crate::repo::revisions;
use crate::repo::webhooks::{self, EventRow};

use super::ServiceError;
use super::etag::check_if_match;

/// Who writes, and for which request.
#[derive(Debug, Clone)]
pub struct Actor {
    pub identity: Identity,
    /// The request's id (the server's own), recorded with each audit entry.
    pub request_id: Option<String>,
    /// The id the client gave the request (`X-Request-Id`), recorded beside it.
    pub client_request_id: Option<String>,
}

impl Actor {
    pub fn new(identity: Identity, request_id: Option<String>) -> Self {
        Self {
            identity,
            request_id,
            client_request_id: None,
        }
    }

    /// The same, with the client's own id for the request.
    pub fn with_client_id(mut self, client_request_id: Option<String>) -> Self {
        self.client_request_id = client_request_id;
        self
    }

    /// The system itself: start-up seeding and the command line.
    pub fn system() -> Self {
        Self::new(Identity::system(), None)
    }
}

/// What a write is guarded by.
#[derive(Debug, Clone, Copy)]
pub struct Guard<'a> {
    pub lock: WriteLock,
    /// The `If-Match` header as sent, if any.
    pub if_match: Option<&'a str>,
    /// The resource the precondition is about, for the 412's message ("the inventory").
    pub what: &'static str,
}

impl Guard<'_> {
    /// A write under `lock` without a precondition.
    pub fn lock(lock: WriteLock) -> Guard<'static> {
        Guard {
            lock,
            if_match: None,
            what: "",
        }
    }
}

/// One audit entry of a write; the actor and request id are added by [`transact`].
#[derive(Debug, Clone)]
pub struct Audit {
    pub action: &'static str,
    pub entity: Entity,
    pub entity_id: String,
    /// The commune or province the write concerns (`None` for the whole country).
    pub unit: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A revision counter a write moves.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Counter {
    /// Decisions, imports, sectors, posting places.
    Catalogue,
    /// Units, holidays, province settings.
    Reference,
    /// One commune's postings and exemptions.
    Commune(String),
}

impl Counter {
    fn key(&self) -> &str {
        match self {
            Counter::Catalogue => revisions::CATALOGUE,
            Counter::Reference => revisions::REFERENCE,
            Counter::Commune(code) => code,
        }
    }
}

/// An event for the webhooks' outbox, written in the same transaction as the change it reports.
#[derive(Debug, Clone)]
pub struct Emit {
    pub kind: EventType,
    /// What it is about: a decision's or an inspection's id, a day.
    pub subject: String,
    /// `national`, or the province it concerns (which subscriptions receive it).
    pub scope: String,
    /// Its data, when known at once; otherwise the delivery worker computes it (once).
    pub data: Option<serde_json::Value>,
}

/// A write in progress: its connection, and what it will bump, audit and emit.
pub struct Tx<'c> {
    pub conn: &'c mut DbConnection,
    if_match: Option<&'c str>,
    what: &'static str,
    checked: bool,
    bumps: BTreeSet<Counter>,
    audits: Vec<Audit>,
    emits: Vec<Emit>,
}

impl Tx<'_> {
    /// 412 unless the `If-Match` the write was given (if any) names `current`, the ETag of the
    /// state just read in this transaction.
    pub fn check_if_match(&mut self, current: &str) -> Result<(), ServiceError> {
        self.checked = true;
        check_if_match(self.if_match, current, self.what)
    }

    /// The write moves `counter` (once, however often this is called).
    pub fn bump(&mut self, counter: Counter) {
        self.bumps.insert(counter);
    }

    /// Records `entry` in the audit log when the write commits.
    pub fn audit(&mut self, entry: Audit) {
        self.audits.push(entry);
    }

    /// Writes `event` to the webhooks' outbox when the write commits, with one delivery to
    /// each subscription that wants it: a crash never loses an event of a committed change, nor
    /// invents one for a change that rolled back.
    pub fn emit(&mut self, event: Emit) {
        self.emits.push(event);
    }
}

/// Woken after a write that put events in the outbox commits: this process's webhook worker
/// sends them at once instead of at its next look (other instances find them when they look).
pub static OUTBOX_WRITTEN: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Runs `change` as one write: under `guard`'s lock, in one transaction that also bumps the
/// counters and writes the audit entries `change` asked for. Nothing is written when `change`
/// (or anything after it) fails.
pub fn transact<T>(
    conn: &mut DbConnection,
    guard: Guard<'_>,
    actor: &Actor,
    change: impl FnOnce(&mut Tx<'_>) -> Result<T, ServiceError>,
) -> Result<Committed<T>, ServiceError> {
    let mut emitted = false;
    let committed = write_tx(conn, guard.lock, |conn| {
        let mut tx = Tx {
            conn,
            if_match: guard.if_match,
            what: guard.what,
            checked: false,
            bumps: BTreeSet::new(),
            audits: Vec::new(),
            emits: Vec::new(),
        };
        let value = change(&mut tx)?;
        let Tx {
            conn,
            if_match,
            checked,
            bumps,
            audits,
            emits,
            ..
        } = tx;
        if if_match.is_some() && !checked {
            return Err(ServiceError::internal(anyhow::anyhow!(
                "a write given If-Match for {} never checked it",
                guard.what
            )));
        }
        let keys: Vec<&str> = bumps.iter().map(Counter::key).collect();
        let bumped = revisions::bump_all(conn, &keys)?;
        for entry in &audits {
            audit::record(
                conn,
                AuditEvent {
                    actor: &actor.identity,
                    action: entry.action,
                    entity: entry.entity,
                    entity_id: &entry.entity_id,
                    unit: entry.unit.as_deref(),
                    hash_before: entry.before.clone(),
                    hash_after: entry.after.clone(),
                    request_id: actor.request_id.as_deref(),
                    client_request_id: actor.client_request_id.as_deref(),
                },
            )?;
        }
        let now = crate::repo::now();
        emitted = !emits.is_empty();
        for e in emits {
            let data = e
                .data
                .map(|d| serde_json::to_string(&d))
                .transpose()
                .map_err(ServiceError::internal)?;
            webhooks::record_event(
                conn,
                &EventRow {
                    id: format!("evt_{}", uuid::Uuid::now_v7().simple()),
                    kind: e.kind.as_str().to_owned(),
                    occurred_at: now,
                    subject: e.subject,
                    scope: e.scope,
                    data,
                },
            )?;
        }
        Ok(Committed::new(value, bumped))
    })?;
    if emitted {
        OUTBOX_WRITTEN.notify_waiters();
    }
    Ok(committed)
}

#[cfg(test)]
mod tests {
    use diesel::Connection;

    use super::*;
    use crate::repo::audit::{AuditFilter, list};

    fn database() -> DbConnection {
        let mut conn = DbConnection::Sqlite(
            diesel::SqliteConnection::establish(":memory:").expect("an in-memory database"),
        );
        crate::db::run_migrations(&mut conn).expect("the migrations apply");
        conn
    }

    fn guard(if_match: Option<&str>) -> Guard<'_> {
        Guard {
            lock: WriteLock::Reference,
            if_match,
            what: "the thing",
        }
    }

    #[test]
    fn a_write_returns_what_it_bumped_and_audits_in_its_transaction() {
        let mut conn = database();
        let actor = Actor::new(Identity::system(), Some("req-1".into()));
        let committed = transact(&mut conn, guard(None), &actor, |tx| {
            tx.bump(Counter::Reference);
            tx.bump(Counter::Commune("23764".into()));
            tx.bump(Counter::Reference);
            tx.audit(Audit {
                action: "update",
                entity: Entity::Holidays,
                entity_id: "*".into(),
                unit: None,
                before: None,
                after: None,
            });
            Ok(7)
        })
        .expect("the write commits");
        let mut bumped = committed.bumped().clone();
        bumped.sort();
        assert_eq!(
            bumped,
            vec![("23764".to_owned(), 1), ("reference".to_owned(), 1)]
        );
        assert_eq!(committed.without_cache(), 7);
        let entries = list(
            &mut conn,
            &AuditFilter {
                limit: 10,
                ..AuditFilter::default()
            },
        )
        .expect("the audit log reads");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].request_id.as_deref(), Some("req-1"));
    }

    #[test]
    fn a_failed_or_unguarded_write_leaves_nothing() {
        let mut conn = database();
        let actor = Actor::system();
        // A write given If-Match that never compares it is a bug, and writes nothing.
        let unchecked = transact(&mut conn, guard(Some("\"a\"")), &actor, |tx| {
            tx.bump(Counter::Catalogue);
            Ok(())
        });
        assert!(matches!(unchecked, Err(ServiceError::Internal(_))));
        let stale = transact(&mut conn, guard(Some("\"a\"")), &actor, |tx| {
            tx.check_if_match("\"b\"")?;
            tx.bump(Counter::Catalogue);
            Ok(())
        });
        assert!(matches!(stale, Err(ServiceError::PreconditionFailed(_))));
        let counters = revisions::all(&mut conn).expect("the counters read");
        assert!(counters.is_empty(), "{counters:?}");
        let current = transact(&mut conn, guard(Some("\"b\"")), &actor, |tx| {
            tx.check_if_match("\"b\"")?;
            tx.bump(Counter::Catalogue);
            Ok(())
        })
        .expect("a current If-Match writes");
        assert_eq!(current.bumped(), &vec![("catalogue".to_owned(), 1)]);
    }
}
