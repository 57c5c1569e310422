use std::time::Duration;

use super::*;
use crate::issue::{sign_user_certificate, UserCertificateRequest};
use crate::keyfile::generate_ed25519;

fn request(ttl: u64) -> UserCertificateRequest {
    UserCertificateRequest {
        public_key: generate_ed25519("user").unwrap().public_key().clone(),
        key_id: "alice@example.test".into(),
        principals: vec!["dba".into()],
        ttl: Duration::from_secs(ttl),
        extensions: vec!["permit-pty".into()],
        source_address: None,
        force_command: None,
    }
}

#[test]
fn accepts_a_fresh_certificate_and_reports_identity() {
    let ca = generate_ed25519("ca").unwrap();
    let cert = sign_user_certificate(&ca, &request(3600)).unwrap();
    let now = crate::unix_now();
    let u = check_user_certificate(&cert, &[ca.public_key().clone()], None, now).unwrap();
    assert_eq!(u.key_id, "alice@example.test");
    assert_eq!(u.principals, ["dba"]);
    assert!(u.permit_pty && !u.permit_port_forwarding);
    assert_eq!(u.serial, cert.serial());
}

#[test]
fn refusals_are_distinct() {
    let ca = generate_ed25519("ca").unwrap();
    let other = generate_ed25519("other").unwrap();
    let trusted = [ca.public_key().clone()];
    let cert = sign_user_certificate(&ca, &request(3600)).unwrap();
    let now = crate::unix_now();

    let wrong = sign_user_certificate(&other, &request(3600)).unwrap();
    assert!(matches!(
        check_user_certificate(&wrong, &trusted, None, now),
        Err(Refusal::WrongCa { .. })
    ));
    assert!(matches!(
        check_user_certificate(&cert, &trusted, None, now + 7200),
        Err(Refusal::Expired { .. })
    ));
    assert!(matches!(
        check_user_certificate(&cert, &trusted, None, now - 3600),
        Err(Refusal::NotYetValid { .. })
    ));

    let mut req = request(3600);
    req.source_address = Some("10.0.0.0/8".into());
    let bound = sign_user_certificate(&ca, &req).unwrap();
    let err = check_user_certificate(&bound, &trusted, Some("127.0.0.1".parse().unwrap()), now)
        .unwrap_err();
    assert!(matches!(err, Refusal::SourceAddress { .. }), "{err}");
    assert!(
        check_user_certificate(&bound, &trusted, Some("10.1.2.3".parse().unwrap()), now).is_ok()
    );
}

#[test]
fn upstream_certificate_names_login_and_session() {
    let ca = generate_ed25519("target-ca").unwrap();
    let (key, cert) = crate::issue::mint_upstream_certificate(
        &ca,
        "postgres",
        "s-1 alice",
        Duration::from_secs(120),
    )
    .unwrap();
    assert_eq!(cert.valid_principals(), ["postgres"]);
    assert_eq!(cert.key_id(), "s-1 alice");
    assert_eq!(cert.public_key(), key.public_key().key_data());
    assert!(cert.valid_before() - cert.valid_after() <= 180);
}
