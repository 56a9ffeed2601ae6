//! The append-only audit log: one entry per write, in the same transaction as the write. The
//! database refuses UPDATE and DELETE on it (triggers in the migrations).

use chrono::{NaiveDateTime, SubsecRound};
use diesel::prelude::*;

use crate::auth::Identity;
use crate::db::DbConnection;
use crate::db::schema::{audit_log, units};

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
#[diesel(treat_none_as_default_value = false)]
pub struct AuditRow {
    pub id: String,
    pub at: NaiveDateTime,
    pub actor_sub: String,
    pub actor_role: String,
    pub actor_unit: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub hash_before: Option<String>,
    pub hash_after: Option<String>,
    pub request_id: Option<String>,
    pub unit_code: Option<String>,
    pub province_code: Option<String>,
    pub client_request_id: Option<String>,
}

/// What an entry is about: the entities writes are recorded for (the `entity` filter accepts
/// these names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entity {
    Decision,
    Exemption,
    Holidays,
    Inspection,
    Postings,
    PostingPlaces,
    ProvinceSettings,
    Sector,
    SectorPlace,
    Units,
    Webhook,
}

impl Entity {
    pub const ALL: [Entity; 11] = [
        Entity::Decision,
        Entity::Exemption,
        Entity::Holidays,
        Entity::Inspection,
        Entity::Postings,
        Entity::PostingPlaces,
        Entity::ProvinceSettings,
        Entity::Sector,
        Entity::SectorPlace,
        Entity::Units,
        Entity::Webhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Decision => "decision",
            Entity::Exemption => "exemption",
            Entity::Holidays => "holidays",
            Entity::Inspection => "inspection",
            Entity::Postings => "postings",
            Entity::PostingPlaces => "posting_places",
            Entity::ProvinceSettings => "province_settings",
            Entity::Sector => "sector",
            Entity::SectorPlace => "sector_place",
            Entity::Units => "units",
            Entity::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Entity::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// What was written, by whom.
pub struct AuditEvent<'a> {
    pub actor: &'a Identity,
    pub action: &'a str,
    pub entity: Entity,
    pub entity_id: &'a str,
    /// The commune or province the write concerns (`None` for the whole country).
    pub unit: Option<&'a str>,
    pub hash_before: Option<String>,
    pub hash_after: Option<String>,
    pub request_id: Option<&'a str>,
    pub client_request_id: Option<&'a str>,
}

pub fn record(conn: &mut DbConnection, event: AuditEvent<'_>) -> QueryResult<()> {
    // A commune's entry also names its province, so that the province's auditors see it.
    let province_code = match event.unit {
        None => None,
        Some(code) => units::table
            .find(code)
            .select(units::parent_code)
            .first::<Option<String>>(conn)
            .optional()?
            .flatten()
            .or_else(|| Some(code.to_owned())),
    };
    let row = AuditRow {
        id: uuid::Uuid::now_v7().to_string(),
        // Microseconds: what PostgreSQL keeps, so a cursor built from a read row matches exactly.
        at: super::now().trunc_subsecs(6),
        actor_sub: event.actor.sub.clone(),
        actor_role: event.actor.role.as_str().to_owned(),
        actor_unit: event.actor.unit.as_ref().map(|u| u.as_str().to_owned()),
        action: event.action.to_owned(),
        entity: event.entity.as_str().to_owned(),
        entity_id: event.entity_id.to_owned(),
        hash_before: event.hash_before,
        hash_after: event.hash_after,
        request_id: event.request_id.map(str::to_owned),
        client_request_id: event.client_request_id.map(str::to_owned),
        unit_code: event.unit.map(str::to_owned),
        province_code,
    };
    diesel::insert_into(audit_log::table)
        .values(&row)
        .execute(conn)?;
    Ok(())
}

/// Which entries to list, oldest first.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub entity: Option<String>,
    pub actor: Option<String>,
    /// Entries of this commune.
    pub commune: Option<String>,
    /// Entries of this province (its communes' included).
    pub province: Option<String>,
    pub since: Option<NaiveDateTime>,
    /// Entries after this (time, id).
    pub after: Option<(NaiveDateTime, String)>,
    pub limit: i64,
}

pub fn list(conn: &mut DbConnection, f: &AuditFilter) -> QueryResult<Vec<AuditRow>> {
    let mut query = audit_log::table.select(AuditRow::as_select()).into_boxed();
    if let Some(entity) = &f.entity {
        query = query.filter(audit_log::entity.eq(entity.clone()));
    }
    if let Some(actor) = &f.actor {
        query = query.filter(audit_log::actor_sub.eq(actor.clone()));
    }
    if let Some(commune) = &f.commune {
        query = query.filter(audit_log::unit_code.eq(commune.clone()));
    }
    if let Some(province) = &f.province {
        query = query.filter(audit_log::province_code.eq(province.clone()));
    }
    if let Some(since) = f.since {
        query = query.filter(audit_log::at.ge(since));
    }
    if let Some((at, id)) = &f.after {
        query = query.filter(
            audit_log::at
                .gt(*at)
                .or(audit_log::at.eq(*at).and(audit_log::id.gt(id.clone()))),
        );
    }
    query
        .order((audit_log::at.asc(), audit_log::id.asc()))
        .limit(f.limit)
        .load(conn)
}
