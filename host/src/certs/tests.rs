//! Tests of the certificate store against the fixtures of `tests/certs/` (see its README):
//! every accepted format signs and verifies, and every error names its cause and fix.

use std::time::Duration;

use base64::Engine;
use rsa::PublicKey as RsaPublicKey;
use rsa::pkcs1v15::VerifyingKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use x509_cert::der::{Decode, Encode};

use super::*;

/// 2027-01-15: after the fixtures' notBefore (2026-11-28), long before their notAfter.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// The password of every encrypted fixture (tests/certs/README.md).
const PASSWORD: &str = "Fixture-Cert-Pass-7741";

const DEMO: &str = "332459433B54FC0C2185F75A618FD3C83C7B9584";
const PKCS8: &str = "747907D37625EDAC941AC8DC72B2BA85FF4E9B14";
const PKCS1: &str = "29C2BD6EFC5DE59712C10EF4EEBB5501B35C16E9";
const DER: &str = "B38819B1997FD5F54B126EFCD963CB8553ADCF47";
const ENCRYPTED_AES: &str = "0CBAAB74D984D157DCDEA03893AFAD473EAF2934";
const ENCRYPTED_3DES: &str = "859AB5A5731B357C458B67C64FDC8C3F64844FB4";
const PFX_AES: &str = "72EB90D18A77F0503741EE4DC97B7A5E6A9E9E29";
const PFX_LEGACY: &str = "314B27B40785BB06B4041C5291A5450305CCC26A";
const EXPIRED: &str = "912D1728C6493FE4B4A2E782EEA8063CCACA2034";
const NOT_YET_VALID: &str = "7FB4086602C42D0BD5E1DAB25AC2DA089D05C57A";
const CERT_ONLY: &str = "74E6DD67792EE37D215E2596588FB8D463BFD7D1";
const MISMATCHED: &str = "782FD6FBDC311A8FABB3F9A1E60738BDDA12572C";
const EC: &str = "031808F205172F33418BB904972CEE1ED1B912EA";

const DATA: &[u8] = b"eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ0ZXN0In0";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/certs")
}

/// A `certs/` folder with copies of the named fixtures.
fn folder(files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in files {
        std::fs::copy(fixtures().join(file), dir.path().join(file)).unwrap();
    }
    dir
}

fn load_fixtures(files: &[&str], password: Option<&str>) -> (tempfile::TempDir, CertStore) {
    let dir = folder(files);
    let secret = password.map(Secret::new);
    let store = CertStore::load(dir.path(), secret.as_ref());
    (dir, store)
}

/// Verifies an RS256 signature with the public key of the returned certificate.
fn verifies(signature: &Signature, data: &[u8]) -> bool {
    let certificate = x509_cert::Certificate::from_der(&signature.certificate_der).unwrap();
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    let key = VerifyingKey::<Sha256>::new(RsaPublicKey::from_public_key_der(&spki).unwrap());
    let parsed = rsa::pkcs1v15::Signature::try_from(signature.signature.as_slice()).unwrap();
    key.verify(data, &parsed).is_ok()
}

fn key_problem(store: &CertStore, thumbprint: &str) -> KeyProblem {
    match store.sign_rs256(thumbprint, DATA, now()) {
        Err(CertError::KeyNotReadable { problem, .. }) => problem,
        other => panic!("expected KeyNotReadable, got {other:?}"),
    }
}

