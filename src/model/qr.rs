//! A QR code as the management API stores and returns it (the reference document's QR object).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The twelve types of the reference document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QrType {
    Web,
    Pdf,
    Vcard,
    MultiLocale,
    AppDownload,
    LinkList,
    ShortLink,
    CouponCode,
    ImageGallery,
    SocialBio,
    VideoPreview,
    RestaurantMenu,
}

impl QrType {
    pub const ALL: [QrType; 12] = [
        QrType::Web,
        QrType::Pdf,
        QrType::Vcard,
        QrType::MultiLocale,
        QrType::AppDownload,
        QrType::LinkList,
        QrType::ShortLink,
        QrType::CouponCode,
        QrType::ImageGallery,
        QrType::SocialBio,
        QrType::VideoPreview,
        QrType::RestaurantMenu,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QrType::Web => "WEB",
            QrType::Pdf => "PDF",
            QrType::Vcard => "VCARD",
            QrType::MultiLocale => "MULTI_LOCALE",
            QrType::AppDownload => "APP_DOWNLOAD",
            QrType::LinkList => "LINK_LIST",
            QrType::ShortLink => "SHORT_LINK",
            QrType::CouponCode => "COUPON_CODE",
            QrType::ImageGallery => "IMAGE_GALLERY",
            QrType::SocialBio => "SOCIAL_BIO",
            QrType::VideoPreview => "VIDEO_PREVIEW",
            QrType::RestaurantMenu => "RESTAURANT_MENU",
        }
    }

    pub fn parse(name: &str) -> Option<QrType> {
        QrType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Types the edge answers with a plain redirect to `qrRedirectUrl`.
    pub fn is_redirect(self) -> bool {
        matches!(self, QrType::Web | QrType::ShortLink)
    }
}

/// A stored QR code. Field names and meanings follow the reference document; times are epoch ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Qr {
    pub id: String,
    pub display_id: String,
    pub name: String,
    pub qr_type: QrType,
    pub team_id: String,
    pub org_id: String,
    pub qr_redirect_url: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Typed per `qrType` (docs/qr-types.md) plus the redirect behaviour (docs/redirects.md).
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    pub tags: Vec<String>,
    pub folder_id: Option<String>,
    pub folder_ids: Vec<String>,
    pub batch_id: Option<String>,
    pub template_id: Option<String>,
    /// The custom-domain base URL the code is printed with (ends in '/'); None: the default domain.
    pub base_url: Option<String>,
    /// The custom domain whose code space holds the code (the host of `baseUrl`); None: the
    /// platform's own domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    pub deleted: bool,
    pub expiry_date: Option<i64>,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
    /// Bumped to revoke the code's public image URL, whose key is signed over it; 0 (never
    /// changed, and every code stored before it existed) is not written.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schema(ignore)]
    pub image_url_generation: u32,
    /// Counts the writes of the record (the store sets it; 0: stored before versions existed).
    #[serde(default)]
    pub version: u64,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Qr {
    /// A live WEB code with every optional field empty, as a create naming only these stores it
    /// (in team `team_id` of org `org_<team_id>`, created at time 0 by member `m`).
    pub fn web(id: &str, team_id: &str, display_id: &str, url: &str) -> Qr {
        Qr {
            version: crate::model::FIRST_VERSION,
            id: id.into(),
            display_id: display_id.into(),
            name: "Untitled".into(),
            qr_type: QrType::Web,
            team_id: team_id.into(),
            org_id: format!("org_{team_id}"),
            qr_redirect_url: Some(url.into()),
            metadata: Map::new(),
            settings: Map::new(),
            tags: Vec::new(),
            folder_id: None,
            folder_ids: Vec::new(),
            batch_id: None,
            template_id: None,
            base_url: None,
            domain: None,
            deleted: false,
            expiry_date: None,
            created_at: 0,
            created_by: "m".into(),
            updated_at: 0,
            updated_by: "m".into(),
            image_url_generation: 0,
        }
    }

    /// The key of its route: unique among live and deleted codes.
    pub fn route_key(&self) -> String {
        super::route::route_key(self.domain.as_deref(), &self.display_id)
    }

    /// The URL the printed code encodes: its base URL (or the edge's) followed by the displayId.
    pub fn short_url(&self, default_base: &str) -> String {
        format!(
            "{}{}",
            self.base_url.as_deref().unwrap_or(default_base),
            self.display_id
        )
    }
}
