//! Connectors: outbound credentials (Basic, Bearer, API key) stored once
//! and applied by the host to the requests of endpoints and blocks that
//! name them. Secrets are write-only: kept as [`Secret`], never returned by
//! the API (a view says only that one is set) and never printed.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::endpoint::{CustomHeaderName, FieldError};
use super::{Name, Secret};
use crate::ids::ConnectorId;

/// The longest secret or user name accepted.
pub const MAX_CREDENTIAL_LEN: usize = 4096;
/// The longest description accepted.
pub const MAX_DESCRIPTION_LEN: usize = 1024;

/// How a connector authenticates, with its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "AuthWire")]
pub enum ConnectorAuth {
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        /// The user name (no `:`).
        username: String,
        /// The password (write-only).
        #[schema(value_type = String, write_only)]
        password: Secret,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token (write-only).
        #[schema(value_type = String, write_only)]
        token: Secret,
    },
    /// `<header>: <value>`.
    ApiKey {
        /// The header carrying the key, e.g. `X-Api-Key`.
        header: CustomHeaderName,
        /// The key (write-only).
        #[schema(value_type = String, write_only)]
        value: Secret,
    },
}

/// `auth` as sent: one flat object, so a bad field's error carries its
/// path (`auth.header`), which an internally tagged enum would lose.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthWire {
    kind: AuthKind,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<Secret>,
    #[serde(default)]
    token: Option<Secret>,
    #[serde(default)]
    header: Option<CustomHeaderName>,
    #[serde(default)]
    value: Option<Secret>,
}

impl TryFrom<AuthWire> for ConnectorAuth {
    type Error = String;

    fn try_from(wire: AuthWire) -> Result<Self, String> {
        let kind = wire.kind.as_str();
        let wanted: &[&str] = match wire.kind {
            AuthKind::Basic => &["username", "password"],
            AuthKind::Bearer => &["token"],
            AuthKind::ApiKey => &["header", "value"],
        };
        let given = [
            ("username", wire.username.is_some()),
            ("password", wire.password.is_some()),
            ("token", wire.token.is_some()),
            ("header", wire.header.is_some()),
            ("value", wire.value.is_some()),
        ];
        if let Some((field, _)) = given
            .iter()
            .find(|(field, present)| *present && !wanted.contains(field))
        {
            return Err(format!("`{field}` is not a field of kind `{kind}`"));
        }
        let missing = |field: &str| format!("kind `{kind}` needs `{field}`");
        Ok(match wire.kind {
            AuthKind::Basic => ConnectorAuth::Basic {
                username: wire.username.ok_or_else(|| missing("username"))?,
                password: wire.password.ok_or_else(|| missing("password"))?,
            },
            AuthKind::Bearer => ConnectorAuth::Bearer {
                token: wire.token.ok_or_else(|| missing("token"))?,
            },
            AuthKind::ApiKey => ConnectorAuth::ApiKey {
                header: wire.header.ok_or_else(|| missing("header"))?,
                value: wire.value.ok_or_else(|| missing("value"))?,
            },
        })
    }
}

impl ConnectorAuth {
    /// The kind's name.
    pub fn kind(&self) -> AuthKind {
        match self {
            ConnectorAuth::Basic { .. } => AuthKind::Basic,
            ConnectorAuth::Bearer { .. } => AuthKind::Bearer,
            ConnectorAuth::ApiKey { .. } => AuthKind::ApiKey,
        }
    }

    /// Checks what the types alone cannot: every credential must fit in an
    /// HTTP header, and a Basic user name cannot hold `:` (RFC 7617).
    pub fn validate(&self) -> Result<(), FieldError> {
        match self {
            ConnectorAuth::Basic { username, password } => {
                check_credential("auth.username", username)?;
                if username.contains(':') {
                    return Err(FieldError::new("auth.username", "must not contain `:`"));
                }
                check_credential("auth.password", password.expose())
            }
            ConnectorAuth::Bearer { token } => {
                check_credential("auth.token", token.expose())?;
                if token.expose().contains(char::is_whitespace) {
                    return Err(FieldError::new("auth.token", "must not contain spaces"));
                }
                Ok(())
            }
            ConnectorAuth::ApiKey { value, .. } => check_credential("auth.value", value.expose()),
        }
    }
}

/// A credential is sent in a header: non-empty, bounded, visible ASCII
/// (spaces allowed), so it can neither split a request nor be mangled.
fn check_credential(field: &str, text: &str) -> Result<(), FieldError> {
    if text.is_empty() || text.len() > MAX_CREDENTIAL_LEN {
        return Err(FieldError::new(
            field,
            format!("must be 1 to {MAX_CREDENTIAL_LEN} characters"),
        ));
    }
    if !text.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return Err(FieldError::new(
            field,
            "must be printable ASCII (it is sent in a header)",
        ));
    }
    Ok(())
}

/// The kinds of connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// User name and password.
    Basic,
    /// Bearer token.
    Bearer,
    /// A key in a header.
    ApiKey,
}

impl AuthKind {
    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::Basic => "basic",
            AuthKind::Bearer => "bearer",
            AuthKind::ApiKey => "api_key",
        }
    }
}

/// A connector as stored, secrets included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connector {
    /// The tenant it belongs to.
    #[serde(default = "crate::domain::tenant::default_tenant")]
    pub tenant: crate::domain::Name,
    /// Its id.
    pub id: ConnectorId,
    /// A unique name.
    pub name: Name,
    /// Free text.
    pub description: Option<String>,
    /// How it authenticates.
    pub auth: ConnectorAuth,
    /// Epoch ms.
    pub created_at: u64,
    /// Epoch ms.
    pub updated_at: u64,
}

