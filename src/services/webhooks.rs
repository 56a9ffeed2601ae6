//! Webhook subscriptions: created, changed, rotated, removed and replayed through the one write
//! path, with their audit entries; the signing secrets sealed at rest when a key is configured;
//! the targets' addresses checked.

use std::net::{SocketAddr, ToSocketAddrs};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::TimeDelta;
use sha2::{Digest, Sha256};

use super::ServiceError;
use super::write::{Actor, Audit, Guard, transact};
use crate::auth::Denied;
use crate::cache::counters::Committed;
use crate::config::WebhookSettings;
use crate::db::{DbConnection, WriteLock};
use crate::domain::webhooks::{EventType, forbidden_address, secret_from, secret_key};
use crate::repo::audit::Entity;
use crate::repo::webhooks::{self as repo, DeliveryRow, WebhookRow};

/// A new subscription, checked.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub url: url::Url,
    pub events: Vec<EventType>,
    pub province: Option<String>,
    pub description: Option<String>,
}

/// What a change of a subscription sets (absent: unchanged).
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub url: Option<url::Url>,
    pub events: Option<Vec<EventType>>,
    pub enabled: Option<bool>,
    pub description: Option<Option<String>>,
}

/// Who may manage a subscription of a province (`None`: of the whole country).
pub type Authorize<'a> = &'a dyn Fn(Option<&str>) -> Result<(), Denied>;

const SEALED: &str = "enc:v1:";
/// Binds a sealed secret to what it is, so that a sealed value cannot pass for another.
const AAD: &[u8] = b"niemyet webhook secret";

/// The secret as stored: sealed with AES-256-GCM under `key` (nonce, ciphertext and tag, in
/// base64, after `enc:v1:`), or as it is without a key.
pub fn seal(key: Option<&[u8; 32]>, secret: &str) -> Result<String, ServiceError> {
    let Some(key) = key else {
        return Ok(secret.to_owned());
    };
    let mut nonce = [0u8; 12];
    openssl::rand::rand_bytes(&mut nonce).map_err(ServiceError::internal)?;
    let mut tag = [0u8; 16];
    let sealed = openssl::symm::encrypt_aead(
        openssl::symm::Cipher::aes_256_gcm(),
        key,
        Some(&nonce),
        AAD,
        secret.as_bytes(),
        &mut tag,
    )
    .map_err(ServiceError::internal)?;
    let mut out = nonce.to_vec();
    out.extend(sealed);
    out.extend(tag);
    Ok(format!("{SEALED}{}", STANDARD.encode(out)))
}

/// The secret a stored value holds.
pub fn unseal(key: Option<&[u8; 32]>, stored: &str) -> Result<String, String> {
    let Some(sealed) = stored.strip_prefix(SEALED) else {
        return Ok(stored.to_owned());
    };
    let key = key.ok_or("the secret is sealed and NIEMYET_WEBHOOKS_KEY is not set")?;
    let bytes = STANDARD
        .decode(sealed)
        .map_err(|_| "the sealed secret is not base64")?;
    if bytes.len() < 28 {
        return Err("the sealed secret is too short".into());
    }
    let (nonce, rest) = bytes.split_at(12);
    let (cipher, tag) = rest.split_at(rest.len() - 16);
    let plain = openssl::symm::decrypt_aead(
        openssl::symm::Cipher::aes_256_gcm(),
        key,
        Some(nonce),
        AAD,
        cipher,
        tag,
    )
    .map_err(|_| "the secret does not open with NIEMYET_WEBHOOKS_KEY")?;
    String::from_utf8(plain).map_err(|_| "the sealed secret is not text".into())
}

/// A fresh secret.
fn new_secret() -> Result<String, ServiceError> {
    let mut random = [0u8; 32];
    openssl::rand::rand_bytes(&mut random).map_err(ServiceError::internal)?;
    Ok(secret_from(&random))
}

/// The keys a delivery is signed with: the secret, and during a rotation the previous one.
pub fn signing_keys(
    row: &WebhookRow,
    key: Option<&[u8; 32]>,
    now: chrono::NaiveDateTime,
) -> Result<Vec<Vec<u8>>, String> {
    let mut keys = vec![
        secret_key(&unseal(key, &row.secret)?).ok_or("the stored secret is not a whsec_ secret")?,
    ];
    if let (Some(previous), Some(until)) = (&row.previous_secret, row.previous_until)
        && now < until
    {
        keys.push(
            secret_key(&unseal(key, previous)?)
                .ok_or("the previous secret is not a whsec_ secret")?,
        );
    }
    Ok(keys)
}