#[test]
fn thumbprints_are_normalized_as_operators_paste_them() {
    for text in [
        DEMO,
        "332459433b54fc0c2185f75a618fd3c83c7b9584",
        "\u{200e}33 24 59 43 3b 54 fc 0c 21 85 f7 5a 61 8f d3 c8 3c 7b 95 84",
        "33:24:59:43:3B:54:FC:0C:21:85:F7:5A:61:8F:D3:C8:3C:7B:95:84",
        " 332459433B54FC0C2185F75A618FD3C83C7B9584\n",
    ] {
        assert_eq!(normalize_thumbprint(text).unwrap(), DEMO, "{text:?}");
    }
    assert_eq!(
        normalize_thumbprint(" \u{200e} "),
        Err(ThumbprintError::Empty)
    );
    assert_eq!(
        normalize_thumbprint("33245943-3B54"),
        Err(ThumbprintError::NotHex { position: 9 })
    );
    // The offending character is not quoted: the text may be a secret in the wrong key.
    let message = normalize_thumbprint("s3cr3t~Zq").unwrap_err().to_string();
    assert!(
        message.starts_with("character 1 of the thumbprint"),
        "{message}"
    );
    assert!(
        !message.contains('~') && !message.contains("s3cr3t"),
        "{message}"
    );
    assert_eq!(
        normalize_thumbprint("3324"),
        Err(ThumbprintError::WrongLength { digits: 4 })
    );
    assert_eq!(
        normalize_thumbprint(&"ab".repeat(32)),
        Err(ThumbprintError::Sha256)
    );
}

#[test]
fn thumbprint_is_the_sha1_of_the_der_as_openssl_computes_it() {
    let pem = std::fs::read(fixtures().join("demo-app.crt")).unwrap();
    let der = pem::parse(pem).unwrap().into_contents();
    assert_eq!(thumbprint_of(&der), DEMO);
}

#[test]
fn every_supported_format_signs_and_the_signature_verifies() {
    let cases: [(&[&str], Option<&str>, &str); 8] = [
        (&["demo-app.crt", "demo-app.key"], None, DEMO),
        (&["pkcs8-combined.pem"], None, PKCS8),
        (&["pkcs1-combined.pem"], None, PKCS1),
        (&["der-cert.cer", "der-cert.key"], None, DER),
        (&["encrypted-aes.pem"], Some(PASSWORD), ENCRYPTED_AES),
        (&["encrypted-3des.pem"], Some(PASSWORD), ENCRYPTED_3DES),
        (&["aes.pfx"], Some(PASSWORD), PFX_AES),
        (&["legacy.p12"], Some(PASSWORD), PFX_LEGACY),
    ];
    for (files, password, thumbprint) in cases {
        let (_dir, store) = load_fixtures(files, password);
        assert!(
            store.problems().is_empty(),
            "{files:?}: {:?}",
            store.problems()
        );
        let signature = store
            .sign_rs256(&thumbprint.to_ascii_lowercase(), DATA, now())
            .unwrap_or_else(|error| panic!("{files:?}: {error}"));
        assert_eq!(thumbprint_of(&signature.certificate_der), thumbprint);
        assert_eq!(signature.signature.len(), 256, "{files:?}");
        assert!(verifies(&signature, DATA), "{files:?}");
        assert!(!verifies(&signature, b"other data"), "{files:?}");
    }
}

#[test]
fn signature_is_the_one_openssl_makes() {
    // openssl dgst -sha256 -sign pkcs1-combined.pem (RSASSA-PKCS1-v1_5 is deterministic).
    let expected = "DSUNJQImeQDhoI/B7jNVKAWRcuL1gxqj2LuKnr+3ADKfWY1aGdEtFFFaXIIkiltlEeDxbbYQUk\
        qqn4yJuowp4DTlp/FZD43zvoLnMGutTgAnmd9AuyBPULd4mh7o6mVLyrVMFpqjnYALFTiivz6UWCrk9Mf/Ja\
        fyZMQXhfZh6qUBBuKM25r6KHtK9EtRTqtvgSgjP34o5v81mYmU+KbJnNXqTQ3faBWQK6i8t8hDsbRCdlZRoM\
        ANX4ZsCwU/yQ7R4Nrxw3V8bEpBMd6910qebvEVgUEK5GlAjrXXD6POHvkZniaanlGGrlbMAleZZpsocLbk60\
        3dtXJGUpMznZC+Gw==";
    let (_dir, store) = load_fixtures(&["pkcs1-combined.pem"], None);
    let signature = store.sign_rs256(PKCS1, DATA, now()).unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD.encode(&signature.signature),
        expected
    );
}

