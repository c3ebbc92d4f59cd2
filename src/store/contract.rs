//! The store's one contract: every operation the rest of qredge performs on codes, teams,
//! members, credentials and templates, fulfilled alike by the embedded store (redb) and by Redis,
//! and checked by one conformance suite run against both (`tests/it/store_contract.rs`). What
//! an edge reads is the other contract, [`ChangeFeed`](super::ChangeFeed).
//!
//! Every change of a stored record applies inside the store's write to the record as it is
//! there ([`Edit`], [`Check`]): never the replacement or deletion of a copy read earlier.

use std::path::Path;

use super::{
    Bootstrap, Check, Created, Edit, ListPosition, Notice, QrListPage, QrListQuery, Session,
    SignInToken, StoreError,
};
use crate::model::template::Template;
use crate::model::{Credential, Member, Org, Qr, Role, Team};

/// What qredge asks of a store of records. `Store` is a handle over either implementation.
#[async_trait::async_trait]
pub trait RecordStore: Send + Sync + 'static {
    // --- Codes ---

    /// The code `id`, deleted ones included (None: no such code).
    async fn qr(&self, id: &str) -> Result<Option<Qr>, StoreError>;

    /// Stores a new code at the first version. `DisplayIdTaken` when its route key (displayId,
    /// on its domain) is in use, deleted codes' included; `CodeLimit(limit)` when its team
    /// already has `limit` live codes; `DomainNotTeams` when it is on a custom domain its team
    /// does not have at the write. Counted and checked inside the write.
    async fn create_qr_within(&self, qr: &Qr, limit: Option<u64>) -> Result<(), StoreError>;

    /// `create_qr_within` without a limit.
    async fn create_qr(&self, qr: &Qr) -> Result<(), StoreError> {
        self.create_qr_within(qr, None).await
    }

    /// Stores many new codes, each as `create_qr_within` would (a displayId taken by a stored
    /// code or by an earlier one of `qrs` is taken), in their order; what became of each.
    /// Embedded: one write transaction. Redis: pipelined calls of the create script.
    async fn create_qrs_within(
        &self,
        qrs: Vec<Qr>,
        limit: Option<u64>,
    ) -> Result<Vec<Created>, StoreError>;

    /// `create_qrs_within` without a limit; per code, whether it was stored.
    async fn create_qrs(&self, qrs: Vec<Qr>) -> Result<Vec<bool>, StoreError> {
        let created = self.create_qrs_within(qrs, None).await?;
        Ok(created.into_iter().map(|c| c == Created::Stored).collect())
    }

    /// Applies `edit` to the code `id` as stored at the write; the code as stored after it
    /// (unchanged and unwritten when the edit changed nothing, else at the next version).
    /// `NotFound`: no such code; the edit's own refusal (`Refused`, `Stale`) writes nothing;
    /// `DisplayIdTaken` when it moves the code to a route key in use.
    async fn update_qr(&self, id: &str, edit: Edit<Qr>) -> Result<Qr, StoreError>;

    /// One page of a team's live codes in the query's order, from the list indexes.
    async fn list_qrs(&self, query: &QrListQuery) -> Result<QrListPage, StoreError>;

    /// Where the team's changes (every code, deleted ones too, by updatedAt) are just past
    /// `after`, oldest first, at most `limit`: the updated-after feed.
    async fn changes(
        &self,
        team_id: &str,
        after: &ListPosition,
        limit: usize,
    ) -> Result<Vec<ListPosition>, StoreError>;

    /// The codes of `ids` that exist, in that order.
    async fn qrs_by_id(&self, ids: &[&str]) -> Result<Vec<Qr>, StoreError>;

    /// How many live codes the team has (what a plan's code limit counts).
    async fn live_qr_count(&self, team_id: &str) -> Result<u64, StoreError>;

    /// Every code of the team, deleted ones included, in no promised order.
    async fn team_qrs(&self, team_id: &str) -> Result<Vec<Qr>, StoreError>;

    // --- Organizations and teams ---

    async fn org(&self, id: &str) -> Result<Option<Org>, StoreError>;

    async fn team(&self, id: &str) -> Result<Option<Team>, StoreError>;

    /// Stores a new team, and gives each of `roles` (member id, role) their role in it (a write
    /// of the member: its version moves), in one write; `TeamLimit(limit)` when its organization
    /// already has `limit` teams (counted inside the write).
    async fn insert_team(
        &self,
        team: &Team,
        limit: Option<u64>,
        roles: &[(String, Role)],
    ) -> Result<(), StoreError>;

    /// Applies `edit` to the team `id` as stored at the write, as `update_qr` does; its custom
    /// domains (the keys of `domain_settings`) are claimed for it in the same write and the ones
    /// it no longer lists released. `DomainTaken` when another team has one, `DomainNotNormal`
    /// when one is not a host name in its one form, `DomainInUse` when live codes are on one it
    /// releases (counted inside the write); the change feed hears of the team.
    async fn update_team(&self, id: &str, edit: Edit<Team>) -> Result<Team, StoreError>;

    /// `update_team`, releasing the domains it no longer lists whatever codes are on them: for
    /// the claims the platform takes back from teams (`release_platform_claims`).
    async fn update_team_releasing(&self, id: &str, edit: Edit<Team>) -> Result<Team, StoreError>;

    /// Every custom domain with the team that has it.
    async fn custom_domains(&self) -> Result<Vec<(String, Team)>, StoreError>;

    /// The organization's teams, oldest first.
    async fn org_teams(&self, org_id: &str) -> Result<Vec<Team>, StoreError>;

    // --- Members ---

    async fn member(&self, id: &str) -> Result<Option<Member>, StoreError>;

    /// Stores a new member; `EmailTaken` when a member of the organization has the email (or
    /// the id is in use), checked inside the write.
    async fn insert_member(&self, member: &Member) -> Result<(), StoreError>;

    /// Applies `edit` to the member `id` as stored at the write, as `update_qr` does;
    /// `EmailTaken` when another member of the organization has the email it gives. Their bound
    /// keys follow in the same write: narrowed to the teams they are still in, deleted with the
    /// last one.
    async fn update_member(&self, id: &str, edit: Edit<Member>) -> Result<Member, StoreError>;

    /// Deletes the member `id` with every credential of theirs, in one write, if `check` passes
    /// on the member as stored there; the member deleted. `NotFound`: none; the check's refusal
    /// deletes nothing.
    async fn delete_member(&self, id: &str, check: Check<Member>) -> Result<Member, StoreError>;

    /// The organization's members, oldest first.
    async fn org_members(&self, org_id: &str) -> Result<Vec<Member>, StoreError>;

    // --- Credentials ---

    async fn credential(&self, client_id: &str) -> Result<Option<Credential>, StoreError>;

    /// Stores a new credential at the first version; its member must exist at the write, and a
    /// bound key keeps only the teams its member is in then (`NotFound`: no member, or no team
    /// left).
    async fn insert_credential(&self, credential: &Credential) -> Result<(), StoreError>;

    /// A member's credentials, oldest first.
    async fn member_credentials(&self, member_id: &str) -> Result<Vec<Credential>, StoreError>;

    /// Deletes the credential if `check` passes on it as stored at the write; whether there was
    /// one. The check's refusal deletes nothing.
    async fn delete_credential(
        &self,
        client_id: &str,
        check: Check<Credential>,
    ) -> Result<bool, StoreError>;

    // --- Templates (a team's own; the built-ins are not stored) ---

    /// The team's own templates, oldest first.
    async fn team_templates(&self, team_id: &str) -> Result<Vec<Template>, StoreError>;

    /// One of the team's own templates (another team's is None, like a missing one).
    async fn team_template(&self, team_id: &str, id: &str) -> Result<Option<Template>, StoreError>;

    /// Stores a team's template at the first version (`NotFound` without a `team_id`).
    async fn insert_template(&self, template: &Template) -> Result<(), StoreError>;

    /// Deletes one of the team's templates if `check` passes on it as stored at the write;
    /// whether there was one. The check's refusal deletes nothing.
    async fn delete_template(
        &self,
        team_id: &str,
        id: &str,
        check: Check<Template>,
    ) -> Result<bool, StoreError>;

    // --- Dashboard sign-in (kept under the SHA-256 of their token, until they expire) ---

    /// Stores a session under the hash of its token until its `expires_at`.
    async fn create_session(&self, key: &str, session: &Session) -> Result<(), StoreError>;

    /// The live session under the hash of its token (an expired one is None).
    async fn session(&self, key: &str) -> Result<Option<Session>, StoreError>;

    /// Ends a session (nothing when there is none).
    async fn delete_session(&self, key: &str) -> Result<(), StoreError>;

    /// Stores a one-time sign-in token under its hash until its `expires_at`.
    async fn create_sign_in_token(&self, key: &str, token: &SignInToken) -> Result<(), StoreError>;

    /// The live sign-in token under its hash, removed in the same step: it signs in once, however
    /// many requests race for it.
    async fn take_sign_in_token(&self, key: &str) -> Result<Option<SignInToken>, StoreError>;

    /// Stores a notice for one session's next page under `key` until its `expires_at`.
    async fn create_notice(&self, key: &str, notice: &Notice) -> Result<(), StoreError>;

    /// The live notice under `key`, removed in the same step: it is shown once.
    async fn take_notice(&self, key: &str) -> Result<Option<Notice>, StoreError>;

    /// The members with this email (lower case), across organizations.
    async fn members_with_email(&self, email: &str) -> Result<Vec<Member>, StoreError>;

    // --- The platform ---

    /// Counts one API request in `bucket` for minute `window` (epoch minutes); the count so far
    /// (the embedded store counts in memory, Redis across every API process).
    async fn count_request(&self, bucket: &str, window: i64) -> Result<u64, StoreError>;

    /// The platform's secret for public image URLs, made on the first call and the same after.
    async fn image_url_secret(&self) -> Result<[u8; 32], StoreError>;

    /// On a store without an organization: creates one with a team, an owner and their
    /// credential, writes `DATA_DIR/bootstrap.json`, and returns them (once, however many
    /// processes start together). None on a store already set up.
    async fn bootstrap_if_empty(
        &self,
        data_dir: &Path,
        default_domain: &str,
    ) -> Result<Option<Bootstrap>, StoreError>;
}
