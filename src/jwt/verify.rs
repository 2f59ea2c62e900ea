//! Signature and claim verification: the only way to obtain a [`VerifiedToken`].
//!
//! Pure: the key is chosen by the caller (from the JWKS cache), the backend is passed in, and
//! `now` is a parameter, never read here.

use crate::jwt::assurance::{Aal, Assurance};
use crate::jwt::token::UnverifiedToken;
use crate::keys::crypto::SignatureBackend;
use crate::keys::jwk::{Alg, KeyLookupError, KeyMaterial, PublicKey};
use serde_json::{Map, Value};
use std::fmt;

/// The order n of the P-256 group, big-endian. ECDSA signatures need r and s in [1, n-1]
/// (CVE-2022-21449 accepted r = s = 0).
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// Why a token was refused. Every variant becomes the same 401 for the client; the variant
/// name goes to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// Longer than [`crate::jwt::token::MAX_TOKEN_BYTES`].
    TooLarge,
    /// Not three strict base64url segments of JSON objects, or a header member of the
    /// wrong type.
    Malformed(&'static str),
    /// A JSON object in the header or payload names a member twice.
    DuplicateKey,
    /// `alg` is not in `JWT_ALGORITHMS` (HS*, `none` and unknown names never are).
    AlgNotAllowed,
    /// The header carries `crit`, `jku`, `x5u`, `jwk` or `x5c`.
    ForbiddenHeader(&'static str),
    /// `typ` is present and not `JWT`.
    BadTyp,
    /// No usable key for the token's `kid` (or no `kid` and not exactly one key).
    NoMatchingKey,
    /// The selected key's type cannot verify the header's `alg`.
    AlgKeyMismatch,
    /// The signature backend refused the key material itself.
    KeyRejected(String),
    /// The signature is malformed for the algorithm or does not verify.
    BadSignature,
    /// `iss` is missing or not byte-for-byte one of the configured issuers.
    Issuer,
    /// `aud` is missing or does not contain the configured audience.
    Audience,
    /// A required time claim is absent.
    MissingClaim(&'static str),
    /// A time claim is not an integer.
    BadClaimType(&'static str),
    /// `exp` is not after now minus the skew.
    Expired,
    /// `nbf` is after now plus the skew.
    NotYetValid,
    /// `iat` is after now plus the skew.
    IssuedInFuture,
    /// `sub` is missing, empty or not a string.
    Subject,
    /// A required claim is missing or has another value (the claim's name).
    RequiredClaim(String),
    /// An anonymous user, where the provider's anonymous users are refused.
    Anonymous,
    /// No configured provider has this `iss` (checked before any key is looked up).
    UnknownIssuer,
    /// The provider takes a B2B member's organization from a claim, and the token has no
    /// organization id or slug there (the claim path).
    OrganizationClaim(String),
    /// The token's assurance level is below what the provider requires, or cannot be read
    /// (which rule, and what the token showed).
    Assurance(String),
}

impl VerifyError {
    /// A stable snake_case name for logs and test fixtures.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Malformed(_) => "malformed",
            Self::DuplicateKey => "duplicate_key",
            Self::AlgNotAllowed => "alg_not_allowed",
            Self::ForbiddenHeader(_) => "forbidden_header",
            Self::BadTyp => "bad_typ",
            Self::NoMatchingKey => "no_matching_key",
            Self::AlgKeyMismatch => "alg_key_mismatch",
            Self::KeyRejected(_) => "key_rejected",
            Self::BadSignature => "bad_signature",
            Self::Issuer => "issuer",
            Self::Audience => "audience",
            Self::MissingClaim(_) => "missing_claim",
            Self::BadClaimType(_) => "bad_claim_type",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::Subject => "subject",
            Self::RequiredClaim(_) => "required_claim",
            Self::Anonymous => "anonymous",
            Self::UnknownIssuer => "unknown_issuer",
            Self::OrganizationClaim(_) => "organization_claim",
            Self::Assurance(_) => "assurance",
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "malformed: {what}"),
            Self::ForbiddenHeader(h) => write!(f, "forbidden_header: {h}"),
            Self::KeyRejected(why) => write!(f, "key_rejected: {why}"),
            Self::MissingClaim(c) => write!(f, "missing_claim: {c}"),
            Self::BadClaimType(c) => write!(f, "bad_claim_type: {c}"),
            Self::RequiredClaim(c) => write!(f, "required_claim: {c}"),
            Self::OrganizationClaim(path) => write!(f, "organization_claim: {path}"),
            Self::Assurance(why) => write!(f, "assurance: {why}"),
            other => f.write_str(other.kind()),
        }
    }
}

