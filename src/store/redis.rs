//! The production store on Redis: the same records as the embedded store, plus the two things
//! edges read — a hash of every servable route, and a stream of changes that edges follow. It
//! fulfils the store's contract (`RecordStore`, in `redis/contract.rs`) with the methods below:
//! every change is one script that writes only over the version it was computed from.
//!
//! Keys (all under one `{prefix}`, whose hash tag keeps them in one Redis Cluster slot so that the
//! scripts below can touch several atomically; the store is small next to the analytics):
//! - `{prefix}org:{id}`, `team:{id}`, `member:{id}`, `cred:{clientId}`, `qr:{id}`: JSON records
//! - `{prefix}org-teams:{orgId}`, `org-members:{orgId}`: sets of ids; `org-emails:{orgId}`: hash
//!   email → member id (one person per email); `member-creds:{memberId}`: set of client ids.
//!   `email-members:{email}`: set of the ids of the members with that email across
//!   organizations (what a password sign-in looks up), kept by the member scripts and filled
//!   once for a store written before it (`email_index.rs`).
//!   Saving a member rewrites their bound credentials in the same script, which builds the
//!   `cred:` keys from the set's ids (the shared prefix keeps them in the script's slot)
//! - `{prefix}display`: hash route key (`displayId`, or `domain/displayId` on a custom domain) →
//!   qr id (uniqueness; deleted codes keep theirs)
//! - `{prefix}team-qrs:{teamId}`: set of the team's qr ids
//! - `{prefix}list-created:{teamId}`, `list-updated:{teamId}`: sorted sets of the team's live qr
//!   ids by createdAt and updatedAt; `list-name:{teamId}`: sorted set (all scores 0, so ordered by
//!   member) of `name key NUL qr id NUL displayId lowercased`; `list-names:{teamId}`: hash qr id →
//!   its member there; `list-changes:{teamId}`: sorted set of all the team's qr ids, deleted ones
//!   too, by updatedAt (the updated-after feeds) (see `list.rs`); `list-text:{teamId}:{n}`:
//!   4096 strings, each the entries of the live codes of one bucket, which a search reads
//!   (`search.rs`)
//! - `{prefix}routes`: hash route key → compact [`RouteRecord`] JSON, servable codes only,
//!   without the team's colour (edges apply it; records of earlier versions may carry one)
//! - `{prefix}domains`: hash custom domain → the team that has it
//! - `{prefix}templates:{teamId}`: hash template id → the team's design template JSON
//! - `{prefix}changes`: the change feed edges follow (`feed.rs`), a stream of `d` (a route key
//!   whose route changed) and `p` (one released), or `t` (a team whose settings changed), each
//!   numbered `n` from `{prefix}changes-count`, trimmed to about `changes_kept` entries
//! - `{prefix}initialized`: set once the first organization exists
//! - `{prefix}session:{hash}`, `sign-in:{hash}`: the dashboard's sessions and one-time sign-in
//!   tokens under the SHA-256 of their token, each with its TTL (`redis/sessions.rs`)

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::OnceCell;

mod contract;
mod templates;

use super::bootstrap::FirstOwner;
use super::edit::{apply, as_new, until_written, Check, Edit};
use super::list_filter::filters_of;
use super::{Bootstrap, Created, Release, StoreError};
use crate::model::{Credential, Member, Org, Qr, Role, RouteRecord, Team};

/// How long a command may go unanswered: longer than a blocking read waits (the edge's
/// follower blocks for 1 s), which the default (500 ms) would cut short.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

mod feed;
mod image_secret;
pub use feed::StreamCursor;
mod email_index;
mod list;
mod list_filter;
mod list_walk;
#[macro_use]
mod search;
pub(crate) use list::glob_escape;
mod sessions;
/// Codes per pipeline of a bulk create, and pipelines sent before the first answer is awaited:
/// enough to keep Redis busy while the client builds the next ones.
const PIPELINE_CODES: usize = 1_000;
const PIPELINES_IN_FLIGHT: usize = 4;

/// Lua: appends a change to the stream `stream`, kept to about `maxlen` entries, numbered `n`
/// from the counter `{stream}-count`, so that a follower sees a trim as a gap in the numbers (see
/// `feed.rs`). The counter's key is built here, as the stream's plus a suffix (the prefix's hash
/// tag keeps it in the script's slot): one INCR, where reading the stream's own count (XINFO)
/// took several times the XADD. Prefixed to each script that writes the stream.
macro_rules! append_change {
    () => {
        r#"
local function append_change(stream, maxlen, ...)
  local number = redis.call('INCR', stream .. '-count')
  redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'n', number, ...)
end
"#
    };
}

