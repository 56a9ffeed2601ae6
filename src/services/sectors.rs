//! Creating a sector (lĩnh vực): a catalogue write, one decision's lock, audited.

use std::collections::HashSet;

use super::ServiceError;
use super::write::{Actor, Audit, Counter, Guard, transact};
use crate::cache::counters::Committed;
use crate::db::{DbConnection, WriteLock};
use crate::domain::text;
use crate::repo::audit::Entity;
use crate::repo::sectors::{self, SectorRow};

/// Creates a sector named `name` (NFC, checked); its code is derived from the name. 409 when a
/// sector of that name exists.
pub fn create_sector(
    conn: &mut DbConnection,
    name: String,
    actor: &Actor,
) -> Result<Committed<SectorRow>, ServiceError> {
    transact(conn, Guard::lock(WriteLock::Catalogue), actor, |tx| {
        if let Some(existing) = sectors::by_name(tx.conn, &name)? {
            return Err(ServiceError::Conflict(format!(
                "sector `{}` exists as `{}`",
                name, existing.code
            )));
        }
        let taken: HashSet<String> = sectors::list(tx.conn)?
            .into_iter()
            .map(|s| s.code)
            .collect();
        let row = SectorRow {
            code: sectors::new_code(&name, &|c| taken.contains(c)),
            name_search: text::search_key(&name),
            name,
            created_at: crate::repo::now(),
        };
        sectors::insert(tx.conn, std::slice::from_ref(&row))?;
        tx.bump(Counter::Catalogue);
        tx.audit(Audit {
            action: "create",
            entity: Entity::Sector,
            entity_id: row.code.clone(),
            unit: None,
            before: None,
            after: None,
        });
        Ok(row)
    })
}
