//! The append-only audit log: one entry per write, in the same transaction as the write.

use diesel::prelude::*;

use crate::auth::Identity;
use crate::db::DbConnection;
use crate::db::schema::audit_log;

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
#[diesel(treat_none_as_default_value = false)]
pub struct AuditRow {
    pub id: String,
    pub at: chrono::NaiveDateTime,
    pub actor_sub: String,
    pub actor_role: String,
    pub actor_unit: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub hash_before: Option<String>,
    pub hash_after: Option<String>,
    pub request_id: Option<String>,
}

/// What was written, by whom.
pub struct AuditEvent<'a> {
    pub actor: &'a Identity,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: &'a str,
    pub hash_before: Option<String>,
    pub hash_after: Option<String>,
    pub request_id: Option<String>,
}

pub fn record(conn: &mut DbConnection, event: AuditEvent<'_>) -> QueryResult<()> {
    let row = AuditRow {
        id: uuid::Uuid::now_v7().to_string(),
        at: super::now(),
        actor_sub: event.actor.sub.clone(),
        actor_role: event.actor.role.as_str().to_owned(),
        actor_unit: event.actor.unit.as_ref().map(|u| u.as_str().to_owned()),
        action: event.action.to_owned(),
        entity: event.entity.to_owned(),
        entity_id: event.entity_id.to_owned(),
        hash_before: event.hash_before,
        hash_after: event.hash_after,
        request_id: event.request_id,
    };
    diesel::insert_into(audit_log::table)
        .values(&row)
        .execute(conn)?;
    Ok(())
}
