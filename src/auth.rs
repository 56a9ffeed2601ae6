//! Bearer JWT authentication and the role and unit checks, in one place.
//!
//! Exactly one algorithm is accepted (HS256 with a secret, or RS256/EdDSA with the identity
//! provider's public key); `exp`, `iss`, `aud` and `sub` are required. Reading the catalogue
//! needs no token; every write names the roles allowed.

use std::future::{Ready, ready};
use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::{DEV_JWT_SECRET, Environment, JwtAlgorithm, JwtSettings};
use crate::domain::codes::{UnitCode, UnitLevel};
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Editor,
    Officer,
    Auditor,
}

/// A caller's token does not allow what it asked: a 403 at the edge, whatever layer finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied(pub String);

impl From<Denied> for ApiError {
    fn from(d: Denied) -> Self {
        ApiError::Forbidden(d.0)
    }
}

impl Role {
    /// The role with its article, for messages: "an admin", "an officer", "an auditor", "an
    /// editor".
    pub fn with_article(self) -> &'static str {
        match self {
            Role::Admin => "an admin",
            Role::Editor => "an editor",
            Role::Officer => "an officer",
            Role::Auditor => "an auditor",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Officer => "officer",
            Role::Auditor => "auditor",
        }
    }
}

/// The claims of a niemyet token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub iss: String,
    /// One audience, or several (RFC 7519 allows both).
    pub aud: Audience,
    pub exp: u64,
    #[serde(default)]
    pub iat: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Keys and validation rules, built once at start.
pub struct JwtKeys {
    algorithm: Algorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
}

impl JwtKeys {
    /// Loads the configured key. In production, refuses the development secret, a short secret,
    /// or a missing public key.
    pub fn from_settings(settings: &JwtSettings, environment: Environment) -> anyhow::Result<Self> {
        let read =
            |path: &Option<std::path::PathBuf>, what: &str| -> anyhow::Result<Option<Vec<u8>>> {
                match path {
                    None => Ok(None),
                    Some(p) => std::fs::read(p).map(Some).map_err(|e| {
                        anyhow::anyhow!("cannot read the JWT {what} key file {}: {e}", p.display())
                    }),
                }
            };
        let (algorithm, decoding, encoding) = match settings.algorithm {
            JwtAlgorithm::Hs256 => {
                let secret = settings.secret.expose();
                if environment == Environment::Production {
                    anyhow::ensure!(
                        secret != DEV_JWT_SECRET,
                        "NIEMYET_JWT_SECRET is the built-in development secret; production needs its own"
                    );
                    anyhow::ensure!(
                        secret.len() >= 32,
                        "NIEMYET_JWT_SECRET must be at least 32 bytes in production"
                    );
                }
                (
                    Algorithm::HS256,
                    DecodingKey::from_secret(secret.as_bytes()),
                    Some(EncodingKey::from_secret(secret.as_bytes())),
                )
            }
            JwtAlgorithm::Rs256 | JwtAlgorithm::EdDsa => {
                let public = read(&settings.public_key_file, "public")?.ok_or_else(|| {
                    anyhow::anyhow!("NIEMYET_JWT_PUBLIC_KEY_FILE is required with RS256 or EdDSA")
                })?;
                let private = read(&settings.private_key_file, "private")?;
                if settings.algorithm == JwtAlgorithm::Rs256 {
                    let encoding = private.map(|p| EncodingKey::from_rsa_pem(&p)).transpose()?;
                    (
                        Algorithm::RS256,
                        DecodingKey::from_rsa_pem(&public)?,
                        encoding,
                    )
                } else {
                    let encoding = private.map(|p| EncodingKey::from_ed_pem(&p)).transpose()?;
                    (
                        Algorithm::EdDSA,
                        DecodingKey::from_ed_pem(&public)?,
                        encoding,
                    )
                }
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // `exp` and `nbf` both with 30 s of leeway for clocks a little apart.
        validation.leeway = 30;
        validation.validate_nbf = true;
        Ok(Self {
            algorithm,
            decoding,
            encoding,
            validation,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
        })
    }

    /// Signs a token (the `token` command; tests).
    pub fn mint(
        &self,
        sub: &str,
        role: Role,
        unit: Option<&str>,
        ttl_secs: u64,
    ) -> anyhow::Result<String> {
        let key = self.encoding.as_ref().ok_or_else(|| {
            anyhow::anyhow!("minting needs NIEMYET_JWT_PRIVATE_KEY_FILE with RS256 or EdDSA")
        })?;
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: sub.to_owned(),
            role,
            unit: unit.map(str::to_owned),
            iss: self.issuer.clone(),
            aud: Audience::One(self.audience.clone()),
            exp: now + ttl_secs,
            iat: now,
        };
        check_unit(&claims).map_err(|e| anyhow::anyhow!(e))?;
        Ok(jsonwebtoken::encode(
            &Header::new(self.algorithm),
            &claims,
            key,
        )?)
    }

    pub fn verify(&self, token: &str) -> Result<Identity, ApiError> {
        // No header extension is understood here, so a token that marks one critical is refused
        // (RFC 7515 §4.1.11), whatever its signature.
        let header = jsonwebtoken::decode_header(token).map_err(|e| {
            ApiError::Unauthorized(format!("invalid token: {}", describe_jwt_error(&e)))
        })?;
        if let Some(crit) = header.crit {
            return Err(ApiError::Unauthorized(format!(
                "invalid token: critical header extension{} not understood: {}",
                if crit.len() == 1 { "" } else { "s" },
                crit.join(", ")
            )));
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                ApiError::Unauthorized(format!("invalid token: {}", describe_jwt_error(&e)))
            })?;
        let claims = data.claims;
        if claims.sub.trim().is_empty() {
            return Err(ApiError::Unauthorized("invalid token: empty `sub`".into()));
        }
        let unit = check_unit(&claims)
            .map_err(|e| ApiError::Unauthorized(format!("invalid token: {e}")))?;
        Ok(Identity {
            sub: claims.sub,
            role: claims.role,
            unit,
        })
    }
}

