//! The body of `PUT /api/teams-api/{teamId}/domains` read into what a team stores: every name
//! in its one form (`DomainName`), the platform's own host kept apart from the custom domains,
//! the platform's other hosts refused.

use std::collections::BTreeMap;

use super::{ApiError, AppState};
use crate::model::{validate, DomainName, DomainSettings};

/// A name from the domains body in its one form (see `DomainName`), or 400 naming it.
fn domain_name(text: &str) -> Result<DomainName, ApiError> {
    DomainName::parse(text).map_err(ApiError::bad_request)
}

/// A team's listed domains: the platform's own (the edge's host, which every team shares) as
/// teams list it, and the custom ones, each normalised and checked. The platform's other hosts
/// (the API's, localhost, IP literals) are refused: claiming one would put the team's code space
/// and fallbacks in front of every other team's codes.
pub(super) struct ListedDomains {
    pub listed: Vec<String>,
    pub custom: BTreeMap<String, DomainSettings>,
}

impl ListedDomains {
    /// The `domains` of the body, each once.
    pub fn parse(state: &AppState, names: &[String]) -> Result<ListedDomains, ApiError> {
        let platform = state.platform_hosts();
        let mut domains = ListedDomains {
            listed: Vec::new(),
            custom: BTreeMap::new(),
        };
        for text in names {
            let name = domain_name(text)?;
            let entry = if name == platform.edge {
                state.platform_domain()
            } else if let Some(refusal) = platform.refusal(&name) {
                return Err(ApiError::bad_request(refusal));
            } else {
                domains
                    .custom
                    .insert(name.as_str().to_owned(), DomainSettings::default());
                name.into_string()
            };
            if !domains.listed.contains(&entry) {
                domains.listed.push(entry);
            }
        }
        Ok(domains)
    }

    /// Sets each custom domain's settings, their URLs checked as redirect targets.
    pub fn set_settings(
        &mut self,
        settings: BTreeMap<String, DomainSettings>,
    ) -> Result<(), ApiError> {
        for (name, mut settings) in settings {
            let name = domain_name(&name)?.into_string();
            let Some(slot) = self.custom.get_mut(&name) else {
                return Err(ApiError::bad_request(format!(
                    "domainSettings names {name:?}, which is not one of the custom domains"
                )));
            };
            for (field, url) in [
                ("rootUrl", &mut settings.root_url),
                ("notFoundUrl", &mut settings.not_found_url),
                ("expiredUrl", &mut settings.expired_url),
            ] {
                if let Some(value) = url {
                    *value =
                        validate::redirect_url(&format!("domainSettings.{name}.{field}"), value)
                            .map_err(ApiError::bad_request)?;
                }
            }
            *slot = settings;
        }
        Ok(())
    }

    /// The default domain as stored: the platform's domain or one of the custom ones.
    pub fn default_domain(&self, state: &AppState, text: &str) -> Result<String, ApiError> {
        let name = domain_name(text)?;
        if name == state.platform_hosts().edge {
            return Ok(state.platform_domain());
        }
        if !self.custom.contains_key(name.as_str()) {
            return Err(ApiError::bad_request(format!(
                "defaultDomain {:?} must be one of domains (or the platform's host)",
                name.as_str()
            )));
        }
        Ok(name.into_string())
    }
}