/// KEYS: display, qr, team-qrs, routes, changes, then the team's five list keys (see
/// `list.rs`), domains, the prefix of the team's filter sets (`list_filter.rs`) and the
/// code's bucket of its search text (`search.rs`). ARGV:
/// displayId, qrId, qr JSON, route JSON or "", stream max length, then the list's createdAt,
/// updatedAt and name member ("" for a deleted code: not listed), the limit of live codes ("":
/// none), the code's custom domain ("": none), its team id, then its filters. 0 when the
/// displayId is taken, -1 over the limit, -2 when the custom domain is not the team's.
const CREATE_QR: &str = concat!(
    append_change!(),
    search_text!(),
    r#"
if ARGV[10] ~= '' and redis.call('HGET', KEYS[11], ARGV[10]) ~= ARGV[11] then return -2 end
if ARGV[8] ~= '' and ARGV[9] ~= '' and redis.call('ZCARD', KEYS[6]) >= tonumber(ARGV[9]) then
  return -1
end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[2])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[4], ARGV[1], ARGV[4]) end
append_change(KEYS[5], ARGV[5], 'd', ARGV[1])
if ARGV[8] ~= '' then
  redis.call('ZADD', KEYS[6], ARGV[6], ARGV[2])
  redis.call('ZADD', KEYS[7], ARGV[7], ARGV[2])
  redis.call('ZADD', KEYS[8], 0, ARGV[8])
  redis.call('HSET', KEYS[9], ARGV[2], ARGV[8])
  for i = 12, #ARGV do redis.call('ZADD', KEYS[12] .. ARGV[i], ARGV[7], ARGV[2]) end
  redis.call('APPEND', KEYS[13], text_entry(ARGV[2], ARGV[6], ARGV[7], ARGV[8]))
end
redis.call('ZADD', KEYS[10], ARGV[7], ARGV[2])
return 1
"#
);

impl Created {
    /// What a CREATE_QR reply says.
    fn from_reply(reply: i64) -> Self {
        match reply {
            1 => Created::Stored,
            0 => Created::DisplayIdTaken,
            -2 => Created::DomainNotTeams,
            _ => Created::OverLimit,
        }
    }
}

/// KEYS: display, qr, routes, changes, then the team's five list keys, domains, the prefix of
/// the team's filter sets and the code's bucket of its search text. ARGV: qrId, route key, qr
/// JSON, route JSON or "", max length, then the list's createdAt, updatedAt and name member (""
/// for a deleted code), the version the new record was made from, the code's custom domain
/// ("": none), its team id, then its filters (the stored code's are read from its record and taken
/// off first). -1 when the code does not exist, -2 when it is no longer at that version (written
/// meanwhile), 0 when the new key is taken, -3 when it moves to a custom domain that is not the
/// team's. The previous key and list member are read here, inside the script, so concurrent
/// writes cannot race.
const UPDATE_QR: &str = concat!(
    append_change!(),
    search_text!(),
    r#"
local current = redis.call('GET', KEYS[2])
if not current then return -1 end
local record = cjson.decode(current)
if (tonumber(record['version']) or 0) ~= tonumber(ARGV[9]) then return -2 end
if ARGV[10] ~= '' and record['domain'] ~= ARGV[10] and redis.call('HGET', KEYS[10], ARGV[10]) ~= ARGV[11] then
  return -3
end
local old = record['displayId']
if type(record['domain']) == 'string' then old = record['domain'] .. '/' .. old end
if old ~= ARGV[2] then
  if redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[1]) == 0 then return 0 end
  redis.call('HDEL', KEYS[1], old)
  redis.call('HDEL', KEYS[3], old)
end
redis.call('SET', KEYS[2], ARGV[3])
local listed = redis.call('HGET', KEYS[8], ARGV[1])
if listed then redis.call('ZREM', KEYS[7], listed) end
redis.call('ZREM', KEYS[11] .. 'type:' .. record['qrType'], ARGV[1])
if type(record['tags']) == 'table' then
  for _, tag in ipairs(record['tags']) do redis.call('ZREM', KEYS[11] .. 'tag:' .. tag, ARGV[1]) end
end
if ARGV[8] == '' then
  redis.call('ZREM', KEYS[5], ARGV[1])
  redis.call('ZREM', KEYS[6], ARGV[1])
  redis.call('HDEL', KEYS[8], ARGV[1])
else
  redis.call('ZADD', KEYS[5], ARGV[6], ARGV[1])
  redis.call('ZADD', KEYS[6], ARGV[7], ARGV[1])
  redis.call('ZADD', KEYS[7], 0, ARGV[8])
  redis.call('HSET', KEYS[8], ARGV[1], ARGV[8])
  for i = 12, #ARGV do redis.call('ZADD', KEYS[11] .. ARGV[i], ARGV[7], ARGV[1]) end
end
if ARGV[8] == '' then set_text(KEYS[12], ARGV[1], '')
else set_text(KEYS[12], ARGV[1], text_entry(ARGV[1], ARGV[6], ARGV[7], ARGV[8])) end
redis.call('ZADD', KEYS[9], ARGV[7], ARGV[1])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], ARGV[4])
else redis.call('HDEL', KEYS[3], ARGV[2]) end
if old ~= ARGV[2] then
  append_change(KEYS[4], ARGV[5], 'd', ARGV[2], 'p', old)
else
  append_change(KEYS[4], ARGV[5], 'd', ARGV[2])
end
return 1
"#
);