impl From<KeyLookupError> for VerifyError {
    fn from(e: KeyLookupError) -> Self {
        match e {
            KeyLookupError::AlgMismatch => Self::AlgKeyMismatch,
            KeyLookupError::UnknownKid | KeyLookupError::NoKidAmbiguous => Self::NoMatchingKey,
        }
    }
}

/// What a token must satisfy, from configuration (one provider's rules, or Stytch's for its
/// session JWTs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Accepted `iss` values, compared byte for byte.
    pub issuers: Vec<String>,
    /// `aud` (a string, or an array of strings) must be, or contain, one of these.
    pub audiences: Vec<String>,
    /// Accepted `alg` values.
    pub algorithms: Vec<Alg>,
    /// Clock skew in seconds, applied once to `exp`, `nbf` and `iat`.
    pub skew_secs: i64,
    /// Top-level claims that must be present with exactly this JSON value (Supabase's
    /// `role: "authenticated"`, `email_verified: true`, Cognito's `token_use: "id"`).
    pub required_claims: Vec<(String, Value)>,
    /// How the provider marks anonymous users, when it has them and they are refused.
    pub anonymous: Option<AnonymousRule>,
    /// The assurance level its tokens must show (`aal`; any, by default).
    pub assurance: Assurance,
}

/// How a provider marks its anonymous (guest) users. Each rule fails closed: a token that
/// does not clearly say "not anonymous" counts as anonymous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnonymousRule {
    /// Supabase: `is_anonymous` absent or exactly `false`.
    SupabaseIsAnonymous,
    /// Firebase: `firebase.sign_in_provider` a string other than `"anonymous"`.
    FirebaseSignInProvider,
}

impl AnonymousRule {
    fn is_anonymous(self, claims: &Map<String, Value>) -> bool {
        match self {
            Self::SupabaseIsAnonymous => {
                !matches!(claims.get("is_anonymous"), None | Some(Value::Bool(false)))
            }
            Self::FirebaseSignInProvider => claims
                .get("firebase")
                .and_then(|f| f.get("sign_in_provider"))
                .and_then(Value::as_str)
                .is_none_or(|p| p == "anonymous"),
        }
    }
}

impl Policy {
    /// The header's `alg`, if the policy allows it. Only used to pick and check a key: the
    /// algorithm actually run is the key's.
    pub fn allowed_alg(&self, token: &UnverifiedToken<'_>) -> Result<Alg, VerifyError> {
        Alg::from_name(&token.header.alg)
            .filter(|a| self.algorithms.contains(a))
            .ok_or(VerifyError::AlgNotAllowed)
    }
}

/// A token whose signature verified under a key from the configured JWKS and whose claims
/// satisfy the [`Policy`]. Only [`verify`] and [`verify_ignoring_expiry`] construct one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    issuer: String,
    subject: String,
    expires_at: i64,
    alg: Alg,
    aal: Option<Aal>,
    claims: Map<String, Value>,
}

impl VerifiedToken {
    /// `iss`: one of the policy's issuers.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    /// `sub`: the Supabase user id (for a Stytch session JWT, the Stytch user id).
    pub fn subject(&self) -> &str {
        &self.subject
    }
    /// `exp`, Unix seconds.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }
    /// The algorithm that verified the signature.
    pub fn alg(&self) -> Alg {
        self.alg
    }
    /// `aal`: how strongly the login was authenticated, when the token says (checked
    /// against the policy's [`Assurance`]).
    pub fn aal(&self) -> Option<Aal> {
        self.aal
    }
    /// Any other claim, as the signed payload has it.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }
}

/// Whether `exp` has passed at `now`, with `skew` seconds of tolerance: the one definition of
/// expiry, used by the verifier and by whoever checks an expiry it was asked to ignore.
pub fn is_expired(exp: i64, now: i64, skew: i64) -> bool {
    exp <= now.saturating_sub(skew)
}

/// Whether [`verify_token`] enforces `exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Enforce,
    Ignore,
}

/// Checks the signature of `token` under `key`, then its claims against `policy` at `now`
/// (Unix seconds). No claim is looked at until the signature has verified.
pub async fn verify<B: SignatureBackend>(
    token: UnverifiedToken<'_>,
    key: &PublicKey,
    backend: &B,
    policy: &Policy,
    now: i64,
) -> Result<VerifiedToken, VerifyError> {
    verify_token(token, key, backend, policy, now, Expiry::Enforce).await
}

