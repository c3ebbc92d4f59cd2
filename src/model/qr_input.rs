//! From a create or update request to a valid stored code. Pure: no I/O, unit-tested here.
//! Shared by the API and `qredge import`, so that a code is validated the same way whichever
//! way it comes in.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::model::redirect::{split_settings, Behaviour};
use crate::model::template::builtin_template;
use crate::model::{text, validate};
use crate::model::{DomainName, Qr, QrType, Team};

const MAX_NAME_LEN: usize = 256;
const MAX_TAGS: usize = 50;
const MAX_TAG_LEN: usize = 64;

/// The body of `POST /api/qrs-api` and `PUT /api/qrs-api/{id}` (reference field names). A field
/// it does not name is refused, as an unknown key of `settings` is: a misspelt field is an error,
/// not a silent no-op.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QrInput {
    /// One line, no control or direction characters; empty becomes "Untitled".
    #[schema(max_length = 256)]
    pub name: Option<String>,
    /// Required on create; an unknown type is refused (400) naming the twelve.
    #[schema(value_type = Option<crate::model::QrType>)]
    pub qr_type: Option<String>,
    /// Unique per domain; generated (7 characters) when absent. The reference's pattern; a '%'
    /// begins an escape like `%20`; not starting with '.', not a reserved path (`healthz`,
    /// `metrics`, `robots.txt`…: docs/api.md).
    #[schema(min_length = 1, max_length = 128, pattern = r"^[a-zA-Z0-9\-_.~%]+$")]
    pub display_id: Option<String>,
    /// An absolute http(s) URL; required for WEB and SHORT_LINK.
    #[schema(max_length = 8192)]
    pub qr_redirect_url: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Map<String, Value>>,
    /// At most 50, each one line of 1 to 64 characters.
    #[schema(max_items = 50)]
    pub tags: Option<Vec<String>>,
    /// Refused unless null or "": folders are not supported.
    pub folder_id: Option<String>,
    /// Refused unless null or []: folders are not supported.
    pub folder_ids: Option<Vec<String>>,
    /// `null` on an update removes the code's template (it is drawn with `classic` again).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub template_id: Option<Option<String>>,
    /// A domain's root, `https://host/` (no path): the platform's host or one of the team's
    /// custom domains.
    #[schema(max_length = 300, pattern = "^https?://[^/?#]+/$")]
    pub base_url: Option<String>,
    /// Epoch milliseconds; `null` on an update removes the code's expiry.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub expiry_date: Option<Option<i64>>,
}

/// A field that is present, `null` or not: absent stays `None` (through `serde(default)`), so an
/// update tells "keep" (absent) from "remove" (`Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Who is writing, where, and when.
pub struct WriteContext<'a> {
    pub team: &'a Team,
    pub member_id: &'a str,
    pub now: i64,
    /// The host of the edge's own public URL (normalised, see `DomainName`): codes printed with
    /// it live in the platform's code space, codes printed with one of the team's custom domains
    /// in that domain's.
    pub platform_host: &'a str,
    /// The ids of the team's own design templates: a code may name one of them or a built-in.
    pub templates: &'a [String],
}

/// A code names a template its team may use (checked when a write names one: a code whose
/// template was deleted since keeps its id and is drawn with the default).
fn check_template(id: &str, ctx: &WriteContext) -> Result<(), String> {
    if builtin_template(id).is_some() || ctx.templates.iter().any(|t| t == id) {
        Ok(())
    } else {
        Err(format!(
            "templateId {id:?} is not a template of this team (GET /api/qr-templates-api lists them)"
        ))
    }
}

/// Folders are not supported (the reference marks them "coming soon"): a write that puts a code
/// in one is refused rather than the folder silently dropped. null, "" and [] name none.
pub fn refuse_folders(
    folder_id: Option<&str>,
    folder_ids: Option<&[String]>,
) -> Result<(), String> {
    let named =
        folder_id.is_some_and(|f| !f.is_empty()) || folder_ids.is_some_and(|f| !f.is_empty());
    if named {
        return Err(
            "folderId/folderIds: folders are not supported (the reference marks them \
                    coming soon); leave both out"
                .into(),
        );
    }
    Ok(())
}