/// KEYS: team, changes, domains, the team's live codes (`list-created`). ARGV: team id, team
/// JSON, max length, the version the new record was made from, the prefix of code keys
/// (`…qr:`; "": release domains whatever codes are on them), then the team's custom domains. "missing" when the team does not exist, "stale"
/// when it is no longer at that version, "taken:DOMAIN" when another team has one of the
/// domains, "inuse:N:DOMAIN" when N live codes of the team are on a domain it no longer lists
/// (read only when one is released: a rare change, which then reads each live code), else "ok"
/// (and the domains it no longer lists are released).
const UPDATE_TEAM: &str = concat!(
    append_change!(),
    r#"
local current = redis.call('GET', KEYS[1])
if not current then return 'missing' end
if (tonumber(cjson.decode(current)['version']) or 0) ~= tonumber(ARGV[4]) then return 'stale' end
local wanted = {}
for i = 6, #ARGV do
  local owner = redis.call('HGET', KEYS[3], ARGV[i])
  if owner and owner ~= ARGV[1] then return 'taken:' .. ARGV[i] end
  wanted[ARGV[i]] = true
end
local old = cjson.decode(current)['domainSettings']
local released = {}
if type(old) == 'table' then
  for domain, _ in pairs(old) do
    if not wanted[domain] then released[domain] = 0 end
  end
end
if ARGV[5] ~= '' and next(released) then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
    local text = redis.call('GET', ARGV[5] .. id)
    if text then
      local domain = cjson.decode(text)['domain']
      if released[domain] then released[domain] = released[domain] + 1 end
    end
  end
  for domain, live in pairs(released) do
    if live > 0 then return 'inuse:' .. live .. ':' .. domain end
  end
end
for domain, _ in pairs(released) do
  if redis.call('HGET', KEYS[3], domain) == ARGV[1] then redis.call('HDEL', KEYS[3], domain) end
end
for i = 6, #ARGV do redis.call('HSET', KEYS[3], ARGV[i], ARGV[1]) end
redis.call('SET', KEYS[1], ARGV[2])
append_change(KEYS[2], ARGV[3], 't', ARGV[1])
return 'ok'
"#
);

/// KEYS: initialized, org, team, member, cred, the member's credential set, the org's member
/// set, team set and email hash, the email's member set. ARGV: the four JSON records, the client
/// id, the member id, the team id, the email. 0 when another process bootstrapped first.
const BOOTSTRAP: &str = r#"
if redis.call('SET', KEYS[1], '1', 'NX') == false then return 0 end
for i = 2, 5 do redis.call('SET', KEYS[i], ARGV[i - 1]) end
redis.call('SADD', KEYS[6], ARGV[5])
redis.call('SADD', KEYS[7], ARGV[6])
redis.call('SADD', KEYS[8], ARGV[7])
redis.call('HSET', KEYS[9], ARGV[8], ARGV[6])
redis.call('SADD', KEYS[10], ARGV[6])
return 1
"#;

/// Keeps those of a bound credential's teams (`cred.binding.teams`) that are keys of `teams`;
/// how many are left. Shared by the two scripts below.
const FOLLOW_MEMBERSHIP: &str = r#"
local function follow_membership(cred, teams)
  local binding = cred['binding']
  if type(binding) ~= 'table' then return -1 end
  local kept = {}
  for _, team in ipairs(binding['teams']) do
    if type(teams) == 'table' and teams[team] then table.insert(kept, team) end
  end
  local changed = #kept < #binding['teams']
  binding['teams'] = kept
  if changed then
    cred['version'] = (tonumber(cred['version']) or 0) + 1
    return #kept
  end
  return -1
end
"#;

/// KEYS: the member, the org's member set, the org's email hash, the member's credential set.
/// ARGV: member id, email, JSON, the prefix of credential keys (`…cred:`), the version the record
/// was made from ("" for a new member), the prefix of email member sets (`…email-members:`). 'taken' when another member has the email (or a new
/// member's id is in use), 'missing' when the member is gone, 'stale' when no longer at that
/// version. Their bound keys follow in the same call: narrowed to the teams the member is still
/// in (a write of the key: its version moves), deleted with the last.
const SAVE_MEMBER: &str = r#"
local current = redis.call('GET', KEYS[1])
if ARGV[5] == '' then
  if current then return 'taken' end
else
  if not current then return 'missing' end
  current = cjson.decode(current)
  if (tonumber(current['version']) or 0) ~= tonumber(ARGV[5]) then return 'stale' end
end
local owner = redis.call('HGET', KEYS[3], ARGV[2])
if owner and owner ~= ARGV[1] then return 'taken' end
if current and current['email'] ~= ARGV[2] and redis.call('HGET', KEYS[3], current['email']) == ARGV[1] then
  redis.call('HDEL', KEYS[3], current['email'])
end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[1])
if current and current['email'] ~= ARGV[2] then
  redis.call('SREM', ARGV[6] .. current['email'], ARGV[1])