/// The addresses a target's host has, every one of them allowed: `Err` names the first that is
/// not (unless private addresses are allowed), or why the host does not resolve. Blocking.
pub fn resolve(url: &url::Url, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
    let host = url.host_str().ok_or("the URL names no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{host} does not resolve ({e})"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no address"));
    }
    if !allow_private
        && let Some((addr, why)) = addrs
            .iter()
            .find_map(|a| forbidden_address(a.ip()).map(|why| (a, why)))
    {
        return Err(format!(
            "{host} resolves to {} ({why}); such targets need NIEMYET_WEBHOOKS_ALLOW_PRIVATE=true",
            addr.ip()
        ));
    }
    Ok(addrs)
}

/// A subscription's ETag: what a change may be made against.
pub fn etag(row: &WebhookRow) -> String {
    let mut h = Sha256::new();
    for part in [
        row.id.as_str(),
        row.url.as_str(),
        row.events.as_str(),
        row.province_code.as_deref().unwrap_or(""),
        row.description.as_deref().unwrap_or(""),
        if row.enabled { "on" } else { "off" },
        &row.updated_at.to_string(),
        // The secret changes the tag (a rotation is a change), without being readable from it.
        &hex::encode(Sha256::digest(row.secret.as_bytes())),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    format!("\"{}\"", hex::encode(&h.finalize()[..16]))
}

fn events_text(events: &[EventType]) -> String {
    let mut events: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    events.sort();
    events.dedup();
    events.join(",")
}

fn audit(row: &WebhookRow, action: &'static str) -> Audit {
    Audit {
        action,
        entity: Entity::Webhook,
        entity_id: row.id.clone(),
        unit: row.province_code.clone(),
        before: None,
        // Never the secret: its rotation shows as a new hash of the stored (sealed) value.
        after: Some(etag(row).trim_matches('"').to_owned()),
    }
}

/// Creates a subscription; the answer holds its secret, the only time it is shown.
pub fn create(
    conn: &mut DbConnection,
    input: NewSubscription,
    settings: &WebhookSettings,
    actor: &Actor,
) -> Result<Committed<(WebhookRow, String)>, ServiceError> {
    let secret = new_secret()?;
    let sealed = seal(settings.key.as_ref(), &secret)?;
    transact(conn, Guard::lock(WriteLock::Webhooks), actor, |tx| {
        let now = crate::repo::now();
        let row = WebhookRow {
            id: uuid::Uuid::now_v7().to_string(),
            url: input.url.to_string(),
            events: events_text(&input.events),
            province_code: input.province,
            description: input.description,
            enabled: true,
            disabled_reason: None,
            secret: sealed,
            previous_secret: None,
            previous_until: None,
            created_by: actor.identity.sub.clone(),
            created_at: now,
            updated_at: now,
        };
        repo::insert(tx.conn, &row)?;
        tx.audit(audit(&row, "create"));
        Ok((row, secret))
    })
}

/// The subscription `id`, if the caller may see it.
pub fn get(
    conn: &mut DbConnection,
    id: &str,
    authorize: Authorize<'_>,
) -> Result<WebhookRow, ServiceError> {
    let row =
        repo::get(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("no webhook {id}")))?;
    authorize(row.province_code.as_deref())?;
    Ok(row)
}

/// Changes a subscription (against its ETag when `If-Match` is given). Enabling one that a
/// receiver's `410 Gone` disabled clears the reason.
pub fn change(
    conn: &mut DbConnection,
    (id, change): (&str, Change),
    if_match: Option<&str>,
    authorize: Authorize<'_>,
    actor: &Actor,
) -> Result<Committed<WebhookRow>, ServiceError> {
    let guard = Guard {
        lock: WriteLock::Webhooks,
        if_match,
        what: "the webhook",
    };
    transact(conn, guard, actor, |tx| {
        let mut row = get(tx.conn, id, authorize)?;
        tx.check_if_match(&etag(&row))?;
        if let Some(url) = change.url {
            row.url = url.to_string();
        }
        if let Some(events) = change.events {
            row.events = events_text(&events);
        }
        if let Some(description) = change.description {
            row.description = description;
        }
        if let Some(enabled) = change.enabled {
            row.enabled = enabled;
            if enabled {
                row.disabled_reason = None;
            }
        }
        row.updated_at = crate::repo::now();
        repo::update(tx.conn, &row)?;
        tx.audit(audit(&row, "update"));
        Ok(row)
    })
}