fn describe_jwt_error(e: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::InvalidAlgorithm => "algorithm not accepted",
        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
        ErrorKind::ImmatureSignature => "not yet valid",
        _ => "malformed",
    }
}

/// The unit claim must fit the role: an officer names a commune, an auditor a province or
/// nothing (national scope); admins and editors carry none.
fn check_unit(claims: &Claims) -> Result<Option<UnitCode>, String> {
    let unit = claims
        .unit
        .as_deref()
        .map(UnitCode::parse)
        .transpose()
        .map_err(|e| e.0)?;
    match (claims.role, unit.as_ref().map(UnitCode::level)) {
        (Role::Officer, Some(UnitLevel::Commune)) => Ok(unit),
        (Role::Officer, _) => Err("an officer's `unit` must be a commune code".into()),
        (Role::Auditor, None | Some(UnitLevel::Province)) => Ok(unit),
        (Role::Auditor, _) => Err("an auditor's `unit` must be a province code or absent".into()),
        (Role::Admin | Role::Editor, None) => Ok(None),
        (Role::Admin | Role::Editor, Some(_)) => {
            Err("admin and editor tokens carry no `unit`".into())
        }
    }
}

/// The authenticated caller. Extracting it from a request without a valid token answers 401.
#[derive(Debug, Clone)]
pub struct Identity {
    pub sub: String,
    pub role: Role,
    pub unit: Option<UnitCode>,
}

