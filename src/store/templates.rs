//! A team's design templates (the built-ins are not stored: they are in `model::template`).
//! Keyed by team and id on both backends, so that a team can only ever reach its own.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::edit::as_new;
use super::{decode_record, encode, Check, EmbeddedStore, StoreError};
use crate::model::template::Template;

/// (team id, template id) -> the template as JSON.
pub(super) const TEMPLATES: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("templates");

impl EmbeddedStore {
    pub fn team_templates(&self, team_id: &str) -> Result<Vec<Template>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(TEMPLATES)?;
        let mut out = Vec::new();
        for entry in table.range((team_id, "")..)? {
            let (key, value) = entry?;
            if key.value().0 != team_id {
                break;
            }
            out.push(decode_record(TEMPLATES, key.value(), value.value())?);
        }
        sort_templates(&mut out);
        Ok(out)
    }

    pub fn team_template(&self, team_id: &str, id: &str) -> Result<Option<Template>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(TEMPLATES)?;
        let found = table.get((team_id, id))?;
        found
            .map(|bytes| decode_record(TEMPLATES, (team_id, id), bytes.value()))
            .transpose()
    }

    pub fn insert_template(&self, template: &Template) -> Result<(), StoreError> {
        let team_id = template.team_id.as_deref().ok_or(StoreError::NotFound)?;
        let txn = self.db.begin_write()?;
        txn.open_table(TEMPLATES)?.insert(
            (team_id, template.id.as_str()),
            encode(&*as_new(template)).as_slice(),
        )?;
        txn.commit()?;
        Ok(())
    }

    /// Deletes the template in one write transaction, `check`ed as stored there.
    pub fn delete_template(
        &self,
        team_id: &str,
        id: &str,
        check: &Check<Template>,
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(TEMPLATES)?;
            let stored: Template = match table.get((team_id, id))? {
                Some(bytes) => decode_record(TEMPLATES, (team_id, id), bytes.value())?,
                None => return Ok(false),
            };
            check(&stored)?;
            table.remove((team_id, id))?;
        }
        txn.commit()?;
        Ok(true)
    }
}

/// A team's templates in the order the contract promises: oldest first.
pub(super) fn sort_templates(templates: &mut [Template]) {
    templates.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::template::builtin_template;

    #[test]
    fn templates_are_kept_per_team() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let mut a = builtin_template("navy").unwrap();
        a.id = "tpl_a".into();
        a.team_id = Some("team_1".into());
        let mut b = a.clone();
        b.id = "tpl_b".into();
        b.team_id = Some("team_10".into());
        store.insert_template(&a).unwrap();
        store.insert_template(&b).unwrap();
        assert_eq!(store.team_templates("team_1").unwrap(), [a.clone()]);
        assert_eq!(store.team_template("team_1", "tpl_a").unwrap(), Some(a));
        assert_eq!(store.team_template("team_1", "tpl_b").unwrap(), None);
        let any = crate::store::unchecked();
        assert!(!store.delete_template("team_1", "tpl_b", &any).unwrap());
        assert!(store.delete_template("team_10", "tpl_b", &any).unwrap());
        assert!(store.team_templates("team_10").unwrap().is_empty());
    }
}