#[test]
fn encrypted_keys_need_the_right_password() {
    for file in ["encrypted-aes.pem", "encrypted-3des.pem"] {
        let thumbprint = if file.contains("aes") {
            ENCRYPTED_AES
        } else {
            ENCRYPTED_3DES
        };
        let (_dir, store) = load_fixtures(&[file], None);
        let problem = key_problem(&store, thumbprint);
        assert!(
            matches!(problem, KeyProblem::PasswordMissing { .. }),
            "{problem:?}"
        );
        assert!(problem.fix().contains("ExchangeCertPassword"));

        let (_dir, store) = load_fixtures(&[file], Some("wrong-Pa55word-9931"));
        let problem = key_problem(&store, thumbprint);
        assert!(
            matches!(problem, KeyProblem::WrongPassword { .. }),
            "{problem:?}"
        );
        let error = store.sign_rs256(thumbprint, DATA, now()).unwrap_err();
        assert!(!format!("{error} {error:?} {store:?}").contains("wrong-Pa55word-9931"));
    }
}

#[test]
fn pfx_without_or_with_a_wrong_password_is_listed_when_the_thumbprint_is_not_found() {
    for (file, thumbprint) in [("aes.pfx", PFX_AES), ("legacy.p12", PFX_LEGACY)] {
        let (_dir, store) = load_fixtures(&[file], None);
        let error = store.sign_rs256(thumbprint, DATA, now()).unwrap_err();
        let CertError::NotFound { unreadable, .. } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(unreadable.len(), 1);
        assert!(
            unreadable[0]
                .problem
                .contains("ExchangeCertPassword is not set")
        );
        assert!(error.to_string().contains(file), "{error}");

        let (_dir, store) = load_fixtures(&[file], Some("wrong-Pa55word-9931"));
        let error = store.sign_rs256(thumbprint, DATA, now()).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("wrong password"), "{message}");
        assert!(!message.contains("wrong-Pa55word-9931"));
    }
}

#[test]
fn expired_and_not_yet_valid_certificates_give_the_date() {
    let (_dir, store) = load_fixtures(&["expired.pem", "not-yet-valid.pem"], None);
    let error = store.sign_rs256(EXPIRED, DATA, now()).unwrap_err();
    assert_eq!(
        error,
        CertError::Expired {
            thumbprint: EXPIRED.into(),
            date: "2021-01-01T00:00:00Z".into(),
            not_yet_valid: false,
        }
    );
    let message = error.to_string();
    assert!(
        message.contains("expired on 2021-01-01T00:00:00Z"),
        "{message}"
    );
    assert!(message.contains("upload its public part"), "{message}");
    let error = store.sign_rs256(NOT_YET_VALID, DATA, now()).unwrap_err();
    assert!(matches!(
        &error,
        CertError::Expired { date, not_yet_valid: true, .. } if date == "2090-01-01T00:00:00Z"
    ));
    // Within its validity the expired certificate signs: the clock passed in decides.
    let in_2020 = UNIX_EPOCH + Duration::from_secs(1_590_000_000);
    let signature = store.sign_rs256(EXPIRED, DATA, in_2020).unwrap();
    assert!(verifies(&signature, DATA));
}

#[test]
fn a_certificate_without_key_says_keyset_does_not_exist() {
    let (_dir, store) = load_fixtures(&["cert-only.crt"], None);
    let problem = key_problem(&store, CERT_ONLY);
    assert!(matches!(problem, KeyProblem::Missing { .. }), "{problem:?}");
    let fix = problem.fix();
    assert!(
        fix.contains("cert-only.key") && fix.contains("Keyset does not exist"),
        "{fix}"
    );
    assert!(store.check(CERT_ONLY, now()).is_err());
}

#[test]
fn a_key_of_another_certificate_is_a_mismatch() {
    let (_dir, store) = load_fixtures(&["mismatched.crt", "mismatched.key"], None);
    let problem = key_problem(&store, MISMATCHED);
    let KeyProblem::Mismatch { key_file } = &problem else {
        panic!("{problem:?}");
    };
    assert!(key_file.ends_with("mismatched.key"));
}