impl Identity {
    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), Denied> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(Denied(format!(
                "this needs the role {}; the token has `{}`",
                allowed.join(" or "),
                self.role.as_str()
            )))
        }
    }

    fn unit_is(&self, code: &str) -> bool {
        self.unit.as_ref().is_some_and(|u| u.as_str() == code)
    }

    /// Reading a commune's postings and report: its officer, an auditor of its province or of
    /// the country, an admin.
    pub fn require_commune_read(&self, commune: &str, province: &str) -> Result<(), Denied> {
        let allowed = match self.role {
            Role::Admin => true,
            Role::Officer => self.unit_is(commune),
            Role::Auditor => self.unit.is_none() || self.unit_is(province),
            Role::Editor => false,
        };
        self.allowed(allowed, &format!("commune {commune}"))
    }

    /// Writing a commune's postings: its officer or an admin.
    pub fn require_commune_write(&self, commune: &str) -> Result<(), Denied> {
        let allowed = match self.role {
            Role::Admin => true,
            Role::Officer => self.unit_is(commune),
            Role::Auditor | Role::Editor => false,
        };
        self.allowed(allowed, &format!("the postings of commune {commune}"))
    }

    /// Reading a province's report: an auditor of that province or of the country, an admin.
    pub fn require_province_read(&self, province: &str) -> Result<(), Denied> {
        let allowed = match self.role {
            Role::Admin => true,
            Role::Auditor => self.unit.is_none() || self.unit_is(province),
            Role::Officer | Role::Editor => false,
        };
        self.allowed(allowed, &format!("province {province}"))
    }

    /// Reading across the country: a national auditor or an admin.
    pub fn require_national_read(&self) -> Result<(), Denied> {
        let allowed =
            matches!(self.role, Role::Admin) || (self.role == Role::Auditor && self.unit.is_none());
        self.allowed(allowed, "the whole country")
    }

    fn allowed(&self, allowed: bool, what: &str) -> Result<(), Denied> {
        if allowed {
            Ok(())
        } else {
            let unit = self
                .unit
                .as_ref()
                .map(|u| format!(" of unit {u}"))
                .unwrap_or_default();
            Err(Denied(format!(
                "a token for {}{unit} has no access to {what}",
                self.role.with_article()
            )))
        }
    }

    /// The system actor, for start-up seeding and CLI imports.
    pub fn system() -> Self {
        Identity {
            sub: "system".into(),
            role: Role::Admin,
            unit: None,
        }
    }
}

impl FromRequest for Identity {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(identify(req))
    }
}

/// Who may call an operation. Checked by [`Caller`] while the request is extracted, before its
/// query and body are read: a caller without the role or the scope gets 403 whatever it sends.
pub trait Gate {
    /// The check the token alone decides.
    fn check(identity: &Identity, req: &HttpRequest) -> Result<(), Denied>;

    /// The commune whose province the caller must also be in, when the token alone cannot
    /// tell (a provincial auditor reading a commune). The extractor reads the province from the
    /// reference data in memory; a commune not known there is left to the handler, which checks
    /// the scope again on what it reads from the database (and answers 404 for an unknown one).
    fn commune_scope(_identity: &Identity, _req: &HttpRequest) -> Option<String> {
        None
    }
}

/// The caller of an operation behind the gate `G`. A handler takes it as its first extractor.
pub struct Caller<G> {
    identity: Identity,
    gate: PhantomData<G>,
}

impl<G> From<Caller<G>> for Identity {
    fn from(caller: Caller<G>) -> Identity {
        caller.identity
    }
}

impl<G> std::ops::Deref for Caller<G> {
    type Target = Identity;

    fn deref(&self) -> &Identity {
        &self.identity
    }
}

impl<G: Gate> FromRequest for Caller<G> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(identify(req).and_then(|identity| {
            G::check(&identity, req)?;
            let cache = req.app_data::<web::Data<crate::cache::ReportCache>>();
            if let Some(commune) = G::commune_scope(&identity, req)
                && let Some(province) = cache.and_then(|c| c.province_of(&commune))
            {
                identity.require_commune_read(&commune, &province)?;
            }
            Ok(Caller {
                identity,
                gate: PhantomData,
            })
        }))
    }
}

/// The `code` of the request's path (a commune or a province).
fn path_code(req: &HttpRequest) -> &str {
    req.match_info().get("code").unwrap_or_default()
}

