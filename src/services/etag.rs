//! Entity tags and the `If-Match` precondition: every mutable resource carries an `ETag`, and a
//! write that names a stale one is refused with 412 before it changes anything.

use sha2::{Digest, Sha256};

use super::ServiceError;

/// A strong ETag over `parts` (each part ends with a NUL, so that parts cannot run together).
pub fn of<I, P>(parts: I) -> String
where
    I: IntoIterator<Item = P>,
    P: AsRef<[u8]>,
{
    let mut hasher = Sha256::new();
    for p in parts {
        hasher.update(p.as_ref());
        hasher.update([0]);
    }
    format!("\"{}\"", hex::encode(&hasher.finalize()[..12]))
}

/// 412 unless `if_match` (when given) names the current ETag, or is `*`. `what` names the
/// resource in the message ("the inventory", "the catalogue").
pub fn check_if_match(
    if_match: Option<&str>,
    current: &str,
    what: &str,
) -> Result<(), ServiceError> {
    match if_match {
        None => Ok(()),
        Some(value)
            if value
                .split(',')
                .map(str::trim)
                .any(|v| v == "*" || v == current) =>
        {
            Ok(())
        }
        Some(_) => Err(ServiceError::PreconditionFailed(format!(
            "{what} changed since you read it (its ETag is now {current}); read it again and resend"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_accepts_the_current_tag_a_list_or_a_star() {
        let tag = of(["a", "b"]);
        assert_ne!(tag, of(["ab"]));
        assert!(check_if_match(None, &tag, "x").is_ok());
        assert!(check_if_match(Some(&tag), &tag, "x").is_ok());
        assert!(check_if_match(Some(&format!("\"zz\", {tag}")), &tag, "x").is_ok());
        assert!(check_if_match(Some("*"), &tag, "x").is_ok());
        assert!(matches!(
            check_if_match(Some("\"stale\""), &tag, "x"),
            Err(ServiceError::PreconditionFailed(_))
        ));
        assert!(check_if_match(Some(&format!("W/{tag}")), &tag, "x").is_err());
    }
}