end
redis.call('SADD', ARGV[6] .. ARGV[2], ARGV[1])
redis.call('SET', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
local teams = cjson.decode(ARGV[3])['teams']
for _, id in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  local key = ARGV[4] .. id
  local text = redis.call('GET', key)
  if text then
    local cred = cjson.decode(text)
    local left = follow_membership(cred, teams)
    if left == 0 then
      redis.call('DEL', key)
      redis.call('SREM', KEYS[4], id)
    elseif left > 0 then
      redis.call('SET', key, cjson.encode(cred))
    end
  end
end
return 'ok'
"#;

/// KEYS: the credential, its member's credential set, the member. ARGV: client id, JSON.
/// 'missing' when the member is gone; a bound key keeps only the teams the member is in now,
/// 'missing' when none.
const INSERT_CREDENTIAL: &str = r#"
local cred = cjson.decode(ARGV[2])
local text = ARGV[2]
local member = redis.call('GET', KEYS[3])
if not member then return 'missing' end
if type(cred['binding']) == 'table' then
  local left = follow_membership(cred, cjson.decode(member)['teams'])
  if left == 0 then return 'missing' end
  -- A new key: narrowed before its first write, so at its first version still.
  if left > 0 then cred['version'] = 1; text = cjson.encode(cred) end
end
redis.call('SET', KEYS[1], text)
redis.call('SADD', KEYS[2], ARGV[1])
return 'ok'
"#;

/// KEYS: the member, the org's member set, the org's email hash, the member's credential set.
/// ARGV: member id, the version read, the prefix of credential keys (`…cred:`), the prefix of
/// email member sets (`…email-members:`). 'missing' when
/// the member is gone, 'stale' when written since the read, else 'ok': the member, their email's
/// claim and every credential of theirs deleted.
const DELETE_MEMBER: &str = r#"
local current = redis.call('GET', KEYS[1])
if not current then return 'missing' end
current = cjson.decode(current)
if (tonumber(current['version']) or 0) ~= tonumber(ARGV[2]) then return 'stale' end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[3], current['email']) == ARGV[1] then
  redis.call('HDEL', KEYS[3], current['email'])
end
redis.call('SREM', ARGV[4] .. current['email'], ARGV[1])
for _, id in ipairs(redis.call('SMEMBERS', KEYS[4])) do redis.call('DEL', ARGV[3] .. id) end
redis.call('DEL', KEYS[4])
return 'ok'
"#;

/// KEYS: the credential, its member's credential set. ARGV: client id, the version read.
/// 'missing' when gone, 'stale' when written since the read, else 'ok' (deleted).
const DELETE_CREDENTIAL: &str = r#"
local current = redis.call('GET', KEYS[1])
if not current then return 'missing' end
if (tonumber(cjson.decode(current)['version']) or 0) ~= tonumber(ARGV[2]) then return 'stale' end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 'ok'
"#;

/// KEYS: the team, its organization's team set, then members to give a role in it. ARGV: team
/// id, JSON, the organization's limit of teams ("": none), then each member's role. 'limit'
/// when the organization has that many.
const INSERT_TEAM: &str = r#"
if ARGV[3] ~= '' and redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 'limit' end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
for i = 3, #KEYS do
  local text = redis.call('GET', KEYS[i])
  if text then
    local member = cjson.decode(text)
    member['teams'][ARGV[1]] = ARGV[i + 1]
    member['version'] = (tonumber(member['version']) or 0) + 1
    redis.call('SET', KEYS[i], cjson.encode(member))
  end
end
return 'ok'
"#;

#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    /// A connection of its own for blocking reads (the edge's XREAD BLOCK), opened at the first:
    /// on the shared multiplexed connection every other command would queue behind one.
    blocking: Arc<OnceCell<ConnectionManager>>,
    /// Connections a search reads the team's search text on, in parts at once, opened at the
    /// first.
    search_links: Arc<OnceCell<Vec<ConnectionManager>>>,
    url: Arc<str>,
    prefix: String,
    /// The change stream's length (MAXLEN ~): an edge further behind reads every route afresh.
    changes_kept: u64,
}

