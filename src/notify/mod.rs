//! The webhook worker: a thread of its own that writes each day's events once, prepares the
//! data of events that take a computation, and sends deliveries as the Standard Webhooks
//! specification has them, retrying on the schedule of [`crate::domain::webhooks`].
//!
//! Every instance runs one. Deliveries are leased before they are sent (on PostgreSQL with
//! `FOR UPDATE SKIP LOCKED`; on SQLite under the one writer's lock), so instances sharing a
//! database never send one delivery twice at once; a lease that lapses (the instance died
//! mid-send) frees the delivery for whoever looks next. Delivery is at least once: a receiver
//! drops duplicates by `webhook-id`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub mod payload;

use chrono::{NaiveDate, TimeDelta};
use serde_json::{Value, json};

use crate::cache::ReportCache;
use crate::clock::Clock;
use crate::config::WebhookSettings;
use crate::db::{Db, DbConnection, WriteLock, write_tx};
use crate::domain::catalogue::NATIONAL;
use crate::domain::webhooks::{EventType, forbidden_address, retry_after, signature_header};
use crate::repo::webhooks::{self as repo, AttemptRow, Claimed, EventRow, Outcome};
use crate::services::ServiceError;
use crate::services::reports::{communes_overdue, decision_impact};
use crate::services::webhooks::{resolve, signing_keys};
use crate::services::write::{Actor, Emit, Guard, OUTBOX_WRITTEN, transact};

/// How often an idle worker looks for work.
const POLL: Duration = Duration::from_millis(200);
/// Deliveries in flight at once, and to one subscription per claim (those are sent one after
/// another, in order).
const IN_FLIGHT: usize = 32;
const PER_WEBHOOK: usize = 4;
/// Days of events written at most when the service comes back after a long stop.
const CATCH_UP_DAYS: i64 = 31;
/// What is kept of a receiver's error.
const ERROR_CHARS: usize = 500;

/// Stops the worker when dropped (the server stopped, or a test's runtime ended).
pub struct Stop(Arc<AtomicBool>);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What the worker works with.
#[derive(Clone)]
struct Ctx {
    db: Db,
    cache: Arc<ReportCache>,
    settings: WebhookSettings,
    clock: Clock,
    client: reqwest::Client,
}

impl Ctx {
    /// Runs `f` with a pooled connection on a blocking thread: the worker holds no connection
    /// while it waits on a receiver.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConnection, &Ctx) -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let ctx = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = ctx.db.connection().map_err(ServiceError::from)?;
            f(&mut conn, &ctx)
        })
        .await
        .map_err(ServiceError::internal)?
    }
}

/// Starts the worker on a thread of its own; it runs until the returned [`Stop`] is dropped.
pub fn start(
    db: Db,
    cache: Arc<ReportCache>,
    settings: WebhookSettings,
    clock: Clock,
) -> anyhow::Result<Stop> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut client = reqwest::Client::builder();
    // The OpenSSL compiled into the binary looks for trusted certificates under its own prefix,
    // not the system's: the system's bundle is given to it here, so that `https://` receivers
    // verify without SSL_CERT_FILE being set.
    match system_roots() {
        Some((path, certs)) => {
            tracing::debug!(path, certificates = certs.len(), "webhook TLS roots");
            for cert in certs {
                client = client.add_root_certificate(cert);
            }
        }
        None => tracing::warn!(
            "no system certificate bundle found: https:// webhook receivers verify only against \
             SSL_CERT_FILE or SSL_CERT_DIR"
        ),
    }
    let client = client
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        // A redirect could lead anywhere, an internal address included: a 3xx is a failure.
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("niemyet-webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(Checked {
            allow_private: settings.allow_private,
        }))
        .build()?;
    let ctx = Ctx {
        db,
        cache,
        settings,
        clock,
        client,
    };
    let flag = stop.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("webhooks".into())
        .spawn(move || runtime.block_on(run(ctx, flag)))?;
    Ok(Stop(stop))
}