macro_rules! role_gates {
    ($($(#[$doc:meta])* $name:ident => [$($role:ident),+];)+) => {$(
        $(#[$doc])*
        pub struct $name;
        impl Gate for $name {
            fn check(identity: &Identity, _: &HttpRequest) -> Result<(), Denied> {
                identity.require(&[$(Role::$role),+])
            }
        }
    )+};
}

role_gates! {
    /// Admins only.
    Admins => [Admin];
    /// Who changes the catalogue: editors and admins.
    Editors => [Editor, Admin];
    /// Auditors (of a province or the country) and admins.
    Auditors => [Auditor, Admin];
    /// Everyone but an editor: admins, auditors and officers (each then within its scope, which
    /// the handler checks on what it reads).
    Staff => [Admin, Auditor, Officer];
}

/// Who writes a commune's postings: its officer or an admin.
pub struct CommuneWriters;

impl Gate for CommuneWriters {
    fn check(identity: &Identity, req: &HttpRequest) -> Result<(), Denied> {
        identity.require_commune_write(path_code(req))
    }
}

/// Who reads a commune's postings and reports: its officer, an auditor of its province or of
/// the country, an admin.
pub struct CommuneReaders;

impl Gate for CommuneReaders {
    fn check(identity: &Identity, req: &HttpRequest) -> Result<(), Denied> {
        identity.require(&[Role::Admin, Role::Auditor, Role::Officer])?;
        match identity.role {
            Role::Officer => identity.require_commune_read(path_code(req), ""),
            _ => Ok(()),
        }
    }

    fn commune_scope(identity: &Identity, req: &HttpRequest) -> Option<String> {
        (identity.role == Role::Auditor && identity.unit.is_some())
            .then(|| path_code(req).to_owned())
    }
}

/// Who reads a province's reports: an auditor of it or of the country, an admin.
pub struct ProvinceReaders;

impl Gate for ProvinceReaders {
    fn check(identity: &Identity, req: &HttpRequest) -> Result<(), Denied> {
        identity.require_province_read(path_code(req))
    }
}

/// Who manages webhook subscriptions: an admin, or an auditor of a province (for its own
/// province's, which the handler checks against the subscription).
pub struct WebhookManagers;

impl Gate for WebhookManagers {
    fn check(identity: &Identity, _: &HttpRequest) -> Result<(), Denied> {
        let allowed = identity.role == Role::Admin
            || (identity.role == Role::Auditor && identity.unit.is_some());
        identity.allowed(allowed, "webhooks (admins, and a province's auditors)")
    }
}

/// Who reads across the country: a national auditor or an admin.
pub struct NationalReaders;

impl Gate for NationalReaders {
    fn check(identity: &Identity, _: &HttpRequest) -> Result<(), Denied> {
        identity.require_national_read()
    }
}

/// A bearer token verified before routing (by the rate limiter), with its identity: the
/// extractors take it from there instead of verifying the token again.
#[derive(Debug, Clone)]
pub struct Verified {
    pub identity: Identity,
    /// The token's key in the rate limiter.
    pub token_hash: u64,
}

/// The token of an `Authorization: Bearer …` header, if there is one.
pub fn bearer(value: Option<&header::HeaderValue>) -> Option<&str> {
    let value = value?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

pub(crate) fn identify(req: &HttpRequest) -> Result<Identity, ApiError> {
    if let Some(verified) = req.extensions().get::<Verified>() {
        return Ok(verified.identity.clone());
    }
    let keys = req
        .app_data::<web::Data<JwtKeys>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("JWT keys are not configured")))?;
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("this needs a bearer token".into()))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("malformed Authorization header".into()))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
        })?;
    keys.verify(token)
}

/// Parses a `--ttl` such as `8h`, `30m`, `2d` or `3600` (seconds).
pub fn parse_ttl(raw: &str) -> Result<u64, String> {
    let raw = raw.trim();
    let (number, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{raw}` is not a duration such as 8h, 30m or 2d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("`{raw}` is not a duration such as 8h, 30m or 2d")),
    };
    if secs == 0 || secs > 366 * 86_400 {
        return Err("the lifetime must be between 1 second and 366 days".into());
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_parses_units() {
        assert_eq!(parse_ttl("8h"), Ok(28_800));
        assert_eq!(parse_ttl("30m"), Ok(1_800));
        assert_eq!(parse_ttl("90"), Ok(90));
        assert!(parse_ttl("8x").is_err());
        assert!(parse_ttl("0").is_err());
        assert!(parse_ttl("").is_err());
    }

    #[test]
    fn unit_claim_must_fit_the_role() {
        let claims = |role, unit: Option<&str>| Claims {
            sub: "a".into(),
            role,
            unit: unit.map(str::to_owned),
            iss: "i".into(),
            aud: Audience::One("a".into()),
            exp: 0,
            iat: 0,
        };
        assert!(check_unit(&claims(Role::Officer, Some("26740"))).is_ok());
        assert!(check_unit(&claims(Role::Officer, Some("79"))).is_err());
        assert!(check_unit(&claims(Role::Officer, None)).is_err());
        assert!(check_unit(&claims(Role::Auditor, None)).is_ok());
        assert!(check_unit(&claims(Role::Auditor, Some("79"))).is_ok());
        assert!(check_unit(&claims(Role::Auditor, Some("26740"))).is_err());
        assert!(check_unit(&claims(Role::Editor, Some("79"))).is_err());
    }
}
