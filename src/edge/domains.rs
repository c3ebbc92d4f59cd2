//! The custom domains the edge answers for: which team has each, and where its root, unknown
//! and expired codes go. A Host that is no team's custom domain is the platform's own.

use std::sync::Arc;

use hashbrown::HashMap;
use hyper::header::HeaderValue;

use super::orphans::OrphanBudget;
use super::pages::Page;
use crate::model::{DomainName, Team};

#[derive(Debug)]
pub struct Domain {
    pub name: Box<str>,
    pub team_id: Arc<str>,
    pub root_url: Option<HeaderValue>,
    pub not_found_url: Option<HeaderValue>,
    pub expired_url: Option<HeaderValue>,
    /// The team's branded 404 and 410 pages.
    pub not_found_page: Arc<Page>,
    pub expired_page: Arc<Page>,
    /// How many scans of unknown codes on this domain were recorded this second.
    pub orphans: OrphanBudget,
}

#[derive(Debug, Default)]
pub struct DomainTable {
    domains: HashMap<Box<str>, Arc<Domain>>,
    /// What the table was built from, for the edge's snapshot.
    sources: Vec<(String, Team)>,
}

impl DomainTable {
    /// From every custom domain with the team that has it. Names are taken in their normal form
    /// (`DomainName`), as a request's host is looked up; a claim that can be no custom domain
    /// (an IP literal, localhost, a malformed name, as an older version may have stored) is left
    /// out, so that its host stays the platform's.
    pub fn new(sources: Vec<(String, Team)>) -> Self {
        let header =
            |url: &Option<String>| url.as_deref().and_then(|u| HeaderValue::from_str(u).ok());
        let domains = sources
            .iter()
            .filter_map(|(name, team)| match DomainName::parse(name) {
                Ok(normal) if normal.is_public_dns_name() => Some((normal, name, team)),
                _ => {
                    tracing::warn!(domain = %name, team = %team.id, "a stored custom domain that can be none is ignored");
                    None
                }
            })
            .map(|(normal, name, team)| {
                let settings = team.domain_settings.get(name).cloned().unwrap_or_default();
                let colour = team.primary_color.as_deref();
                let domain = Domain {
                    name: normal.as_str().into(),
                    team_id: team.id.as_str().into(),
                    root_url: header(&settings.root_url),
                    not_found_url: header(&settings.not_found_url),
                    expired_url: header(&settings.expired_url),
                    not_found_page: Page::not_found(colour),
                    expired_page: Page::expired(colour),
                    orphans: OrphanBudget::default(),
                };
                (normal.into_string().into_boxed_str(), Arc::new(domain))
            })
            .collect();
        Self { domains, sources }
    }

    pub fn sources(&self) -> &[(String, Team)] {
        &self.sources
    }

    /// The custom domain `host` (lower case, no port, no trailing dot), if it is one.
    #[inline]
    pub fn get(&self, host: &str) -> Option<&Arc<Domain>> {
        if self.domains.is_empty() {
            return None;
        }
        self.domains.get(host)
    }

    pub fn len(&self) -> usize {
        self.domains.len()
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }
}
