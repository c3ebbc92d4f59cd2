//! Custom domains that an older version let a team claim although they are the platform's own
//! hosts (its public host spelt with a trailing dot was stored without it, an IP literal,
//! localhost): released when the API starts, on either store, so that the edge answers those
//! hosts from the platform's code space again. The team keeps its other domains; its default
//! domain goes back to the platform's when it was the released one.

use super::{Store, StoreError};
use crate::model::{DomainName, PlatformHosts, Team};

/// Every custom domain `team` claims is a host name in its one form, as both stores keep claims:
/// two spellings of one host must never be two claims.
pub(super) fn check_claims(team: &Team) -> Result<(), StoreError> {
    match team
        .domain_settings
        .keys()
        .find(|d| DomainName::parse(d).map_or(true, |name| name.as_str() != d.as_str()))
    {
        Some(domain) => Err(StoreError::DomainNotNormal(domain.clone())),
        None => Ok(()),
    }
}

impl Store {
    /// Releases every claim on one of the platform's own hosts (and any not in its one form); `platform_domain` is the platform's domain as
    /// teams list it. Returns the released domains.
    pub async fn release_platform_claims(
        &self,
        platform: &PlatformHosts,
        platform_domain: &str,
    ) -> Result<Vec<String>, StoreError> {
        let mut released = Vec::new();
        for (claimed, _) in self.custom_domains().await? {
            // A claim not in its one form cannot be written back either (see `check_claims`).
            let refused = match DomainName::parse(&claimed) {
                Ok(name) => name.as_str() != claimed || platform.own_host_refusal(&name).is_some(),
                Err(_) => true,
            };
            if !refused {
                continue;
            }
            // Read afresh: an earlier release may have changed the same team.
            let Some(team_id) = self.domain_owner(&claimed).await? else {
                continue;
            };
            let (domain, platform_domain) = (claimed.clone(), platform_domain.to_owned());
            let release = super::edit(move |team: &mut Team| {
                team.domain_settings.remove(&domain);
                team.domains.retain(|d| *d != domain);
                if team.default_domain == domain {
                    team.default_domain = platform_domain.clone();
                }
                Ok(())
            });
            // Taken back even with codes on it: the edge serves the platform's codes there.
            match self.update_team_releasing(&team_id, release).await {
                Err(StoreError::NotFound) => continue,
                other => other?,
            };
            tracing::warn!(domain = %claimed, team = %team_id, "released a custom domain that is the platform's own host");
            released.push(claimed);
        }
        Ok(released)
    }

    /// The team that has claimed `domain`, if one has.
    async fn domain_owner(&self, domain: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .custom_domains()
            .await?
            .into_iter()
            .find(|(d, _)| d == domain)
            .map(|(_, team)| team.id))
    }
}
