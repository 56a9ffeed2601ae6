//! Webhook subscriptions, the outbox of events, deliveries and their attempts.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{
    decision_items, decisions, webhook_attempts, webhook_days, webhook_deliveries, webhook_events,
    webhooks,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = webhooks)]
#[diesel(treat_none_as_null = true)]
pub struct WebhookRow {
    pub id: String,
    pub url: String,
    /// Event types, comma-separated.
    pub events: String,
    pub province_code: Option<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// As stored: `whsec_…`, or sealed (`enc:v1:…`).
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_until: Option<NaiveDateTime>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl WebhookRow {
    pub fn wants(&self, kind: &str) -> bool {
        self.events.split(',').any(|e| e == kind)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_events)]
#[diesel(treat_none_as_default_value = false)]
pub struct EventRow {
    pub id: String,
    pub kind: String,
    pub occurred_at: NaiveDateTime,
    /// What the event is about: a decision's or an inspection's id, a day.
    pub subject: String,
    /// `national` or the province the event concerns.
    pub scope: String,
    /// The JSON of the event's `data`, once prepared.
    pub data: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries)]
#[diesel(treat_none_as_default_value = false)]
pub struct DeliveryRow {
    pub id: String,
    pub event_id: String,
    pub webhook_id: String,
    /// `pending`, `delivered`, `failed` or `skipped`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub lease_until: Option<NaiveDateTime>,
    /// The body sent (the same on every attempt, so its signature is of the same bytes).
    pub body: Option<String>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
    pub replay_of: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_attempts)]