/// As [`verify`], except that a passed `exp` is not an error (it must still be an integer):
/// for a Stytch session JWT, which lives five minutes while its session lives on and can be
/// extended. The caller decides what an expired token is still good for, with
/// [`is_expired`] and [`VerifiedToken::expires_at`].
pub async fn verify_ignoring_expiry<B: SignatureBackend>(
    token: UnverifiedToken<'_>,
    key: &PublicKey,
    backend: &B,
    policy: &Policy,
    now: i64,
) -> Result<VerifiedToken, VerifyError> {
    verify_token(token, key, backend, policy, now, Expiry::Ignore).await
}

/// Claims whose signature verified under the provider's key but which the [`Policy`] refused
/// (an anonymous user, an `aal` below the floor, an unverified email, …): never a login, only
/// evidence of whose token it was, for an exchange that must tell a switch of user (which
/// clears the previous user's cookies) from a retry of the same login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedClaims(Map<String, Value>);

impl RefusedClaims {
    /// A string claim, as signed.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }
}

/// As [`verify`], and when the signature verified but a claim rule refused the token, its
/// claims beside the error.
pub async fn verify_or_refused<B: SignatureBackend>(
    token: UnverifiedToken<'_>,
    key: &PublicKey,
    backend: &B,
    policy: &Policy,
    now: i64,
) -> Result<VerifiedToken, (VerifyError, Option<RefusedClaims>)> {
    let alg = policy.allowed_alg(&token).map_err(|e| (e, None))?;
    check_signature(&token, key, backend, alg)
        .await
        .map_err(|e| (e, None))?;
    let claims = token.into_claims();
    match check_claims(&claims, policy, now, Expiry::Enforce) {
        Ok((expires_at, aal)) => Ok(verified(claims, expires_at, alg, aal)),
        Err(e) => Err((e, Some(RefusedClaims(claims)))),
    }
}

/// The signature of `token` under `key`, for the algorithm `alg` the policy allowed.
async fn check_signature<B: SignatureBackend>(
    token: &UnverifiedToken<'_>,
    key: &PublicKey,
    backend: &B,
    alg: Alg,
) -> Result<(), VerifyError> {
    if key.material.alg() != alg {
        return Err(VerifyError::AlgKeyMismatch);
    }
    check_signature_shape(&key.material, token.signature())?;
    match backend
        .verify(key, token.signing_input(), token.signature())
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(VerifyError::BadSignature),
        Err(e) => Err(VerifyError::KeyRejected(e.0)),
    }
}

/// A [`VerifiedToken`] of claims that passed.
fn verified(
    claims: Map<String, Value>,
    expires_at: i64,
    alg: Alg,
    aal: Option<Aal>,
) -> VerifiedToken {
    // check_claims has established that both are strings.
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_default()
    };
    VerifiedToken {
        issuer: text("iss"),
        subject: text("sub"),
        expires_at,
        alg,
        aal,
        claims,
    }
}

async fn verify_token<B: SignatureBackend>(
    token: UnverifiedToken<'_>,
    key: &PublicKey,
    backend: &B,
    policy: &Policy,
    now: i64,
    expiry: Expiry,
) -> Result<VerifiedToken, VerifyError> {
    let alg = policy.allowed_alg(&token)?;
    check_signature(&token, key, backend, alg).await?;
    let claims = token.into_claims();
    let (expires_at, aal) = check_claims(&claims, policy, now, expiry)?;
    Ok(verified(claims, expires_at, alg, aal))
}