fn parse_type(name: &str) -> Result<QrType, String> {
    QrType::parse(name).ok_or_else(|| {
        let all: Vec<_> = QrType::ALL.iter().map(|t| t.as_str()).collect();
        format!(
            "unknown qrType {name:?}; expected one of {}",
            all.join(", ")
        )
    })
}

/// A new code from a create request; `display_id` is used when the request names none.
pub fn new_qr(
    input: QrInput,
    id: String,
    generated_display_id: String,
    ctx: &WriteContext,
) -> Result<Qr, String> {
    refuse_folders(input.folder_id.as_deref(), input.folder_ids.as_deref())?;
    let qr_type = parse_type(input.qr_type.as_deref().ok_or("qrType is required")?)?;
    if let Some(Some(id)) = &input.template_id {
        check_template(id, ctx)?;
    }
    let qr = Qr {
        version: crate::model::FIRST_VERSION,
        id,
        display_id: input.display_id.unwrap_or(generated_display_id),
        name: input.name.unwrap_or_else(|| "Untitled".into()),
        qr_type,
        team_id: ctx.team.id.clone(),
        org_id: ctx.team.org_id.clone(),
        qr_redirect_url: input.qr_redirect_url,
        metadata: input.metadata.unwrap_or_default(),
        settings: input.settings.unwrap_or_default(),
        tags: input.tags.unwrap_or_default(),
        folder_id: None,
        folder_ids: Vec::new(),
        batch_id: None,
        template_id: input.template_id.flatten(),
        base_url: input.base_url,
        deleted: false,
        expiry_date: input.expiry_date.flatten(),
        created_at: ctx.now,
        created_by: ctx.member_id.to_owned(),
        updated_at: ctx.now,
        updated_by: ctx.member_id.to_owned(),
        domain: None,
        image_url_generation: 0,
    };
    let mut qr = qr;
    // A team whose default domain is one of its custom domains prints new codes with it.
    let default = &ctx.team.default_domain;
    if qr.base_url.is_none() && ctx.team.domain_settings.contains_key(default) {
        qr.base_url = Some(format!("https://{default}/"));
    }
    validated(qr, None, None, ctx)
}

/// An existing code with the fields the request names replaced.
pub fn updated_qr(existing: &Qr, input: QrInput, ctx: &WriteContext) -> Result<Qr, String> {
    refuse_folders(input.folder_id.as_deref(), input.folder_ids.as_deref())?;
    let mut qr = existing.clone();
    if let Some(Some(id)) = &input.template_id {
        check_template(id, ctx)?;
    }
    if let Some(name) = input.qr_type {
        qr.qr_type = parse_type(&name)?;
    }
    macro_rules! replace {
        ($($field:ident),*) => {$(
            if let Some(value) = input.$field {
                qr.$field = value;
            }
        )*};
    }
    replace!(name, display_id, metadata, settings, tags);
    // Only "" and [] get here: they clear the folders an earlier version stored.
    if input.folder_id.is_some() {
        qr.folder_id = None;
    }
    if input.folder_ids.is_some() {
        qr.folder_ids.clear();
    }
    macro_rules! replace_optional {
        ($($field:ident),*) => {$(
            if input.$field.is_some() {
                qr.$field = input.$field;
            }
        )*};
    }
    replace_optional!(qr_redirect_url, base_url);
    // These two may also be removed: a `null` (Some(None)) clears them.
    replace!(template_id, expiry_date);
    qr.updated_at = ctx.now;
    qr.updated_by = ctx.member_id.to_owned();
    validated(
        qr,
        password_hash_of(existing),
        Some(&existing.display_id),
        ctx,
    )
}

/// A copy of `existing` under a new id and displayId (on the same domain), created now by the
/// caller: same name, type, target, settings (a password included) and tags; no import batch and
/// no folder (one an earlier version stored is not carried on).
pub fn duplicated_qr(
    existing: &Qr,
    id: String,
    display_id: String,
    ctx: &WriteContext,
) -> Result<Qr, String> {
    let qr = Qr {
        id,
        display_id,
        batch_id: None,
        folder_id: None,
        folder_ids: Vec::new(),
        deleted: false,
        created_at: ctx.now,
        created_by: ctx.member_id.to_owned(),
        updated_at: ctx.now,
        updated_by: ctx.member_id.to_owned(),
        version: crate::model::FIRST_VERSION,
        ..existing.clone()
    };
    validated(qr, password_hash_of(existing), None, ctx)
}

