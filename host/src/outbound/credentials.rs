//! A connector's credentials as the header they travel in. Deliveries and
//! workflow blocks both send them; neither the attempt log nor a block's
//! answer shows the value (see [`masking`](super::masking)).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::domain::connector::ConnectorAuth;

/// The credential header of a connector: its name (lower case) and value.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// `authorization`, or an API-key connector's header.
    pub name: String,
    /// The secret value, sent as is.
    pub value: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The value is a secret: never printed.
        f.debug_struct("Credential")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// The header `auth` is sent in: Basic and Bearer as `Authorization`,
    /// an API key in its own header.
    pub fn of(auth: &ConnectorAuth) -> Self {
        let (name, value) = match auth {
            ConnectorAuth::Basic { username, password } => {
                let pair = format!("{username}:{}", password.expose());
                (
                    "authorization".to_owned(),
                    format!("Basic {}", STANDARD.encode(pair)),
                )
            }
            ConnectorAuth::Bearer { token } => (
                "authorization".to_owned(),
                format!("Bearer {}", token.expose()),
            ),
            ConnectorAuth::ApiKey { header, value } => (
                header.as_str().to_ascii_lowercase(),
                value.expose().to_owned(),
            ),
        };
        Credential { name, value }
    }

    /// Whether a header named `name` is the one this credential sets.
    pub fn replaces(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Secret;

    #[test]
    fn each_kind_is_sent_in_its_header() {
        let basic = Credential::of(&ConnectorAuth::Basic {
            username: "u".into(),
            password: Secret::new("p"),
        });
        assert_eq!(basic.name, "authorization");
        assert_eq!(basic.value, format!("Basic {}", STANDARD.encode("u:p")));
        let bearer = Credential::of(&ConnectorAuth::Bearer {
            token: Secret::new("t"),
        });
        assert_eq!(bearer.value, "Bearer t");
        let key = Credential::of(&ConnectorAuth::ApiKey {
            header: "X-Api-Key".parse().unwrap(),
            value: Secret::new("hunter2"),
        });
        assert_eq!(
            (key.name.as_str(), key.value.as_str()),
            ("x-api-key", "hunter2")
        );
        assert!(key.replaces("X-API-KEY"));
        assert!(!format!("{key:?}").contains("hunter2"));
    }
}