/// A connector's credentials as the API shows them: what kind, the parts
/// that are not secret, and that a secret is set — never the secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuthView {
    /// `basic`, `bearer` or `api_key`.
    pub kind: AuthKind,
    /// Basic: the user name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// API key: the header name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// The password, token or key is set (always true; it is never shown).
    pub secret_set: bool,
}

/// A connector as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectorView {
    /// Its id.
    pub id: ConnectorId,
    /// Its name.
    pub name: Name,
    /// Free text.
    pub description: Option<String>,
    /// The credentials, secrets withheld.
    pub auth: AuthView,
    /// Epoch ms.
    pub created_at: u64,
    /// Epoch ms.
    pub updated_at: u64,
}

impl From<&Connector> for ConnectorView {
    fn from(connector: &Connector) -> Self {
        let (username, header, secret) = match &connector.auth {
            ConnectorAuth::Basic { username, password } => (Some(username.clone()), None, password),
            ConnectorAuth::Bearer { token } => (None, None, token),
            ConnectorAuth::ApiKey { header, value } => {
                (None, Some(header.as_str().to_owned()), value)
            }
        };
        ConnectorView {
            id: connector.id,
            name: connector.name.clone(),
            description: connector.description.clone(),
            auth: AuthView {
                kind: connector.auth.kind(),
                username,
                header,
                secret_set: !secret.expose().is_empty(),
            },
            created_at: connector.created_at,
            updated_at: connector.updated_at,
        }
    }
}

/// What `POST /v1/connectors` takes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnector {
    /// A unique name (slug).
    pub name: Name,
    /// The credentials.
    pub auth: ConnectorAuth,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// What `PATCH /v1/connectors/{id}` takes: only the fields given change.
/// Secrets are write-only, so changing `auth` means giving all of it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnector {
    /// New name.
    #[serde(default)]
    pub name: Option<Name>,
    /// New credentials, whole.
    #[serde(default)]
    pub auth: Option<ConnectorAuth>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
}

/// Checks a connector's fields.
pub fn validate(description: Option<&str>, auth: &ConnectorAuth) -> Result<(), FieldError> {
    if description.is_some_and(|text| text.chars().count() > MAX_DESCRIPTION_LEN) {
        return Err(FieldError::new(
            "description",
            format!("at most {MAX_DESCRIPTION_LEN} characters"),
        ));
    }
    auth.validate()
}

impl crate::domain::tenant::Owned for Connector {
    fn tenant(&self) -> &crate::domain::Name {
        &self.tenant
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn auth(value: serde_json::Value) -> Result<ConnectorAuth, String> {
        let auth: ConnectorAuth = serde_json::from_value(value).map_err(|e| e.to_string())?;
        auth.validate().map_err(|e| e.to_string())?;
        Ok(auth)
    }

    #[test]
    fn the_three_kinds_parse_and_validate() {
        let basic = auth(json!({"kind": "basic", "username": "ops", "password": "pa ss"})).unwrap();
        assert_eq!(basic.kind(), AuthKind::Basic);
        let bearer = auth(json!({"kind": "bearer", "token": "tok-123"})).unwrap();
        assert_eq!(bearer.kind(), AuthKind::Bearer);
        let key = auth(json!({"kind": "api_key", "header": "X-Api-Key", "value": "k"})).unwrap();
        assert_eq!(key.kind(), AuthKind::ApiKey);
    }

    #[test]
    fn bad_credentials_name_the_field() {
        let cases = [
            (
                json!({"kind": "basic", "username": "a:b", "password": "p"}),
                "auth.username",
            ),
            (
                json!({"kind": "basic", "username": "a", "password": ""}),
                "auth.password",
            ),
            (
                json!({"kind": "bearer", "token": "two words"}),
                "auth.token",
            ),
            (
                json!({"kind": "api_key", "header": "X-K", "value": "a\nb"}),
                "auth.value",
            ),
        ];
        for (value, field) in cases {
            let error = auth(value).unwrap_err();
            assert!(error.starts_with(field), "{error}");
        }
        for refused in [
            json!({"kind": "api_key", "header": "bad header", "value": "k"}),
            json!({"kind": "api_key", "header": "Host", "value": "k"}),
            json!({"kind": "oauth", "token": "t"}),
            json!({"kind": "bearer", "token": "t", "extra": 1}),
            json!({"kind": "bearer", "token": "t", "password": "p"}),
            json!({"kind": "basic", "username": "u"}),
        ] {
            assert!(auth(refused.clone()).is_err(), "{refused} accepted");
        }
    }

    #[test]
    fn views_and_debug_output_never_hold_the_secret() {
        let connector = Connector {
            tenant: crate::domain::tenant::default_tenant(),
            id: ConnectorId::new(1),
            name: "crm".parse().unwrap(),
            description: None,
            auth: auth(json!({"kind": "basic", "username": "ops", "password": "hunter2-secret"}))
                .unwrap(),
            created_at: 1,
            updated_at: 1,
        };
        let view = serde_json::to_string(&ConnectorView::from(&connector)).unwrap();
        assert!(!view.contains("hunter2"), "{view}");
        assert!(view.contains(r#""secret_set":true"#), "{view}");
        assert!(view.contains(r#""username":"ops""#), "{view}");
        assert!(!format!("{connector:?}").contains("hunter2"));
    }
}