/// Encoding rules a signature must meet before any backend sees it: ES256 is exactly 64 bytes
/// of r || s with both in [1, n-1] (high S is valid: Supabase's Go signer does not normalise),
/// Ed25519 is 64 bytes, RSA is exactly the modulus length.
pub fn check_signature_shape(material: &KeyMaterial, sig: &[u8]) -> Result<(), VerifyError> {
    let ok = match material {
        KeyMaterial::P256 { .. } => {
            sig.len() == 64 && {
                let (r, s) = sig.split_at(32);
                scalar_in_range(r) && scalar_in_range(s)
            }
        }
        KeyMaterial::Ed25519 { .. } => sig.len() == 64,
        KeyMaterial::Rsa { n, .. } => sig.len() == n.len(),
    };
    if ok {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

fn scalar_in_range(v: &[u8]) -> bool {
    v.iter().any(|b| *b != 0) && v < &P256_ORDER[..]
}

/// Checks every claim rule; answers `exp` and the assurance level.
fn check_claims(
    claims: &Map<String, Value>,
    policy: &Policy,
    now: i64,
    expiry: Expiry,
) -> Result<(i64, Option<Aal>), VerifyError> {
    match claims.get("iss") {
        Some(Value::String(iss)) if policy.issuers.iter().any(|i| i == iss) => {}
        _ => return Err(VerifyError::Issuer),
    }
    let accepted = |aud: &str| policy.audiences.iter().any(|a| a == aud);
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => accepted(aud),
        Some(Value::Array(auds)) => {
            auds.iter().all(Value::is_string) && auds.iter().filter_map(Value::as_str).any(accepted)
        }
        _ => false,
    };
    if !audience_ok {
        return Err(VerifyError::Audience);
    }
    let exp = int_claim(claims, "exp")?.ok_or(VerifyError::MissingClaim("exp"))?;
    let iat = int_claim(claims, "iat")?.ok_or(VerifyError::MissingClaim("iat"))?;
    let nbf = int_claim(claims, "nbf")?;
    let skew = policy.skew_secs;
    if expiry == Expiry::Enforce && is_expired(exp, now, skew) {
        return Err(VerifyError::Expired);
    }
    if iat > now.saturating_add(skew) {
        return Err(VerifyError::IssuedInFuture);
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(skew)) {
        return Err(VerifyError::NotYetValid);
    }
    match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => {}
        _ => return Err(VerifyError::Subject),
    }
    // Anonymous first: a guest typically lacks the claims a provider requires, and
    // "anonymous" is the reason worth logging.
    if policy
        .anonymous
        .is_some_and(|rule| rule.is_anonymous(claims))
    {
        return Err(VerifyError::Anonymous);
    }
    for (name, value) in &policy.required_claims {
        if claims.get(name) != Some(value) {
            return Err(VerifyError::RequiredClaim(name.clone()));
        }
    }
    let aal = policy.assurance.check(claims)?;
    Ok((exp, aal))
}

/// An integer NumericDate claim: `Ok(None)` when absent, an error when not an integer.
fn int_claim(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, VerifyError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or(VerifyError::BadClaimType(name)),
        Some(_) => Err(VerifyError::BadClaimType(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC: KeyMaterial = KeyMaterial::P256 {
        x: [1; 32],
        y: [2; 32],
    };

    fn sig(r: [u8; 32], s: [u8; 32]) -> Vec<u8> {
        [r, s].concat()
    }

    // The backends reject these too; the core must not rely on that.
    #[test]
    fn es256_scalars_must_be_in_1_to_n_minus_1() {
        let one = {
            let mut v = [0; 32];
            v[31] = 1;
            v
        };
        let mut n_minus_1 = P256_ORDER;
        n_minus_1[31] -= 1;
        assert_eq!(check_signature_shape(&EC, &sig(one, n_minus_1)), Ok(()));
        assert_eq!(
            check_signature_shape(&EC, &sig(n_minus_1, one)),
            Ok(()),
            "high S is valid"
        );
        for (r, s) in [
            ([0; 32], one),
            (one, [0; 32]),
            ([0; 32], [0; 32]),
            (one, P256_ORDER),
            (P256_ORDER, one),
            ([0xff; 32], one),
        ] {
            assert_eq!(
                check_signature_shape(&EC, &sig(r, s)),
                Err(VerifyError::BadSignature)
            );
        }
    }

    #[test]
    fn signature_lengths_are_exact() {
        let one = [1; 32];
        let mut long = sig(one, one);
        long.push(0);
        assert!(check_signature_shape(&EC, &long).is_err());
        assert!(check_signature_shape(&EC, &long[..63]).is_err());
        let ed = KeyMaterial::Ed25519 { x: [0; 32] };
        assert!(check_signature_shape(&ed, &[0; 64]).is_ok());
        assert!(check_signature_shape(&ed, &[0; 65]).is_err());
        let rsa = KeyMaterial::Rsa {
            n: vec![0xc5; 256],
            e: vec![1, 0, 1],
        };
        assert!(check_signature_shape(&rsa, &[0; 256]).is_ok());
        assert!(check_signature_shape(&rsa, &[0; 255]).is_err());
        assert!(check_signature_shape(&rsa, &[0; 257]).is_err());
    }
}