/// The stored password hash of a code, which a write that does not name a new password keeps.
fn password_hash_of(qr: &Qr) -> Option<String> {
    Behaviour::read(&qr.settings)
        .ok()
        .and_then(|b| b.password_hash)
}

/// `qr` checked and normalised as every write stores it. `kept_display_id` is the displayId the
/// code had: kept as it is, it is not checked again (the rules may have grown since it was
/// chosen, and a printed code keeps its URL).
fn validated(
    mut qr: Qr,
    previous_hash: Option<String>,
    kept_display_id: Option<&str>,
    ctx: &WriteContext,
) -> Result<Qr, String> {
    if kept_display_id != Some(qr.display_id.as_str()) {
        validate::display_id(&qr.display_id)?;
    }
    qr.name = text::line("name", &qr.name, MAX_NAME_LEN)?;
    if qr.name.is_empty() {
        qr.name = "Untitled".into();
    }
    if qr.tags.len() > MAX_TAGS {
        return Err(format!("at most {MAX_TAGS} tags"));
    }
    for tag in &mut qr.tags {
        let length = tag.trim().chars().count();
        if length == 0 || length > MAX_TAG_LEN {
            return Err(format!("tag {tag:?} must be 1 to {MAX_TAG_LEN} characters"));
        }
        *tag = text::line("tag", tag, MAX_TAG_LEN)?;
    }
    if let Some(at) = qr.expiry_date {
        if at < 0 {
            return Err("expiryDate must be epoch milliseconds".into());
        }
    }
    qr.domain = None;
    if let Some(base_url) = &qr.base_url {
        let (url, host) = validate::base_url(base_url)?;
        qr.domain = code_space(&host, ctx)?;
        qr.base_url = Some(url.into());
    }
    let (behaviour, content) = split_settings(&qr.settings);
    let behaviour = Behaviour::read(&behaviour)?.validated(previous_hash, random_salt())?;
    // The type's own settings (docs/qr-types.md); the edge renders them again the same way.
    crate::hosted::parse(qr.qr_type, &content)?;
    behaviour.store_into(&mut qr.settings);
    if let (false, Some(url)) = (qr.qr_type.is_redirect(), &qr.qr_redirect_url) {
        // Not what scans get, but shown in lists and kept: still only http(s).
        qr.qr_redirect_url = Some(validate::redirect_url("qrRedirectUrl", url)?);
    }
    if qr.qr_type.is_redirect() {
        let url = qr.qr_redirect_url.as_deref().ok_or_else(|| {
            format!(
                "qrRedirectUrl is required for qrType {}",
                qr.qr_type.as_str()
            )
        })?;
        qr.qr_redirect_url = Some(validate::redirect_url("qrRedirectUrl", url)?);
    }
    // Edges compile the stored code again; one they could not serve is refused here, not there.
    crate::edge::route::Route::check(&qr, ctx.team.primary_color.as_deref())?;
    Ok(qr)
}

/// The custom domain whose code space a code printed with `host` lives in; None: the platform's.
/// Refused when `host` is neither the platform's nor one the team lists.
fn code_space(host: &DomainName, ctx: &WriteContext) -> Result<Option<String>, String> {
    let team = ctx.team;
    if team.domain_settings.contains_key(host.as_str()) {
        return Ok(Some(host.as_str().to_owned()));
    }
    // The platform's host, which a team may list among its domains (with its port).
    let listed = team
        .domains
        .iter()
        .any(|d| DomainName::parse(d).is_ok_and(|d| d == *host));
    if listed || host.as_str() == ctx.platform_host {
        return Ok(None);
    }
    Err(format!(
        "baseUrl domain {:?} is not configured for this team (domains: {})",
        host.as_str(),
        team.domains.join(", ")
    ))
}