/// Removes a subscription, with its deliveries.
pub fn delete(
    conn: &mut DbConnection,
    id: &str,
    if_match: Option<&str>,
    authorize: Authorize<'_>,
    actor: &Actor,
) -> Result<Committed<()>, ServiceError> {
    let guard = Guard {
        lock: WriteLock::Webhooks,
        if_match,
        what: "the webhook",
    };
    transact(conn, guard, actor, |tx| {
        let row = get(tx.conn, id, authorize)?;
        tx.check_if_match(&etag(&row))?;
        repo::delete(tx.conn, id)?;
        tx.audit(Audit {
            after: None,
            ..audit(&row, "delete")
        });
        Ok(())
    })
}

/// How long the previous secret keeps signing after a rotation.
pub const ROTATION_OVERLAP: TimeDelta = TimeDelta::hours(24);

/// Issues a new secret; the previous one signs too for [`ROTATION_OVERLAP`], so that the
/// receiver can switch without losing a delivery.
pub fn rotate(
    conn: &mut DbConnection,
    id: &str,
    if_match: Option<&str>,
    (authorize, settings): (Authorize<'_>, &WebhookSettings),
    actor: &Actor,
) -> Result<Committed<(WebhookRow, String)>, ServiceError> {
    let secret = new_secret()?;
    let sealed = seal(settings.key.as_ref(), &secret)?;
    let guard = Guard {
        lock: WriteLock::Webhooks,
        if_match,
        what: "the webhook",
    };
    transact(conn, guard, actor, |tx| {
        let mut row = get(tx.conn, id, authorize)?;
        tx.check_if_match(&etag(&row))?;
        let now = crate::repo::now();
        row.previous_secret = Some(std::mem::replace(&mut row.secret, sealed));
        row.previous_until = Some(now + ROTATION_OVERLAP);
        row.updated_at = now;
        repo::update(tx.conn, &row)?;
        tx.audit(audit(&row, "rotate_secret"));
        Ok((row, secret))
    })
}

/// Sends a delivery's event again, as a new delivery with the same `webhook-id`.
pub fn replay(
    conn: &mut DbConnection,
    (webhook_id, delivery_id): (&str, &str),
    authorize: Authorize<'_>,
    actor: &Actor,
) -> Result<Committed<DeliveryRow>, ServiceError> {
    transact(conn, Guard::lock(WriteLock::Webhooks), actor, |tx| {
        let row = get(tx.conn, webhook_id, authorize)?;
        let original = repo::delivery(tx.conn, webhook_id, delivery_id)?.ok_or_else(|| {
            ServiceError::NotFound(format!(
                "webhook {webhook_id} has no delivery {delivery_id}"
            ))
        })?;
        let mut replay = repo::new_delivery(
            &original.event_id,
            &row.id,
            crate::repo::now(),
            Some(original.id.clone()),
        );
        // The same bytes as the first time (once it was sent).
        replay.body = original.body;
        repo::insert_delivery(tx.conn, &replay)?;
        tx.audit(Audit {
            action: "replay",
            entity: Entity::Webhook,
            entity_id: row.id.clone(),
            unit: row.province_code.clone(),
            before: Some(original.id),
            after: Some(replay.id.clone()),
        });
        Ok(replay)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_its_key_only() {
        let key = [9u8; 32];
        let sealed = seal(Some(&key), "whsec_AAAA").expect("sealed");
        assert!(sealed.starts_with(SEALED));
        assert!(!sealed.contains("AAAA"));
        assert_ne!(sealed, seal(Some(&key), "whsec_AAAA").expect("sealed"));
        assert_eq!(unseal(Some(&key), &sealed).as_deref(), Ok("whsec_AAAA"));
        assert!(unseal(Some(&[8u8; 32]), &sealed).is_err());
        assert!(unseal(None, &sealed).is_err());
        assert_eq!(seal(None, "whsec_AAAA").expect("as is"), "whsec_AAAA");
        assert_eq!(unseal(None, "whsec_AAAA").as_deref(), Ok("whsec_AAAA"));
    }
}