impl RedisStore {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let conn = crate::redis_link::connect(url, RESPONSE_TIMEOUT).await?;
        let store = Self {
            conn,
            blocking: Arc::default(),
            search_links: Arc::default(),
            url: url.into(),
            prefix: prefix.to_owned(),
            changes_kept: super::DEFAULT_CHANGES_KEPT,
        };
        store.fill_list_index().await?;
        store.fill_search_text().await?;
        store.fill_filter_index().await?;
        store.fill_email_index().await?;
        Ok(store)
    }

    /// This store with its change stream trimmed to about the newest `kept` entries.
    pub fn with_changes_kept(mut self, kept: u64) -> Self {
        self.changes_kept = kept.max(1);
        self
    }

    fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    async fn get_json<T: DeserializeOwned>(&self, key: String) -> Result<Option<T>, StoreError> {
        let mut conn = self.conn.clone();
        let text: Option<String> = conn.get(&key).await?;
        text.map(|t| decode_at(&key, &t)).transpose()
    }

    pub async fn org(&self, id: &str) -> Result<Option<Org>, StoreError> {
        self.get_json(self.key(&format!("org:{id}"))).await
    }

    pub async fn team(&self, id: &str) -> Result<Option<Team>, StoreError> {
        self.get_json(self.key(&format!("team:{id}"))).await
    }

    pub async fn member(&self, id: &str) -> Result<Option<Member>, StoreError> {
        self.get_json(self.key(&format!("member:{id}"))).await
    }

    pub async fn credential(&self, client_id: &str) -> Result<Option<Credential>, StoreError> {
        self.get_json(self.key(&format!("cred:{client_id}"))).await
    }

    /// The organization's teams, oldest first.
    pub async fn org_teams(&self, org_id: &str) -> Result<Vec<Team>, StoreError> {
        let mut teams: Vec<Team> = self
            .members_of_set(&format!("org-teams:{org_id}"), "team")
            .await?;
        teams.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(teams)
    }

    /// The organization's members, oldest first.
    pub async fn org_members(&self, org_id: &str) -> Result<Vec<Member>, StoreError> {
        let mut members: Vec<Member> = self
            .members_of_set(&format!("org-members:{org_id}"), "member")
            .await?;
        members.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(members)
    }

    /// The records `{kind}:{id}` of every id in the set `set` (ids whose record is gone are
    /// passed over).
    async fn members_of_set<T: DeserializeOwned>(
        &self,
        set: &str,
        kind: &str,
    ) -> Result<Vec<T>, StoreError> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = conn.smembers(self.key(set)).await?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(record) = self.get_json(self.key(&format!("{kind}:{id}"))).await? {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Stores a new team, lists it under its organization and gives each of `roles` (member id,
    /// role) their role in it, in one script; TeamLimit when the organization already has
    /// `limit` teams (counted in the script, so concurrent creates cannot pass it).
    pub async fn insert_team(
        &self,
        team: &Team,
        limit: Option<u64>,
        roles: &[(String, Role)],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let script = Script::new(INSERT_TEAM);
        let mut call = script.prepare_invoke();
        call.key(self.key(&format!("team:{}", team.id)))
            .key(self.key(&format!("org-teams:{}", team.org_id)))
            .arg(&team.id)
            .arg(json(&*as_new(team)))
            .arg(limit.map(|n| n.to_string()).unwrap_or_default());
        for (member_id, role) in roles {
            call.key(self.key(&format!("member:{member_id}")))
                .arg(json(role).trim_matches('"'));
        }
        let outcome: String = call.invoke_async(&mut conn).await?;
        match outcome.as_str() {
            "ok" => Ok(()),
            _ => Err(StoreError::TeamLimit(limit.unwrap_or_default())),
        }
    }

    /// Stores a new member: EmailTaken when a member of the organization has the email (the
    /// organization's email hash is the claim, checked and written in one script).
    pub async fn insert_member(&self, member: &Member) -> Result<(), StoreError> {
        match self.write_member(&as_new(member), None).await?.as_str() {
            "ok" => Ok(()),
            _ => Err(StoreError::EmailTaken(member.email.clone())),
        }
    }

    /// Applies `edit` to the stored member `id` (NotFound: none): reads them, applies the edit,
    /// and writes the result with a script that refuses when the stored version is no longer the
    /// one read (then the edit runs again).
    pub async fn update_member(&self, id: &str, edit: &Edit<Member>) -> Result<Member, StoreError> {
        until_written(|| async move {
            let old = self.member(id).await?.ok_or(StoreError::NotFound)?;
            let Some(member) = apply(&old, edit)? else {
                return Ok(Some(old));
            };
            match self
                .write_member(&member, Some(old.version))
                .await?
                .as_str()
            {
                "ok" => Ok(Some(member)),
                "stale" => Ok(None),
                "missing" => Err(StoreError::NotFound),
                _ => Err(StoreError::EmailTaken(member.email.clone())),
            }
        })
        .await
    }

    /// Runs SAVE_MEMBER: a new member (`read` None) or one still at version `read`.
    async fn write_member(&self, member: &Member, read: Option<u64>) -> Result<String, StoreError> {
        let mut conn = self.conn.clone();
        let outcome = Script::new(&format!("{FOLLOW_MEMBERSHIP}{SAVE_MEMBER}"))
            .key(self.key(&format!("member:{}", member.id)))
            .key(self.key(&format!("org-members:{}", member.org_id)))
            .key(self.key(&format!("org-emails:{}", member.org_id)))
            .key(self.key(&format!("member-creds:{}", member.id)))
            .arg(&member.id)
            .arg(&member.email)
            .arg(json(member))
            .arg(self.key("cred:"))
            .arg(read.map(|v| v.to_string()).unwrap_or_default())
            .arg(self.key("email-members:"))
            .invoke_async(&mut conn)
            .await?;
        Ok(outcome)
    }

    /// Deletes the member `id` and every credential of theirs if `check` passes on them as
    /// stored: read, checked, and deleted by a script only while still at the version read (else
    /// read and checked again).
    pub async fn delete_member(
        &self,
        id: &str,
        check: &Check<Member>,
    ) -> Result<Member, StoreError> {
        until_written(|| async move {
            let member = self.member(id).await?.ok_or(StoreError::NotFound)?;
            check(&member)?;
            let mut conn = self.conn.clone();
            let outcome: String = Script::new(DELETE_MEMBER)
                .key(self.key(&format!("member:{id}")))
                .key(self.key(&format!("org-members:{}", member.org_id)))
                .key(self.key(&format!("org-emails:{}", member.org_id)))
                .key(self.key(&format!("member-creds:{id}")))
                .arg(id)
                .arg(member.version)
                .arg(self.key("cred:"))
                .arg(self.key("email-members:"))
                .invoke_async(&mut conn)
                .await?;
            match outcome.as_str() {
                "ok" => Ok(Some(member)),
                "missing" => Err(StoreError::NotFound),
                _ => Ok(None),
            }
        })
        .await
    }

    /// Counts one API request in `bucket` for minute `window`, shared by every API process
    /// (the key expires after the minute is over).
    pub async fn count_request(&self, bucket: &str, window: i64) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.key(&format!("rate:{bucket}:{window}"));
        let (count, _): (u64, bool) = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .expire(&key, 120)
            .query_async(&mut conn)
            .await?;
        Ok(count)
    }

    /// Stores a new credential and lists it under its member (`member-creds:{id}`); a bound key
    /// with the teams its member is in at that moment (NotFound: none).
    pub async fn insert_credential(&self, credential: &Credential) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let outcome: String = Script::new(&format!("{FOLLOW_MEMBERSHIP}{INSERT_CREDENTIAL}"))
            .key(self.key(&format!("cred:{}", credential.client_id)))
            .key(self.key(&format!("member-creds:{}", credential.member_id)))
            .key(self.key(&format!("member:{}", credential.member_id)))
            .arg(&credential.client_id)
            .arg(json(&*as_new(credential)))
            .invoke_async(&mut conn)
            .await?;
        match outcome.as_str() {
            "ok" => Ok(()),
            _ => Err(StoreError::NotFound),
        }
    }

    /// A member's credentials, oldest first.
    pub async fn member_credentials(&self, member_id: &str) -> Result<Vec<Credential>, StoreError> {
        let mut out: Vec<Credential> = self
            .members_of_set(&format!("member-creds:{member_id}"), "cred")
            .await?;
        out.sort_by(|a, b| (a.created_at, &a.client_id).cmp(&(b.created_at, &b.client_id)));
        Ok(out)
    }

    /// Removes a credential if `check` passes on it as stored, as `delete_member` deletes;
    /// whether there was one.
    pub async fn delete_credential(
        &self,
        client_id: &str,
        check: &Check<Credential>,
    ) -> Result<bool, StoreError> {
        until_written(|| async move {
            let Some(credential) = self.credential(client_id).await? else {
                return Ok(Some(false));
            };
            check(&credential)?;
            let mut conn = self.conn.clone();
            let outcome: String = Script::new(DELETE_CREDENTIAL)
                .key(self.key(&format!("cred:{client_id}")))
                .key(self.key(&format!("member-creds:{}", credential.member_id)))
                .arg(client_id)
                .arg(credential.version)
                .invoke_async(&mut conn)
                .await?;
            Ok(deleted(&outcome))
        })
        .await
    }

    pub async fn qr(&self, id: &str) -> Result<Option<Qr>, StoreError> {
        self.get_json(self.key(&format!("qr:{id}"))).await
    }

    /// Like the embedded store's: bootstraps an empty store once, across all API processes.
    pub async fn bootstrap_if_empty(
        &self,
        data_dir: &Path,
        default_domain: &str,
    ) -> Result<Option<Bootstrap>, StoreError> {
        let mut conn = self.conn.clone();
        if conn.exists(self.key("initialized")).await? {
            return Ok(None);
        }
        let first = FirstOwner::new(default_domain);
        first.write_file(data_dir)?;
        let created: i64 = Script::new(BOOTSTRAP)
            .key(self.key("initialized"))
            .key(self.key(&format!("org:{}", first.org.id)))
            .key(self.key(&format!("team:{}", first.team.id)))
            .key(self.key(&format!("member:{}", first.member.id)))
            .key(self.key(&format!("cred:{}", first.credential.client_id)))
            .key(self.key(&format!("member-creds:{}", first.member.id)))
            .key(self.key(&format!("org-members:{}", first.org.id)))
            .key(self.key(&format!("org-teams:{}", first.org.id)))
            .key(self.key(&format!("org-emails:{}", first.org.id)))
            .key(self.key(&format!("email-members:{}", first.member.email)))
            .arg(json(&first.org))
            .arg(json(&first.team))
            .arg(json(&first.member))
            .arg(json(&first.credential))
            .arg(&first.credential.client_id)
            .arg(&first.member.id)
            .arg(&first.team.id)
            .arg(&first.member.email)
            .invoke_async(&mut conn)
            .await?;
        if created == 0 {
            // Another process won the race; its credential is the valid one.
            let _ = std::fs::remove_file(data_dir.join("bootstrap.json"));
            return Ok(None);
        }
        Ok(Some(first.bootstrap))
    }

    /// The keys and arguments of one CREATE_QR call, built here for `create_qr` and
    /// `create_qrs` alike.
    fn create_qr_call(&self, qr: &Qr, limit: Option<u64>) -> (Vec<String>, Vec<String>) {
        let mut keys = vec![
            self.key("display"),
            self.key(&format!("qr:{}", qr.id)),
            self.key(&format!("team-qrs:{}", qr.team_id)),
            self.key("routes"),
            self.key("changes"),
        ];
        keys.extend(self.list_keys(&qr.team_id));
        keys.push(self.key("domains"));
        keys.push(self.filter_key_base(&qr.team_id));
        keys.push(self.text_key(&qr.team_id, &qr.id));
        let mut args = vec![
            qr.route_key(),
            qr.id.clone(),
            json(&*as_new(qr)),
            route_json(qr),
            self.changes_kept.to_string(),
        ];
        args.extend(list::script_args(qr));
        args.push(limit.map(|n| n.to_string()).unwrap_or_default());
        args.push(qr.domain.clone().unwrap_or_default());
        args.push(qr.team_id.clone());
        args.extend(filters_of(qr));
        (keys, args)
    }

    pub async fn create_qr(&self, qr: &Qr) -> Result<(), StoreError> {
        self.create_qr_within(qr, None).await
    }

    pub async fn create_qr_within(&self, qr: &Qr, limit: Option<u64>) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let script = Script::new(CREATE_QR);
        let mut call = script.prepare_invoke();
        let (keys, args) = self.create_qr_call(qr, limit);
        call.key(&keys[..]).arg(&args[..]);
        let created: i64 = call.invoke_async(&mut conn).await?;
        match Created::from_reply(created) {
            Created::Stored => Ok(()),
            Created::DisplayIdTaken => Err(StoreError::DisplayIdTaken(qr.display_id.clone())),
            Created::OverLimit => Err(StoreError::CodeLimit(limit.unwrap_or_default())),
            Created::DomainNotTeams => Err(StoreError::DomainNotTeams(
                qr.domain.clone().unwrap_or_default(),
            )),
        }
    }

    /// Stores many new codes with the very script `create_qr` runs, once per code, pipelined
    /// `PIPELINE_CODES` at a time with `PIPELINES_IN_FLIGHT` pipelines on the wire: each code is
    /// created atomically and lands in the change stream, so running edges serve it at once. A code
    /// whose displayId is taken, or whose team has `limit` live codes, is skipped.
    pub async fn create_qrs_within(
        &self,
        qrs: &[Qr],
        limit: Option<u64>,
    ) -> Result<Vec<Created>, StoreError> {
        let script = Script::new(CREATE_QR);
        // Collected, so that no closure over `qrs` lives across the awaits below (axum handlers
        // need a future that is Send for any lifetime).
        let pipelines: Vec<_> = qrs
            .chunks(PIPELINE_CODES)
            .map(|chunk| {
                let mut pipe = redis::pipe();
                // Loaded first on the same connection, so no EVALSHA below can miss it (NOSCRIPT),
                // even right after a Redis restart.
                pipe.cmd("SCRIPT").arg("LOAD").arg(CREATE_QR).ignore();
                for qr in chunk {
                    let (keys, args) = self.create_qr_call(qr, limit);
                    pipe.cmd("EVALSHA")
                        .arg(script.get_hash())
                        .arg(keys.len())
                        .arg(&keys[..])
                        .arg(&args[..]);
                }
                let mut conn = self.conn.clone();
                async move { pipe.query_async::<Vec<i64>>(&mut conn).await }
            })
            .collect();
        // `buffered` sends the pipelines in order on the one multiplexed connection, and Redis runs
        // them in that order: of two codes with one displayId, the earlier one is stored.
        let replies: Vec<Vec<i64>> = futures::stream::iter(pipelines)
            .buffered(PIPELINES_IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(replies
            .into_iter()
            .flatten()
            .map(Created::from_reply)
            .collect())
    }

    /// Applies `edit` to the stored code `id`: reads it, applies the edit, and writes the result
    /// with a script that refuses when the stored version is no longer the one read; then the
    /// edit runs again on the newer code.
    pub async fn update_qr(&self, id: &str, edit: &Edit<Qr>) -> Result<Qr, StoreError> {
        until_written(|| async move {
            let old: Qr = self.qr(id).await?.ok_or(StoreError::NotFound)?;
            let Some(qr) = apply(&old, edit)? else {
                return Ok(Some(old));
            };
            Ok(self.write_qr_over(&qr, old.version).await?.then_some(qr))
        })
        .await
    }

    /// Writes `qr` over the stored code if that is still at version `read`; whether it was.
    async fn write_qr_over(&self, qr: &Qr, read: u64) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let updated: i64 = Script::new(UPDATE_QR)
            .key(self.key("display"))
            .key(self.key(&format!("qr:{}", qr.id)))
            .key(self.key("routes"))
            .key(self.key("changes"))
            .key(&self.list_keys(&qr.team_id)[..])
            .key(self.key("domains"))
            .key(self.filter_key_base(&qr.team_id))
            .key(self.text_key(&qr.team_id, &qr.id))
            .arg(&qr.id)
            .arg(qr.route_key())
            .arg(json(qr))
            .arg(route_json(qr))
            .arg(self.changes_kept)
            .arg(&list::script_args(qr)[..])
            .arg(read)
            .arg(qr.domain.clone().unwrap_or_default())
            .arg(&qr.team_id)
            .arg(&filters_of(qr)[..])
            .invoke_async(&mut conn)
            .await?;
        match updated {
            1 => Ok(true),
            -2 => Ok(false),
            0 => Err(StoreError::DisplayIdTaken(qr.display_id.clone())),
            -3 => Err(StoreError::DomainNotTeams(
                qr.domain.clone().unwrap_or_default(),
            )),
            _ => Err(StoreError::NotFound),
        }
    }

    /// Applies `edit` to the stored team `id` (NotFound: none): reads it, applies the edit, and
    /// writes the result with a script that refuses when the stored version is no longer the one
    /// read (then the edit runs again). The script claims the team's custom domains (the keys of
    /// `domain_settings`), releases the ones it no longer lists, and notes the change in the
    /// stream.
    pub async fn update_team(&self, id: &str, edit: &Edit<Team>) -> Result<Team, StoreError> {
        self.change_team(id, edit, Release::IfUnused).await
    }

    /// `update_team`, releasing domains whatever codes are on them.
    pub async fn update_team_releasing(
        &self,
        id: &str,
        edit: &Edit<Team>,
    ) -> Result<Team, StoreError> {
        self.change_team(id, edit, Release::Always).await
    }

    async fn change_team(
        &self,
        id: &str,
        edit: &Edit<Team>,
        release: Release,
    ) -> Result<Team, StoreError> {
        until_written(|| async move {
            let old = self.team(id).await?.ok_or(StoreError::NotFound)?;
            let Some(team) = apply(&old, edit)? else {
                return Ok(Some(old));
            };
            super::platform_claims::check_claims(&team)?;
            let mut conn = self.conn.clone();
            let outcome: String = Script::new(UPDATE_TEAM)
                .key(self.key(&format!("team:{}", team.id)))
                .key(self.key("changes"))
                .key(self.key("domains"))
                .key(self.key(&format!("list-created:{}", team.id)))
                .arg(&team.id)
                .arg(json(&team))
                .arg(self.changes_kept)
                .arg(old.version)
                .arg(match release {
                    Release::IfUnused => self.key("qr:"),
                    Release::Always => String::new(),
                })
                .arg(team.domain_settings.keys().collect::<Vec<_>>())
                .invoke_async(&mut conn)
                .await?;
            match outcome.as_str() {
                "ok" => Ok(Some(team)),
                "stale" => Ok(None),
                "missing" => Err(StoreError::NotFound),
                other => Err(team_refusal(other)),
            }
        })
        .await
    }

    /// Every custom domain with the team that has it.
    pub async fn custom_domains(&self) -> Result<Vec<(String, Team)>, StoreError> {
        let mut conn = self.conn.clone();
        let owners: Vec<(String, String)> = conn.hgetall(self.key("domains")).await?;
        let mut teams = std::collections::HashMap::new();
        let mut out = Vec::with_capacity(owners.len());
        for (domain, team_id) in owners {
            if !teams.contains_key(&team_id) {
                let team = self.team(&team_id).await?;
                teams.insert(team_id.clone(), team);
            }
            if let Some(team) = &teams[&team_id] {
                out.push((domain, team.clone()));
            }
        }
        Ok(out)
    }

    /// Every code of a team, deleted ones included.
    pub async fn team_qrs(&self, team_id: &str) -> Result<Vec<Qr>, StoreError> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = conn
            .smembers(self.key(&format!("team-qrs:{team_id}")))
            .await?;
        self.qrs_by_id(&ids).await
    }
}

