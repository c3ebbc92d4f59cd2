//! QR codes: create, update (including soft delete), read, list.

use redb::{ReadableDatabase, ReadableTable};

use super::{decode, encode, EmbeddedStore, StoreError, DISPLAY_IDS, QRS, TEAM_QRS};
use crate::model::Qr;

impl EmbeddedStore {
    /// Stores a new code; its displayId must be free.
    pub fn create_qr(&self, qr: &Qr) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut display_ids = txn.open_table(DISPLAY_IDS)?;
            if display_ids.get(qr.display_id.as_str())?.is_some() {
                return Err(StoreError::DisplayIdTaken(qr.display_id.clone()));
            }
            display_ids.insert(qr.display_id.as_str(), qr.id.as_str())?;
            txn.open_table(QRS)?
                .insert(qr.id.as_str(), encode(qr).as_slice())?;
            txn.open_table(TEAM_QRS)?
                .insert((qr.team_id.as_str(), qr.id.as_str()), ())?;
        }
        txn.commit()?;
        self.publish(qr, None);
        Ok(())
    }

    /// Replaces a stored code. A changed displayId must be free; the old one is released.
    pub fn update_qr(&self, qr: &Qr) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        let previous_display_id;
        {
            let mut qrs = txn.open_table(QRS)?;
            let old: Qr = match qrs.get(qr.id.as_str())? {
                Some(bytes) => decode(bytes.value())?,
                None => return Err(StoreError::NotFound),
            };
            if old.display_id != qr.display_id {
                let mut display_ids = txn.open_table(DISPLAY_IDS)?;
                if display_ids.get(qr.display_id.as_str())?.is_some() {
                    return Err(StoreError::DisplayIdTaken(qr.display_id.clone()));
                }
                display_ids.remove(old.display_id.as_str())?;
                display_ids.insert(qr.display_id.as_str(), qr.id.as_str())?;
            }
            qrs.insert(qr.id.as_str(), encode(qr).as_slice())?;
            previous_display_id = old.display_id;
        }
        txn.commit()?;
        self.publish(qr, Some(previous_display_id));
        Ok(())
    }

    pub fn qr(&self, id: &str) -> Result<Option<Qr>, StoreError> {
        self.get_json(QRS, id)
    }

    /// Every code of a team, deleted ones included.
    pub fn team_qrs(&self, team_id: &str) -> Result<Vec<Qr>, StoreError> {
        let txn = self.db.begin_read()?;
        let index = txn.open_table(TEAM_QRS)?;
        let qrs = txn.open_table(QRS)?;
        let mut out = Vec::new();
        for entry in index.range((team_id, "")..)? {
            let (key, _) = entry?;
            let (team, qr_id) = key.value();
            if team != team_id {
                break;
            }
            if let Some(bytes) = qrs.get(qr_id)? {
                out.push(decode(bytes.value())?);
            }
        }
        Ok(out)
    }

    /// Calls `visit` with every stored code (for building the edge's route table).
    pub fn for_each_qr(&self, mut visit: impl FnMut(Qr)) -> Result<(), StoreError> {
        let txn = self.db.begin_read()?;
        let qrs = txn.open_table(QRS)?;
        for entry in qrs.iter()? {
            let (_, bytes) = entry?;
            visit(decode(bytes.value())?);
        }
        Ok(())
    }
}