#[diesel(treat_none_as_default_value = false)]
pub struct AttemptRow {
    pub id: String,
    pub delivery_id: String,
    pub attempted_at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &WebhookRow) -> QueryResult<()> {
    diesel::insert_into(webhooks::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

pub fn get(conn: &mut DbConnection, id: &str) -> QueryResult<Option<WebhookRow>> {
    webhooks::table
        .find(id)
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()
}

/// Subscriptions in creation order, after `after` (an id), of one province (or every one).
pub fn list(
    conn: &mut DbConnection,
    province: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<WebhookRow>> {
    let mut query = webhooks::table
        .select(WebhookRow::as_select())
        .order(webhooks::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(p) = province {
        query = query.filter(webhooks::province_code.eq(p.to_owned()));
    }
    if let Some(a) = after {
        query = query.filter(webhooks::id.gt(a.to_owned()));
    }
    query.load(conn)
}

pub fn update(conn: &mut DbConnection, row: &WebhookRow) -> QueryResult<()> {
    diesel::update(webhooks::table.find(&row.id))
        .set(row)
        .execute(conn)
        .map(drop)
}

pub fn delete(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    diesel::delete(webhooks::table.find(id))
        .execute(conn)
        .map(drop)
}

/// Writes an event and one pending delivery to each enabled subscription that wants it and
/// whose province it concerns (every subscription for a national event). An event no
/// subscription wants is not kept: the change feed and the audit log already hold the change.
pub fn record_event(conn: &mut DbConnection, event: &EventRow) -> QueryResult<usize> {
    let rows: Vec<DeliveryRow> = subscribers(conn, &event.kind, &event.scope)?
        .into_iter()
        .map(|w| new_delivery(&event.id, &w.id, event.occurred_at, None))
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    diesel::insert_into(webhook_events::table)
        .values(event)
        .execute(conn)?;
    for row in &rows {
        insert_delivery(conn, row)?;
    }
    Ok(rows.len())
}

/// The enabled subscriptions that want events of `kind` about `scope` (`national`, or a
/// province).
pub fn subscribers(
    conn: &mut DbConnection,
    kind: &str,
    scope: &str,
) -> QueryResult<Vec<WebhookRow>> {
    let mut query = webhooks::table
        .filter(webhooks::enabled.eq(true))
        .select(WebhookRow::as_select())
        .into_boxed();
    if scope != crate::domain::catalogue::NATIONAL {
        query = query.filter(
            webhooks::province_code
                .is_null()
                .or(webhooks::province_code.eq(scope.to_owned())),
        );
    }
    Ok(query
        .load(conn)?
        .into_iter()
        .filter(|w| w.wants(kind))
        .collect())
}

/// A delivery due at once.
pub fn new_delivery(
    event_id: &str,
    webhook_id: &str,
    at: NaiveDateTime,
    replay_of: Option<String>,
) -> DeliveryRow {
    DeliveryRow {
        id: uuid::Uuid::now_v7().to_string(),
        event_id: event_id.to_owned(),
        webhook_id: webhook_id.to_owned(),
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: at,
        lease_until: None,
        body: None,
        last_status: None,
        last_error: None,
        created_at: at,
        delivered_at: None,
        replay_of,
    }
}

pub fn insert_delivery(conn: &mut DbConnection, row: &DeliveryRow) -> QueryResult<()> {
    diesel::insert_into(webhook_deliveries::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// Events whose data is still to be prepared, oldest first.
pub fn unprepared(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<EventRow>> {
    webhook_events::table
        .filter(webhook_events::data.is_null())
        .order((webhook_events::occurred_at.asc(), webhook_events::id.asc()))
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)
}

/// Sets an event's data, unless another worker did first.
pub fn prepare(conn: &mut DbConnection, id: &str, data: &str) -> QueryResult<()> {
    diesel::update(
        webhook_events::table
            .find(id)
            .filter(webhook_events::data.is_null()),
    )
    .set(webhook_events::data.eq(data))
    .execute(conn)
    .map(drop)
}

pub fn event(conn: &mut DbConnection, id: &str) -> QueryResult<Option<EventRow>> {
    webhook_events::table
        .find(id)
        .select(EventRow::as_select())
        .first(conn)
        .optional()
}

/// A claimed delivery, with what it sends.
pub type Claimed = (DeliveryRow, WebhookRow, EventRow);

/// Leases up to `limit` deliveries due at `now` (pending, to an enabled subscription, of a
/// prepared event), at most `per_webhook` of one subscription, oldest first, until
/// `lease_until`. A subscription with a delivery leased anywhere gets none until it is back, so
/// each subscription's deliveries go one after another, in order. On PostgreSQL the
/// subscriptions' rows are locked (`FOR NO KEY UPDATE SKIP LOCKED`) for the claim, so that two
/// instances claiming at once take different subscriptions; on SQLite the claim runs in an
/// immediate transaction, one writer at a time.
pub fn claim(
    conn: &mut DbConnection,
    (now, lease_until): (NaiveDateTime, NaiveDateTime),
    (limit, per_webhook): (usize, usize),
) -> QueryResult<Vec<Claimed>> {
    let due: Vec<(String, String)> = webhook_deliveries::table
        .inner_join(webhooks::table)
        .inner_join(webhook_events::table)
        .filter(webhook_deliveries::status.eq("pending"))
        .filter(webhook_deliveries::next_attempt_at.le(now))
        .filter(
            webhook_deliveries::lease_until
                .is_null()
                .or(webhook_deliveries::lease_until.lt(now)),
        )
        .filter(webhooks::enabled.eq(true))
        .filter(webhook_events::data.is_not_null())
        .order((
            webhook_deliveries::next_attempt_at.asc(),
            webhook_deliveries::id.asc(),
        ))
        .limit(i64::try_from(limit * 8).unwrap_or(i64::MAX))
        .select((webhook_deliveries::id, webhook_deliveries::webhook_id))
        .load(conn)?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let mut subscriptions: Vec<String> = due.iter().map(|(_, w)| w.clone()).collect();
    subscriptions.sort();
    subscriptions.dedup();
    if let DbConnection::Pg(c) = conn {
        subscriptions = webhooks::table
            .filter(webhooks::id.eq_any(&subscriptions))
            .select(webhooks::id)
            .for_no_key_update()
            .skip_locked()
            .load(c)?;
    }
    // Read once the subscriptions are this claim's: a lease committed meanwhile is seen.
    let leased: HashSet<String> = webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq_any(&subscriptions))
        .filter(webhook_deliveries::status.eq("pending"))
        .filter(webhook_deliveries::lease_until.ge(now))
        .select(webhook_deliveries::webhook_id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let free: HashSet<&String> = subscriptions
        .iter()
        .filter(|w| !leased.contains(*w))
        .collect();
    let mut taken: HashMap<&str, usize> = HashMap::new();
    let ids: Vec<String> = due
        .iter()
        .filter(|(_, webhook)| free.contains(webhook))
        .filter(|(_, webhook)| {
            let n = taken.entry(webhook.as_str()).or_default();
            *n += 1;
            *n <= per_webhook
        })
        .map(|(id, _)| id.clone())
        .take(limit)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids)))
        .set(webhook_deliveries::lease_until.eq(lease_until))
        .execute(conn)?;
    webhook_deliveries::table
        .inner_join(webhooks::table)
        .inner_join(webhook_events::table)
        .filter(webhook_deliveries::id.eq_any(&ids))
        .order((
            webhook_deliveries::next_attempt_at.asc(),
            webhook_deliveries::id.asc(),
        ))
        .select((
            DeliveryRow::as_select(),
            WebhookRow::as_select(),
            EventRow::as_select(),
        ))
        .load(conn)
}

/// What one attempt did to its delivery.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub webhook_id: String,
    pub attempt: AttemptRow,
    pub status: &'static str,
    pub next_attempt_at: NaiveDateTime,
    pub body: String,
    pub delivered_at: Option<NaiveDateTime>,
}

/// Records an attempt and releases the delivery's lease.
pub fn record_attempt(conn: &mut DbConnection, outcome: &Outcome) -> QueryResult<()> {
    let a = &outcome.attempt;
    diesel::insert_into(webhook_attempts::table)
        .values(a)
        .execute(conn)?;
    diesel::update(webhook_deliveries::table.find(&a.delivery_id))
        .set((
            webhook_deliveries::status.eq(outcome.status),
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
            webhook_deliveries::next_attempt_at.eq(outcome.next_attempt_at),
            webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
            webhook_deliveries::body.eq(&outcome.body),
            webhook_deliveries::last_status.eq(a.status_code),
            webhook_deliveries::last_error.eq(&a.error),
            webhook_deliveries::delivered_at.eq(outcome.delivered_at),
        ))
        .execute(conn)
        .map(drop)
}

/// Closes a delivery without sending it: its event says nothing about the subscription's
/// province (a national decision that changes nothing its communes post).
pub fn skip(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq("skipped"),
            webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
        .map(drop)
}

/// Gives a claimed delivery back, unsent.
pub fn release(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    diesel::update(webhook_deliveries::table.find(id))
        .set(webhook_deliveries::lease_until.eq(None::<NaiveDateTime>))
        .execute(conn)
        .map(drop)
}

/// Whether a delivery is due or an event waits for its data: the worker's cheap look before it
/// claims anything.
pub fn has_work(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<bool> {
    let due = diesel::select(diesel::dsl::exists(
        webhook_deliveries::table
            .filter(webhook_deliveries::status.eq("pending"))
            .filter(webhook_deliveries::next_attempt_at.le(now)),
    ))
    .get_result::<bool>(conn)?;
    Ok(due
        || diesel::select(diesel::dsl::exists(
            webhook_events::table.filter(webhook_events::data.is_null()),
        ))
        .get_result::<bool>(conn)?)
}

/// The last day on which one of a decision's items (or provincial list items) takes effect.
pub fn last_effective(
    conn: &mut DbConnection,
    decision_id: &str,
) -> QueryResult<Option<NaiveDate>> {
    use crate::db::schema::list_items;
    let items: Option<NaiveDate> = decision_items::table
        .filter(decision_items::decision_id.eq(decision_id))
        .select(diesel::dsl::max(decision_items::effective_on))
        .first(conn)?;
    let listed: Option<NaiveDate> = list_items::table
        .filter(list_items::decision_id.eq(decision_id))
        .select(diesel::dsl::max(list_items::valid_from))
        .first(conn)?;
    Ok(items.max(listed))
}

/// Turns a subscription off (a receiver answered 410 Gone).
pub fn disable(
    conn: &mut DbConnection,
    id: &str,
    reason: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(webhooks::table.find(id))
        .set((
            webhooks::enabled.eq(false),
            webhooks::disabled_reason.eq(reason),
            webhooks::updated_at.eq(at),
        ))
        .execute(conn)
        .map(drop)
}

/// A subscription's deliveries, newest first, before `before` (an id).
pub fn deliveries(
    conn: &mut DbConnection,
    webhook_id: &str,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<(DeliveryRow, String)>> {
    let mut query = webhook_deliveries::table
        .inner_join(webhook_events::table)
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .select((DeliveryRow::as_select(), webhook_events::kind))
        .into_boxed();
    if let Some(b) = before {
        query = query.filter(webhook_deliveries::id.lt(b.to_owned()));
    }
    query.load(conn)
}

pub fn delivery(
    conn: &mut DbConnection,
    webhook_id: &str,
    id: &str,
) -> QueryResult<Option<DeliveryRow>> {
    webhook_deliveries::table
        .find(id)
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .select(DeliveryRow::as_select())
        .first(conn)
        .optional()
}

/// The attempts of these deliveries, oldest first.
pub fn attempts(conn: &mut DbConnection, delivery_ids: &[String]) -> QueryResult<Vec<AttemptRow>> {
    let mut out = Vec::new();
    for chunk in delivery_ids.chunks(super::INSERT_CHUNK) {
        out.extend(
            webhook_attempts::table
                .filter(webhook_attempts::delivery_id.eq_any(chunk))
                .order((
                    webhook_attempts::attempted_at.asc(),
                    webhook_attempts::id.asc(),
                ))
                .select(AttemptRow::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

/// Marks `day` done; `false` if it already was (by this instance or another).
pub fn mark_day(conn: &mut DbConnection, day: NaiveDate, at: NaiveDateTime) -> QueryResult<bool> {
    let row = (webhook_days::day.eq(day), webhook_days::done_at.eq(at));
    let inserted = match conn {
        DbConnection::Pg(c) => diesel::insert_into(webhook_days::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConnection::Sqlite(c) => diesel::insert_into(webhook_days::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(inserted == 1)
}

/// The last day marked done, if any.
pub fn last_day(conn: &mut DbConnection) -> QueryResult<Option<NaiveDate>> {
    webhook_days::table
        .select(diesel::dsl::max(webhook_days::day))
        .first(conn)
}

/// A decision item taking effect on a day, with its decision.
#[derive(Debug, Clone, Queryable)]
pub struct EffectiveItem {
    pub decision_id: String,
    pub number: String,
    pub scope: String,
    pub procedure_code: String,
    pub action: String,
}

/// The decision items (and provincial list items) taking effect on `day`.
pub fn items_effective_on(
    conn: &mut DbConnection,
    day: NaiveDate,
) -> QueryResult<Vec<EffectiveItem>> {
    let mut items: Vec<EffectiveItem> = decision_items::table
        .inner_join(decisions::table)
        .filter(decision_items::effective_on.eq(day))
        .order((decisions::id.asc(), decision_items::seq.asc()))
        .select((
            decisions::id,
            decisions::number,
            decisions::scope,
            decision_items::procedure_code,
            decision_items::action,
        ))
        .load(conn)?;
    use crate::db::schema::list_items;
    items.extend(
        list_items::table
            .inner_join(decisions::table)
            .filter(list_items::valid_from.eq(day))
            .order((decisions::id.asc(), list_items::seq.asc()))
            .select((
                decisions::id,
                decisions::number,
                decisions::scope,
                list_items::procedure_code,
                list_items::action,
            ))
            .load::<EffectiveItem>(conn)?,
    );
    Ok(items)
}