/// What an UPDATE_TEAM reply other than "ok", "stale" or "missing" says.
fn team_refusal(reply: &str) -> StoreError {
    if let Some(in_use) = reply.strip_prefix("inuse:") {
        let (live, domain) = in_use.split_once(':').unwrap_or(("0", in_use));
        return StoreError::DomainInUse {
            domain: domain.to_owned(),
            live: live.parse().unwrap_or_default(),
        };
    }
    StoreError::DomainTaken(reply.trim_start_matches("taken:").to_owned())
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("records serialise to JSON")
}

/// The code's route without its team's colour: the edge applies that (see `edge::follow`).
fn route_json(qr: &Qr) -> String {
    RouteRecord::for_qr(qr, None)
        .map(|r| json(&r))
        .unwrap_or_default()
}

/// A record read from Redis; an error names the key (and field, for a hash), so that an operator
/// can find it.
fn decode_at<T: DeserializeOwned>(key: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|source| StoreError::CorruptRedisRecord {
        key: key.to_owned(),
        source,
    })
}

/// What a version-checked delete script's answer means: deleted (`Some(true)`), nothing there
/// (`Some(false)`), or written meanwhile (`None`: read and check again).
fn deleted(outcome: &str) -> Option<bool> {
    match outcome {
        "ok" => Some(true),
        "missing" => Some(false),
        _ => None,
    }
}