/// The system's trusted certificates: `SSL_CERT_FILE` if set, else the first bundle found where
/// Debian, Ubuntu, Alpine or Red Hat keep it.
fn system_roots() -> Option<(String, Vec<reqwest::Certificate>)> {
    let candidates = std::env::var("SSL_CERT_FILE").into_iter().chain(
        [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/cert.pem",
        ]
        .map(str::to_owned),
    );
    candidates.into_iter().find_map(|path| {
        let pem = std::fs::read(&path).ok()?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).ok()?;
        (!certs.is_empty()).then_some((path, certs))
    })
}

/// The worker's loop.
async fn run(ctx: Ctx, stop: Arc<AtomicBool>) {
    let mut in_flight: tokio::task::JoinSet<String> = tokio::task::JoinSet::new();
    // Subscriptions with deliveries in flight here, and how many.
    let mut busy: HashMap<String, usize> = HashMap::new();
    // Events whose data failed, and how many times in a row.
    let mut failures: HashMap<String, u32> = HashMap::new();
    // The day's events are written beside the deliveries, never in their way: a day waiting
    // for another instance's lock (or for a database that is slow to answer) holds up no
    // delivery.
    let mut days_done: Option<NaiveDate> = None;
    let mut days: Option<tokio::task::JoinHandle<Result<NaiveDate, ServiceError>>> = None;
    while !stop.load(Ordering::Relaxed) {
        while let Some(finished) = in_flight.try_join_next() {
            if let Ok(webhook) = finished {
                busy.remove(&webhook);
            }
        }
        let today = ctx.clock.today_in_vietnam();
        if let Some(task) = days.take_if(|t| t.is_finished()) {
            match task.await {
                Ok(Ok(day)) => days_done = days_done.max(Some(day)),
                Ok(Err(e)) => tracing::warn!(error = %e, "the day's webhook events wait"),
                Err(e) => tracing::warn!(error = %e, "the day's webhook events wait"),
            }
        }
        if days.is_none() && days_done.is_none_or(|d| d < today) {
            let ctx = ctx.clone();
            days = Some(tokio::spawn(async move {
                ctx.blocking(move |conn, _| write_days(conn, today).map(|()| today))
                    .await
            }));
        }
        // Deliveries and retries run on real time; the clock says which day it is.
        let now = chrono::Utc::now().naive_utc();
        let mut worked = false;
        let has_work = ctx
            .blocking(move |conn, _| Ok(repo::has_work(conn, now)?))
            .await;
        if let Err(e) = &has_work {
            tracing::warn!(error = %e, "the webhook worker cannot read the outbox");
        }
        if let Ok(true) = has_work {
            let give_up: HashSet<String> = failures
                .iter()
                .filter(|(_, n)| **n >= GIVE_UP_AFTER)
                .map(|(id, _)| id.clone())
                .collect();
            match ctx
                .blocking(move |conn, ctx| Ok(prepare_one(conn, ctx, &give_up)))
                .await
            {
                Ok(Ok(Some(id))) => {
                    failures.remove(&id);
                    worked = true;
                }
                Ok(Ok(None)) => {}
                Ok(Err((id, e))) => {
                    tracing::warn!(error = %e, event = id.as_deref().unwrap_or(""), "a webhook event's data could not be prepared");
                    if let Some(id) = id {
                        *failures.entry(id).or_default() += 1;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a webhook event's data could not be prepared")
                }
            }
            let room = IN_FLIGHT.saturating_sub(busy.values().sum());
            let lease_until = now + lease(&ctx.settings);
            let claimed = match room {
                0 => Ok(Vec::new()),
                _ => {
                    ctx.blocking(move |conn, _| {
                        write_tx(conn, WriteLock::Rows, |conn| {
                            Ok(repo::claim(conn, (now, lease_until), (room, PER_WEBHOOK))?)
                        })
                    })
                    .await
                }
            };
            match claimed {
                Ok(claimed) => {
                    tracing::debug!(
                        claimed = claimed.len(),
                        in_flight = busy.len(),
                        "webhook deliveries claimed"
                    );
                    worked |= !claimed.is_empty();
                    for (webhook, group) in by_webhook(claimed) {
                        busy.insert(webhook.clone(), group.len());
                        let ctx = ctx.clone();
                        in_flight.spawn(async move {
                            deliver_group(&ctx, group).await;
                            webhook
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "webhook deliveries could not be claimed"),
            }
        }
        if !worked {
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = OUTBOX_WRITTEN.notified() => {}
                Some(finished) = in_flight.join_next(), if !in_flight.is_empty() => {
                    if let Ok(webhook) = finished {
                        busy.remove(&webhook);
                    }
                }
            }
        }
    }
    // Deliveries in flight are dropped with the runtime; their leases lapse and the next look
    // (here or in another instance) sends them again: at least once.
}

/// How long claimed deliveries are this worker's: time to send a whole group, one after
/// another, each up to the time-out, and to record them.
fn lease(settings: &WebhookSettings) -> TimeDelta {
    let per_delivery = TimeDelta::from_std(settings.timeout).unwrap_or(TimeDelta::seconds(15))
        + TimeDelta::seconds(2);
    per_delivery * PER_WEBHOOK as i32 + TimeDelta::seconds(10)
}

/// Claimed deliveries by subscription, each group in the order claimed.
fn by_webhook(claimed: Vec<Claimed>) -> BTreeMap<String, Vec<Claimed>> {
    let mut groups: BTreeMap<String, Vec<Claimed>> = BTreeMap::new();
    for c in claimed {
        groups.entry(c.1.id.clone()).or_default().push(c);
    }
    groups
}

/// Writes the events of every day after the last one done, up to `today` (at most
/// [`CATCH_UP_DAYS`]; only `today` on the first run). Each day is marked done in the transaction
/// that writes its events, so it is written once whatever the instances and the restarts.
fn write_days(conn: &mut DbConnection, today: NaiveDate) -> Result<(), ServiceError> {
    let first = match repo::last_day(conn)? {
        Some(last) if last >= today => return Ok(()),
        Some(last) => (last + TimeDelta::days(1)).max(today - TimeDelta::days(CATCH_UP_DAYS - 1)),
        None => today,
    };
    let mut day = first;
    while day <= today {
        write_day(conn, day)?;
        day += TimeDelta::days(1);
    }
    Ok(())
}

fn write_day(conn: &mut DbConnection, day: NaiveDate) -> Result<(), ServiceError> {
    let at = chrono::Utc::now().naive_utc();
    transact(
        conn,
        Guard::lock(WriteLock::Webhooks),
        &Actor::system(),
        |tx| {
            if !repo::mark_day(tx.conn, day, at)? {
                return Ok(());
            }
            let wanted = |conn: &mut DbConnection, kind: EventType| {
                repo::subscribers(conn, kind.as_str(), NATIONAL).map(|s| !s.is_empty())
            };
            if wanted(tx.conn, EventType::ItemsEffective)? {
                let items = repo::items_effective_on(tx.conn, day)?;
                if !items.is_empty() {
                    tx.emit(Emit {
                        kind: EventType::ItemsEffective,
                        subject: day.to_string(),
                        scope: NATIONAL.into(),
                        data: Some(items_data(day, &items)),
                    });
                }
            }
            if wanted(tx.conn, EventType::FindingsOverdue)? {
                // Its data takes a report over every commune: prepared after the commit.
                tx.emit(Emit {
                    kind: EventType::FindingsOverdue,
                    subject: day.to_string(),
                    scope: NATIONAL.into(),
                    data: None,
                });
            }
            Ok(())
        },
    )
    .map(crate::cache::counters::Committed::without_cache)
}

fn items_data(day: NaiveDate, items: &[repo::EffectiveItem]) -> Value {
    to_value(&payload::ItemsEffective {
        day,
        items: items
            .iter()
            .map(|i| payload::EffectiveItem {
                decision_id: i.decision_id.clone(),
                decision_number: i.number.clone(),
                scope: i.scope.clone(),
                procedure_code: i.procedure_code.clone(),
                action: i.action.clone(),
                decision_url: format!("/api/v1/decisions/{}", i.decision_id),
                procedure_url: format!("/api/v1/procedures/{}", i.procedure_code),
            })
            .collect(),
    })
}

/// An event's data as JSON (these types always serialize).
pub fn to_value(data: &impl serde::Serialize) -> Value {
    serde_json::to_value(data).unwrap_or_default()
}

/// Prepares the data of the oldest event that waits for it; `false` if none does.
/// An event whose data failed [`GIVE_UP_AFTER`] times in a row is sent with what is known
/// (its subject, and why the rest is missing) rather than holding up the events behind it.
const GIVE_UP_AFTER: u32 = 5;

/// Prepares the data of the oldest event that waits for it (`Ok(None)` if none does); on
/// failure, which event failed.
fn prepare_one(
    conn: &mut DbConnection,
    ctx: &Ctx,
    give_up: &HashSet<String>,
) -> Result<Option<String>, (Option<String>, ServiceError)> {
    let Some(event) = repo::unprepared(conn, 1)
        .map_err(|e| (None, e.into()))?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let computed = if give_up.contains(&event.id) {
        Ok(json!({
            "subject": event.subject,
            "unavailable": "the service could not compute this event's data; read the linked \
                            resources or the change feed",
        }))
    } else {
        match EventType::parse(&event.kind) {
            Some(EventType::DecisionRecorded) => decision_data(conn, ctx, &event),
            Some(EventType::FindingsOverdue) => overdue_data(conn, ctx, &event),
            // Written with their data; an unknown kind gets an empty one rather than blocking.
            Some(EventType::ItemsEffective | EventType::InspectionRecorded) | None => Ok(json!({})),
        }
    };
    let data = computed.map_err(|e| (Some(event.id.clone()), e))?;
    repo::prepare(conn, &event.id, &data.to_string())
        .map_err(|e| (Some(event.id.clone()), e.into()))?;
    Ok(Some(event.id))
}

/// A decision's data: per province, the communes it asks to post, take down or re-post
/// something, each with its earliest due date, as of the last day one of its items takes
/// effect (or today, if that is past).
fn decision_data(
    conn: &mut DbConnection,
    ctx: &Ctx,
    event: &EventRow,
) -> Result<Value, ServiceError> {
    let today = ctx.clock.today_in_vietnam();
    let as_of = repo::last_effective(conn, &event.subject)?.map_or(today, |d| d.max(today));
    let impact = match decision_impact(conn, &event.subject, None, as_of) {
        Ok(impact) => impact,
        // Recorded and since gone (no route removes a decision today): say so, thinly.
        Err(ServiceError::NotFound(_)) => {
            return Ok(json!({ "decision": { "id": event.subject }, "provinces": [] }));
        }
        Err(e) => return Err(e),
    };
    // province → commune → (name, pending, earliest due date)
    type Commune = (String, u64, Option<NaiveDate>);
    let mut provinces: BTreeMap<String, BTreeMap<String, Commune>> = BTreeMap::new();
    for row in &impact.rows {
        let c = provinces
            .entry(row.province_code.clone())
            .or_default()
            .entry(row.commune_code.clone())
            .or_insert_with(|| (row.commune_name.clone(), 0, None));
        c.1 += 1;
        c.2 = match (c.2, row.due_on) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    let scope = crate::repo::catalogue::get_decision(conn, &event.subject)?
        .map(|d| d.scope)
        .unwrap_or_default();
    let subject = &event.subject;
    Ok(to_value(&payload::DecisionRecorded {
        decision: payload::DecisionLink {
            id: impact.decision_id,
            number: impact.decision_number,
            scope,
            url: format!("/api/v1/decisions/{subject}"),
        },
        as_of,
        provinces: provinces
            .into_iter()
            .map(|(code, communes)| payload::ProvinceImpact {
                communes_affected: communes.len() as u64,
                pending: communes.values().map(|c| c.1).sum(),
                earliest_due_on: communes.values().filter_map(|c| c.2).min(),
                impact_url: format!(
                    "/api/v1/decisions/{subject}/impact?province={code}&as_of={as_of}"
                ),
                communes: communes
                    .into_iter()
                    .map(|(code, (name, pending, due_on))| payload::CommuneDue {
                        code,
                        name,
                        pending,
                        due_on,
                    })
                    .collect(),
                code,
            })
            .collect(),
    }))
}

/// A day's overdue data: the communes with an overdue finding that day and none the day before.
fn overdue_data(
    conn: &mut DbConnection,
    ctx: &Ctx,
    event: &EventRow,
) -> Result<Value, ServiceError> {
    let day: NaiveDate = event
        .subject
        .parse()
        .map_err(|e| ServiceError::internal(anyhow::anyhow!("{}: {e}", event.subject)))?;
    // Only the provinces someone receives this for (all of them for a nationwide subscription).
    let subscribed = repo::subscribers(conn, &event.kind, NATIONAL)?;
    let provinces: Option<HashSet<String>> = subscribed
        .iter()
        .map(|s| s.province_code.clone())
        .collect::<Option<HashSet<String>>>();
    let only = provinces.as_ref();
    let before: HashSet<String> =
        communes_overdue(conn, &ctx.cache, day - TimeDelta::days(1), only)?
            .into_iter()
            .map(|c| c.commune)
            .collect();
    let mut provinces: BTreeMap<String, Vec<payload::CommuneOverdue>> = BTreeMap::new();
    for c in communes_overdue(conn, &ctx.cache, day, only)? {
        if before.contains(&c.commune) {
            continue;
        }
        provinces
            .entry(c.province.clone())
            .or_default()
            .push(payload::CommuneOverdue {
                report_url: format!("/api/v1/communes/{}/report?as_of={day}", c.commune),
                code: c.commune,
                name: c.name,
                overdue: c.overdue,
            });
    }
    Ok(to_value(&payload::FindingsOverdue {
        day,
        provinces: provinces
            .into_iter()
            .map(|(code, communes)| payload::ProvinceOverdue {
                communes_newly_overdue: communes.len() as u64,
                report_url: format!("/api/v1/provinces/{code}/report?as_of={day}"),
                communes,
                code,
            })
            .collect(),
    }))
}

/// The body one subscription receives: the event with its data narrowed to the subscription's
/// province; `None` if nothing in it concerns that province.
pub fn body_for(event: &EventRow, province: Option<&str>) -> Option<String> {
    let mut data: Value = event
        .data
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_else(|| json!({}));
    // A day without a commune falling overdue is not news.
    if event.kind == EventType::FindingsOverdue.as_str()
        && data
            .get("provinces")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
    {
        return None;
    }
    if let Some(p) = province {
        if let Some(Value::Array(provinces)) = data.get_mut("provinces") {
            provinces.retain(|v| v.get("code").and_then(Value::as_str) == Some(p));
            if provinces.is_empty() {
                return None;
            }
        }
        if let Some(Value::Array(items)) = data.get_mut("items") {
            items.retain(|v| {
                v.get("scope")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s == NATIONAL || s == p)
            });
            if items.is_empty() {
                return None;
            }
        }
    }
    let timestamp = event.occurred_at.and_utc();
    Some(
        json!({
            "id": event.id,
            "type": event.kind,
            "timestamp": timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": data,
        })
        .to_string(),
    )
}

/// What became of one claimed delivery.
enum Done {
    /// Sent: the attempt and what follows from it.
    Sent { outcome: Outcome, gone: bool },
    /// Nothing in it for the subscription's province.
    Skipped(String),
    /// Not sent (its subscription answered 410 earlier in the group): back to the queue.
    Released(String),
}

/// Sends a subscription's claimed deliveries one after another, then records them all in one
/// transaction (one write, not one per delivery: the deliveries keep pace with a busy
/// database). A crash before the record sends them again: at least once.
async fn deliver_group(ctx: &Ctx, group: Vec<Claimed>) {
    let mut done = Vec::with_capacity(group.len());
    let mut gone = false;
    for claimed in group {
        if gone {
            done.push(Done::Released(claimed.0.id.clone()));
        } else {
            let d = deliver(ctx, claimed).await;
            gone |= matches!(d, Done::Sent { gone: true, .. });
            done.push(d);
        }
    }
    let recorded = ctx
        .blocking(move |conn, _| {
            write_tx(conn, WriteLock::Rows, |conn| {
                for d in &done {
                    match d {
                        Done::Sent { outcome, gone } => {
                            repo::record_attempt(conn, outcome)?;
                            if *gone {
                                repo::disable(
                                    conn,
                                    &outcome.webhook_id,
                                    "the receiver answered 410 Gone",
                                    outcome.attempt.attempted_at,
                                )?;
                            }
                        }
                        Done::Skipped(id) => repo::skip(conn, id)?,
                        Done::Released(id) => repo::release(conn, id)?,
                    }
                }
                Ok::<_, ServiceError>(())
            })
        })
        .await;
    if let Err(e) = recorded {
        // The leases lapse and the deliveries are sent again: at least once.
        tracing::warn!(error = %e, "webhook attempts were not recorded");
    }
}

/// Sends one claimed delivery (unless there is nothing in it for the subscription).
async fn deliver(ctx: &Ctx, (delivery, webhook, event): Claimed) -> Done {
    let body = match delivery.body.clone() {
        Some(body) => body,
        None => match body_for(&event, webhook.province_code.as_deref()) {
            Some(body) => body,
            None => return Done::Skipped(delivery.id),
        },
    };
    let now = chrono::Utc::now();
    let started = Instant::now();
    let (status_code, error) = match send(ctx, &webhook, &event.id, &body, now.timestamp()).await {
        Ok(code) if (200..300).contains(&code) => (Some(code), None),
        Ok(code) => (Some(code), Some(format!("the receiver answered {code}"))),
        Err(e) => (None, Some(e)),
    };
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let attempts = u32::try_from(delivery.attempts).unwrap_or(0) + 1;
    let delivered = error.is_none();
    let gone = status_code == Some(410);
    let retry = (!delivered && !gone)
        .then(|| retry_after(attempts, ctx.settings.retry_scale, jitter()))
        .flatten();
    let status = match (delivered, retry) {
        (true, _) => "delivered",
        (false, Some(_)) => "pending",
        (false, None) => "failed",
    };
    let at = now.naive_utc();
    tracing::info!(
        delivery = %delivery.id,
        webhook = %webhook.id,
        event = %event.id,
        kind = %event.kind,
        attempt = attempts,
        status_code,
        latency_ms,
        outcome = status,
        error = error.as_deref().unwrap_or(""),
        "webhook delivery attempted"
    );
    Done::Sent {
        outcome: Outcome {
            webhook_id: webhook.id.clone(),
            attempt: AttemptRow {
                id: uuid::Uuid::now_v7().to_string(),
                delivery_id: delivery.id.clone(),
                attempted_at: at,
                status_code: status_code.map(i32::from),
                latency_ms,
                error,
            },
            status,
            next_attempt_at: retry
                .and_then(|d| TimeDelta::from_std(d).ok())
                .map_or(at, |d| at + d),
            body,
            delivered_at: delivered.then_some(at),
        },
        gone,
    }
}

/// Sends `body` signed; the receiver's status, or why there was none.
async fn send(
    ctx: &Ctx,
    webhook: &repo::WebhookRow,
    id: &str,
    body: &str,
    timestamp: i64,
) -> Result<u16, String> {
    let url = url::Url::parse(&webhook.url).map_err(|e| format!("the URL does not parse: {e}"))?;
    // A name is checked by the resolver at every connection; an address written in the URL is
    // never resolved, so it is checked here.
    if !ctx.settings.allow_private
        && let Some(host) = url.host_str()
        && let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        && let Some(why) = forbidden_address(ip)
    {
        return Err(format!(
            "{ip} is {why}; such targets need NIEMYET_WEBHOOKS_ALLOW_PRIVATE=true"
        ));
    }
    let keys = signing_keys(
        webhook,
        ctx.settings.key.as_ref(),
        chrono::Utc::now().naive_utc(),
    )?;
    let signature = signature_header(&keys, id, timestamp, body.as_bytes());
    let response = ctx
        .client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| clip(&describe(&e)))?;
    Ok(response.status().as_u16())
}

/// A transport error with its causes (reqwest's own message stops at "error sending request").
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn clip(s: &str) -> String {
    s.chars().take(ERROR_CHARS).collect()
}

/// A number in [0, 1) for the retries' jitter.
fn jitter() -> f64 {
    (uuid::Uuid::new_v4().as_u128() as u64 >> 11) as f64 / (1u64 << 53) as f64
}

/// Resolves a target's host and refuses it if any of its addresses is forbidden: checked at
/// every connection, so a name that resolved to a public address at registration cannot be
/// pointed at an internal one later (DNS rebinding).
struct Checked {
    allow_private: bool,
}

impl reqwest::dns::Resolve for Checked {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = tokio::task::spawn_blocking(move || {
                // The port is the connector's: any number resolves the same.
                let url = url::Url::parse(&format!("http://{host}/"))
                    .map_err(|e| format!("{host}: {e}"))?;
                resolve(&url, allow_private)
            })
            .await
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?
            .map_err(Box::<dyn std::error::Error + Send + Sync>::from)?;
            let addrs: Box<dyn Iterator<Item = SocketAddr> + Send> = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: Value) -> EventRow {
        EventRow {
            id: "evt_1".into(),
            kind: "decision.recorded".into(),
            occurred_at: chrono::DateTime::from_timestamp(1_800_000_000, 0)
                .map(|d| d.naive_utc())
                .unwrap_or_default(),
            subject: "d".into(),
            scope: NATIONAL.into(),
            data: Some(data.to_string()),
        }
    }

    #[test]
    fn a_province_receives_its_own_part_or_nothing() {
        let e = event(json!({"provinces": [{"code": "01"}, {"code": "52"}]}));
        let all: Value =
            serde_json::from_str(&body_for(&e, None).unwrap_or_default()).unwrap_or_default();
        assert_eq!(all["data"]["provinces"].as_array().map(Vec::len), Some(2));
        assert_eq!(all["id"], "evt_1");
        assert_eq!(all["type"], "decision.recorded");
        let own: Value =
            serde_json::from_str(&body_for(&e, Some("52")).unwrap_or_default()).unwrap_or_default();
        assert_eq!(own["data"]["provinces"], json!([{"code": "52"}]));
        assert_eq!(body_for(&e, Some("79")), None);

        let items = event(json!({"items": [{"scope": "national"}, {"scope": "01"}]}));
        let own: Value = serde_json::from_str(&body_for(&items, Some("52")).unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(own["data"]["items"], json!([{"scope": "national"}]));
        let only_01 = event(json!({"items": [{"scope": "01"}]}));
        assert_eq!(body_for(&only_01, Some("52")), None);
    }

    #[test]
    fn the_system_certificates_are_found() {
        // Debian and Ubuntu keep them in ca-certificates.crt (the CI machine's kind).
        if std::path::Path::new("/etc/ssl/certs/ca-certificates.crt").exists() {
            let (_, certs) = system_roots().expect("the bundle reads");
            assert!(certs.len() > 50, "{}", certs.len());
        }
    }

    #[test]
    fn jitter_stays_in_its_range() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}