#[test]
fn an_ec_certificate_is_not_rsa() {
    let (_dir, store) = load_fixtures(&["ec.pem"], None);
    let problem = key_problem(&store, EC);
    assert_eq!(
        problem,
        KeyProblem::NotRsa {
            file: store.dir().join("ec.pem"),
            algorithm: "EC".into()
        }
    );
    assert!(problem.fix().contains("RSA certificate"));
}

#[test]
fn an_unreadable_key_file_names_the_file() {
    let dir = folder(&["cert-only.crt"]);
    // A dangling link: the key file is listed but cannot be opened.
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("cert-only.key")).unwrap();
    #[cfg(not(unix))]
    return;
    let store = CertStore::load(dir.path(), None);
    let problem = key_problem(&store, CERT_ONLY);
    let KeyProblem::Unreadable { file, .. } = &problem else {
        panic!("{problem:?}");
    };
    assert!(file.ends_with("cert-only.key"));
    assert!(problem.fix().contains("read permission"));
}

#[test]
fn not_found_names_the_folder_and_the_thumbprints_it_has() {
    let (dir, store) = load_fixtures(&["pkcs8-combined.pem", "pkcs1-combined.pem"], None);
    let error = store.sign_rs256(DEMO, DATA, now()).unwrap_err();
    assert_eq!(
        error,
        CertError::NotFound {
            thumbprint: DEMO.into(),
            folder: dir.path().to_owned(),
            available: vec![PKCS1.into(), PKCS8.into()],
            unreadable: vec![],
        }
    );
    let message = error.to_string();
    assert!(
        message.contains(PKCS1) && message.contains(PKCS8),
        "{message}"
    );
    assert!(
        message.contains("correct ExchangeCertThumbprint"),
        "{message}"
    );

    let error = store
        .sign_rs256("not a thumbprint", DATA, now())
        .unwrap_err();
    assert!(matches!(error, CertError::NotFound { .. }));

    let missing = dir.path().join("nope");
    let store = CertStore::load(&missing, None);
    assert!(store.problems()[0].problem.contains("does not exist"));
    let message = store.sign_rs256(DEMO, DATA, now()).unwrap_err().to_string();
    assert!(message.contains("holds no certificates"), "{message}");
}

#[test]
fn broken_files_never_abort_the_load() {
    let dir = folder(&["pkcs8-combined.pem"]);
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).unwrap();
    write("garbage.pfx", b"not a pfx");
    write("garbage.cer", &[0x30, 0x82, 0xff, 0xff, 0x00]);
    write(
        "truncated.pem",
        b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    );
    write(
        "bad-base64.pem",
        b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
    );
    write("notes.txt", b"hello");
    write("README.md", b"docs");
    write(".hidden", b"x");
    std::fs::create_dir(dir.path().join("old")).unwrap();
    let store = CertStore::load(dir.path(), None);
    assert!(store.sign_rs256(PKCS8, DATA, now()).is_ok());
    let files: Vec<String> = store
        .problems()
        .iter()
        .map(|p| p.file.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files,
        [
            "bad-base64.pem",
            "garbage.cer",
            "garbage.pfx",
            "notes.txt",
            "truncated.pem"
        ]
    );
}

#[test]
fn the_same_certificate_without_key_does_not_hide_the_one_with_key() {
    let dir = folder(&["demo-app.crt", "demo-app.key"]);
    // A public-only copy that sorts before and after the pair.
    std::fs::copy(
        dir.path().join("demo-app.crt"),
        dir.path().join("a-public.cer"),
    )
    .unwrap();
    std::fs::copy(
        dir.path().join("demo-app.crt"),
        dir.path().join("z-public.cer"),
    )
    .unwrap();
    let store = CertStore::load(dir.path(), None);
    assert_eq!(store.certificates().count(), 1);
    assert!(store.sign_rs256(DEMO, DATA, now()).is_ok());
}