fn random_salt() -> [u8; 16] {
    let mut salt = [0; 16];
    getrandom::fill(&mut salt).expect("the operating system's random generator failed");
    salt
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team() -> Team {
        Team {
            version: crate::model::FIRST_VERSION,
            id: "team_1".into(),
            org_id: "org_1".into(),
            name: "t".into(),
            default_domain: "localhost:8080".into(),
            domains: vec!["localhost:8080".into(), "qr.acme.example".into()],
            time_zone: "UTC".into(),
            primary_color: None,
            domain_settings: [("qr.acme.example".to_string(), Default::default())].into(),
            created_at: 0,
            created_by: "m".into(),
            updated_at: 0,
            updated_by: "m".into(),
        }
    }

    fn input(json: &str) -> QrInput {
        serde_json::from_str(json).unwrap()
    }

    /// A write by `member_id` at `now` in `team` (on the platform host "localhost").
    fn context<'a>(
        team: &'a Team,
        member_id: &'a str,
        now: i64,
        templates: &'a [String],
    ) -> WriteContext<'a> {
        WriteContext {
            team,
            member_id,
            now,
            platform_host: "localhost",
            templates,
        }
    }

    fn create(json: &str) -> Result<Qr, String> {
        let team = team();
        let ctx = context(&team, "mem_1", 42, &[]);
        new_qr(input(json), "qr_1".into(), "gen1234".into(), &ctx)
    }

    #[test]
    fn the_reference_example_creates_a_web_code() {
        let qr = create(
            r#"{"name": "Product Launch Landing Page", "qrType": "WEB",
                "displayId": "product-launch-2024",
                "qrRedirectUrl": "https://acmecorp.com/product-launch"}"#,
        )
        .unwrap();
        assert_eq!(qr.display_id, "product-launch-2024");
        assert_eq!(qr.team_id, "team_1");
        assert_eq!(qr.org_id, "org_1");
        assert_eq!((qr.created_at, qr.created_by.as_str()), (42, "mem_1"));
        assert!(!qr.deleted);
    }

    #[test]
    fn defaults_fill_what_the_request_leaves_out() {
        let qr =
            create(r#"{"qrType": "SHORT_LINK", "qrRedirectUrl": "https://a.example"}"#).unwrap();
        assert_eq!(qr.name, "Untitled");
        assert_eq!(qr.display_id, "gen1234");
        assert_eq!(qr.qr_redirect_url.as_deref(), Some("https://a.example/"));
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let cases = [
            (
                r#"{"qrRedirectUrl": "https://a.example"}"#,
                "qrType is required",
            ),
            (
                r#"{"qrType": "WEBSITE", "qrRedirectUrl": "https://a.example"}"#,
                "unknown qrType",
            ),
            (r#"{"qrType": "PDF"}"#, "pdfUrl"),
            (r#"{"qrType": "WEB"}"#, "qrRedirectUrl is required"),
            (
                r#"{"qrType": "WEB", "qrRedirectUrl": "javascript:alert(1)"}"#,
                "http or https",
            ),
            (
                r#"{"qrType": "WEB", "qrRedirectUrl": "/relative"}"#,
                "absolute",
            ),
            (
                r#"{"qrType": "WEB", "qrRedirectUrl": "https://a.example", "displayId": "a b"}"#,
                "displayId",
            ),
            (
                r#"{"qrType": "WEB", "qrRedirectUrl": "https://a.example", "baseUrl": "https://evil.example/"}"#,
                "not configured for this team",
            ),
        ];
        for (body, expected) in cases {
            let err = create(body).unwrap_err();
            assert!(err.contains(expected), "{body}: {err}");
        }
    }

    #[test]
    fn a_code_names_a_built_in_or_one_of_its_teams_templates() {
        let team = team();
        let own = ["tpl_own".to_string()];
        let ctx = context(&team, "mem_1", 42, &own);
        let make = |json: &str| new_qr(input(json), "qr_1".into(), "gen1234".into(), &ctx);
        for id in ["classic", "forest", "tpl_own"] {
            let qr = make(&format!(
                r#"{{"qrType": "WEB", "qrRedirectUrl": "https://a.example", "templateId": "{id}"}}"#
            ))
            .unwrap();
            assert_eq!(qr.template_id.as_deref(), Some(id));
        }
        let err = make(
            r#"{"qrType": "WEB", "qrRedirectUrl": "https://a.example", "templateId": "tpl_other"}"#,
        )
        .unwrap_err();
        assert!(
            err.contains("templateId \"tpl_other\" is not a template of this team"),
            "{err}"
        );
        // A code whose template was deleted since is still updated; naming it again is refused.
        let mut qr = make(r#"{"qrType": "WEB", "qrRedirectUrl": "https://a.example"}"#).unwrap();
        qr.template_id = Some("tpl_gone".into());
        assert!(updated_qr(&qr, input(r#"{"name": "b"}"#), &ctx).is_ok());
        assert!(updated_qr(&qr, input(r#"{"templateId": "tpl_gone"}"#), &ctx).is_err());
    }

    #[test]
    fn an_update_keeps_an_absent_expiry_and_template_and_removes_a_null_one() {
        let team = team();
        let ctx = context(&team, "mem_1", 42, &[]);
        let qr = create(
            r#"{"qrType": "WEB", "qrRedirectUrl": "https://a.example", "templateId": "navy",
                "expiryDate": 1000}"#,
        )
        .unwrap();
        let kept = updated_qr(&qr, input(r#"{"name": "b"}"#), &ctx).unwrap();
        assert_eq!(
            (kept.template_id.as_deref(), kept.expiry_date),
            (Some("navy"), Some(1000))
        );
        let removed = input(r#"{"templateId": null, "expiryDate": null}"#);
        let removed = updated_qr(&qr, removed, &ctx).unwrap();
        assert_eq!((removed.template_id, removed.expiry_date), (None, None));
        let null_on_create = r#"{"qrType": "WEB", "qrRedirectUrl": "https://a.example",
                                "templateId": null, "expiryDate": null}"#;
        assert_eq!(create(null_on_create).unwrap().expiry_date, None);
    }

    #[test]
    fn a_configured_custom_domain_is_accepted() {
        let qr = create(
            r#"{"qrType": "WEB", "qrRedirectUrl": "https://a.example", "baseUrl": "https://qr.acme.example/"}"#,
        )
        .unwrap();
        assert_eq!(
            qr.short_url("http://localhost:8080/"),
            format!("https://qr.acme.example/{}", qr.display_id)
        );
        assert_eq!(
            qr.domain.as_deref(),
            Some("qr.acme.example"),
            "its own code space"
        );
        assert_eq!(qr.route_key(), format!("qr.acme.example/{}", qr.display_id));
        let on_platform =
            create(r#"{"qrType": "WEB", "qrRedirectUrl": "https://a.example", "baseUrl": "http://localhost:8080/"}"#)
                .unwrap();
        assert_eq!(on_platform.domain, None);
    }

    #[test]
    fn updates_replace_only_the_named_fields() {
        let team = team();
        let ctx = context(&team, "mem_2", 99, &[]);
        let qr = create(r#"{"name": "a", "qrType": "WEB", "qrRedirectUrl": "https://a.example", "tags": ["x"]}"#)
            .unwrap();
        let updated = updated_qr(
            &qr,
            input(r#"{"qrRedirectUrl": "https://b.example/new"}"#),
            &ctx,
        )
        .unwrap();
        assert_eq!(
            updated.qr_redirect_url.as_deref(),
            Some("https://b.example/new")
        );
        assert_eq!(
            (updated.name.as_str(), updated.tags.clone()),
            ("a", vec!["x".to_string()])
        );
        assert_eq!((updated.created_at, updated.updated_at), (42, 99));
        assert_eq!(updated.updated_by, "mem_2");
        assert!(updated_qr(&qr, input(r#"{"qrRedirectUrl": "data:text/html,x"}"#), &ctx).is_err());
    }

    #[test]
    fn a_display_id_an_older_version_stored_is_kept_but_not_chosen_again() {
        let team = team();
        let ctx = context(&team, "mem_2", 99, &[]);
        let mut qr = create(r#"{"qrType": "WEB", "qrRedirectUrl": "https://a.example"}"#).unwrap();
        qr.display_id = ".well-known".into();
        let renamed = updated_qr(&qr, input(r#"{"name": "kept"}"#), &ctx).unwrap();
        assert_eq!(renamed.display_id, ".well-known");
        let same = input(r#"{"displayId": ".well-known"}"#);
        assert!(updated_qr(&qr, same, &ctx).is_ok());
        let err = updated_qr(&qr, input(r#"{"displayId": "metrics"}"#), &ctx).unwrap_err();
        assert!(err.contains("reserved"), "{err}");
        let err = duplicated_qr(&qr, "qr_2".into(), ".env".into(), &ctx).unwrap_err();
        assert!(err.contains("cannot start with '.'"), "{err}");
    }

    #[test]
    fn a_base_url_is_a_domains_root_in_its_one_form() {
        let qr = create(
            r#"{"qrType": "WEB", "qrRedirectUrl": "https://a.example", "baseUrl": "HTTPS://QR.Acme.Example.:8443"}"#,
        )
        .unwrap();
        assert_eq!(
            qr.base_url.as_deref(),
            Some("https://qr.acme.example:8443/")
        );
        assert_eq!(qr.domain.as_deref(), Some("qr.acme.example"));
        let err = create(
            r#"{"qrType": "WEB", "qrRedirectUrl": "https://a.example", "baseUrl": "https://qr.acme.example/qr/"}"#,
        )
        .unwrap_err();
        assert!(err.contains("baseUrl must be a domain's root"), "{err}");
    }

    #[test]
    fn unknown_fields_are_refused_by_name_and_folders_are_known() {
        let err = serde_json::from_str::<QrInput>(r#"{"qrType": "WEB", "colour": 1}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");
        assert!(serde_json::from_str::<QrInput>(r#"{"folderId": null, "folderIds": []}"#).is_ok());
    }

    #[test]
    fn a_duplicate_is_a_new_code_with_the_same_content_and_password() {
        let team = team();
        let ctx = context(&team, "mem_2", 99, &[]);
        let mut qr = create(
            r#"{"name": "a", "qrType": "WEB", "qrRedirectUrl": "https://a.example",
                "tags": ["x"], "settings": {"password": "s3cret"}}"#,
        )
        .unwrap();
        qr.batch_id = Some("batch_1".into());
        let copy = duplicated_qr(&qr, "qr_copy".into(), "copy1".into(), &ctx).unwrap();
        assert_eq!(
            (copy.id.as_str(), copy.display_id.as_str()),
            ("qr_copy", "copy1")
        );
        assert_eq!(
            (copy.name.as_str(), &copy.tags, &copy.qr_redirect_url),
            (qr.name.as_str(), &qr.tags, &qr.qr_redirect_url)
        );
        assert_eq!(copy.settings["passwordHash"], qr.settings["passwordHash"]);
        assert_eq!((copy.created_at, copy.created_by.as_str()), (99, "mem_2"));
        assert_eq!(copy.batch_id, None);
    }

    #[test]
    fn a_folder_is_refused_and_empty_ones_clear_what_was_stored() {
        let err =
            create(r#"{"qrType": "WEB", "qrRedirectUrl": "https://a.example", "folderId": "f"}"#)
                .unwrap_err();
        assert!(err.contains("folders are not supported"), "{err}");
        let mut qr = create(
            r#"{"qrType": "WEB", "qrRedirectUrl": "https://a.example", "folderId": "", "folderIds": []}"#,
        )
        .unwrap();
        assert_eq!((qr.folder_id.as_deref(), qr.folder_ids.len()), (None, 0));
        // A code an earlier version stored in a folder.
        (qr.folder_id, qr.folder_ids) = (Some("f".into()), vec!["f".into()]);
        let team = team();
        let ctx = context(&team, "mem_1", 43, &[]);
        assert!(updated_qr(&qr, input(r#"{"folderIds": ["g"]}"#), &ctx).is_err());
        let kept = updated_qr(&qr, input(r#"{"name": "b"}"#), &ctx).unwrap();
        assert_eq!(kept.folder_id.as_deref(), Some("f"));
        let cleared = updated_qr(&qr, input(r#"{"folderId": "", "folderIds": []}"#), &ctx).unwrap();
        assert_eq!(
            (cleared.folder_id.as_deref(), cleared.folder_ids.len()),
            (None, 0)
        );
        let copy = duplicated_qr(&qr, "qr_2".into(), "copy".into(), &ctx).unwrap();
        assert_eq!(
            (copy.folder_id.as_deref(), copy.folder_ids.len()),
            (None, 0)
        );
    }
}