#[test]
fn the_whole_fixture_folder_loads() {
    let secret = Secret::new(PASSWORD);
    let store = CertStore::load(&fixtures(), Some(&secret));
    let thumbprints: Vec<&str> = store
        .certificates()
        .map(|c| c.thumbprint.as_str())
        .collect();
    let mut expected = vec![
        DEMO,
        PKCS8,
        PKCS1,
        DER,
        ENCRYPTED_AES,
        ENCRYPTED_3DES,
        PFX_AES,
        PFX_LEGACY,
        EXPIRED,
        NOT_YET_VALID,
        CERT_ONLY,
        MISMATCHED,
        EC,
    ];
    expected.sort_unstable();
    assert_eq!(thumbprints, expected);
    for usable in [
        DEMO,
        PKCS8,
        PKCS1,
        DER,
        ENCRYPTED_AES,
        ENCRYPTED_3DES,
        PFX_AES,
        PFX_LEGACY,
    ] {
        assert!(store.check(usable, now()).is_ok(), "{usable}");
    }
    let demo = store.check(DEMO, now()).unwrap();
    assert_eq!(demo.subject, "CN=rooms-sync demo app (test only)");
    assert!(demo.file.ends_with("demo-app.crt"));
    // The EC key is the only file problem (the script and README are not certificates).
    let files: Vec<String> = store
        .problems()
        .iter()
        .map(|p| p.file.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["ec.pem", "generate.sh"]);
}

#[test]
fn nothing_shows_key_material_or_passwords() {
    let key_pem = std::fs::read_to_string(fixtures().join("demo-app.key")).unwrap();
    let key_line = key_pem.lines().nth(5).unwrap().to_owned();
    let secret = Secret::new(PASSWORD);
    let store = CertStore::load(&fixtures(), Some(&secret));
    let mut shown = format!("{store:?}");
    for info in store.certificates() {
        shown.push_str(&format!("{info:?}"));
    }
    for thumbprint in [EXPIRED, CERT_ONLY, MISMATCHED, EC, DEMO] {
        if let Err(error) = store.sign_rs256(thumbprint, DATA, now()) {
            shown.push_str(&format!("{error} {error:?}"));
        }
    }
    let signature = store.sign_rs256(DEMO, DATA, now()).unwrap();
    shown.push_str(&format!("{signature:?}"));
    assert!(!shown.contains(&key_line), "key material shown");
    assert!(!shown.contains(PASSWORD), "password shown");
    assert!(!shown.contains("PRIVATE KEY-----"));
}

#[cfg(unix)]
#[test]
fn a_fifo_in_the_folder_is_a_problem_of_that_file_and_the_rest_loads() {
    use crate::files::test_support::{mkfifo, returns_promptly};
    let dir = folder(&["demo-app.crt", "demo-app.key", "cert-only.crt"]);
    // A FIFO as a certificate file, and one in place of a certificate's key.
    mkfifo(&dir.path().join("stuck.pem"));
    mkfifo(&dir.path().join("cert-only.key"));
    let path = dir.path().to_owned();
    let store = returns_promptly("loading a certs/ folder with FIFOs", move || {
        CertStore::load(&path, None)
    });
    assert!(store.sign_rs256(DEMO, DATA, now()).is_ok(), "{store:?}");
    for name in ["stuck.pem", "cert-only.key"] {
        let problem = store
            .problems()
            .iter()
            .find(|problem| problem.file.ends_with(name))
            .unwrap_or_else(|| panic!("no problem for {name}: {store:?}"));
        assert!(
            problem
                .problem
                .contains("FIFO (named pipe), not a regular file"),
            "{problem}"
        );
    }
    let KeyProblem::Unreadable { file, reason } = key_problem(&store, CERT_ONLY) else {
        panic!("the FIFO key is reported as unreadable");
    };
    assert!(file.ends_with("cert-only.key"));
    assert!(reason.contains("FIFO"), "{reason}");
}
