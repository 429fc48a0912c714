//! Token endpoint: grants, errors (code and status), assertions, refresh rotation, expiry.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use exo_emulator::seed::{App, ClientSecret, Redacted};
use jiff::SignedDuration;
use serde_json::{Value, json};

use crate::support::*;

fn claims_of(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("JWT shape");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn secret_request(
    emu: &exo_emulator::RunningEmulator,
    tenant: &str,
    client: &str,
    secret: &str,
    scope: &str,
) -> Response {
    post_form(
        &emu.token_endpoint(tenant),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("client_secret", secret),
            ("scope", scope),
        ],
    )
    .await
}

#[tokio::test]
async fn client_secret_grant_issues_an_app_only_token() {
    let emu = start().await;
    for tenant in [DOMAIN, TENANT_ID, "contoso.onmicrosoft.com"] {
        let r = secret_request(&emu, tenant, SECRET_APP, SECRET, &app_scope(&emu)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3599);
        assert_eq!(body["ext_expires_in"], 3599);
        assert!(
            body.get("refresh_token").is_none(),
            "client credentials get no refresh token"
        );
        let claims = claims_of(body["access_token"].as_str().unwrap());
        assert_eq!(claims["roles"], json!(["full_access_as_app"]));
        assert_eq!(claims["aud"], emu.ews_resource());
        assert_eq!(claims["tid"], TENANT_ID);
        assert_eq!(claims["appid"], SECRET_APP);
        assert_eq!(claims["appidacr"], "1");
    }
    let r = secret_request(
        &emu,
        DOMAIN,
        SECRET_APP,
        SECRET,
        "https://outlook.office365.com/.default",
    )
    .await;
    assert_eq!(
        claims_of(r.json()["access_token"].as_str().unwrap())["aud"],
        "https://outlook.office365.com"
    );
}

#[tokio::test]
async fn tenant_errors() {
    let emu = start().await;
    let r = secret_request(&emu, "fabrikam.com", SECRET_APP, SECRET, &app_scope(&emu)).await;
    assert_eq!((r.status, r.aadsts()), (400, 90002));
    assert_eq!(r.json()["error"], "invalid_request");
    let r = secret_request(&emu, "bad_tenant!", SECRET_APP, SECRET, &app_scope(&emu)).await;
    assert_eq!((r.status, r.aadsts()), (400, 900023));
}

#[tokio::test]
async fn client_secret_errors() {
    let emu = start().await;
    let r = secret_request(&emu, DOMAIN, SECRET_APP, "wrong", &app_scope(&emu)).await;
    assert_eq!((r.status, r.aadsts()), (401, 7000215));
    assert_eq!(r.json()["error"], "invalid_client");
    assert!(!r.text().contains("wrong\""), "the secret is not echoed");

    let r = secret_request(
        &emu,
        DOMAIN,
        "00000000-1111-2222-3333-444444444444",
        SECRET,
        &app_scope(&emu),
    )
    .await;
    assert_eq!((r.status, r.aadsts()), (400, 700016));
    assert_eq!(r.json()["error"], "unauthorized_client");

    // A secret that expires in an hour works now and fails with 7000222 after the clock moves.
    let expires = emu
        .now()
        .checked_add(SignedDuration::from_hours(1))
        .unwrap();
    emu.upsert_app(App {
        tenant: TENANT_ID.into(),
        client_id: "d4e6f8a0-3c5d-4e7f-8a9b-1c2d3e4f5a6b".into(),
        display_name: "expiring".into(),
        secrets: vec![ClientSecret {
            value: Redacted("s3cret".into()),
            expires: Some(expires),
        }],
        certificates: vec![],
        application_permissions: vec!["full_access_as_app".into()],
        delegated_permissions: vec![],
        allow_public_client_flows: false,
        admin_consent: true,
    })
    .unwrap();
    let r = secret_request(
        &emu,
        DOMAIN,
        "d4e6f8a0-3c5d-4e7f-8a9b-1c2d3e4f5a6b",
        "s3cret",
        &app_scope(&emu),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    emu.advance_clock(SignedDuration::from_hours(2));
    let r = secret_request(
        &emu,
        DOMAIN,
        "d4e6f8a0-3c5d-4e7f-8a9b-1c2d3e4f5a6b",
        "s3cret",
        &app_scope(&emu),
    )
    .await;
    assert_eq!((r.status, r.aadsts()), (401, 7000222));
}

#[tokio::test]
async fn request_shape_errors() {
    let emu = start().await;
    let url = emu.token_endpoint(DOMAIN);
    let r = post_form(&url, &[("client_id", SECRET_APP)]).await;
    assert_eq!((r.status, r.aadsts()), (400, 900144));
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("'grant_type'")
    );
    let r = post_form(
        &url,
        &[("grant_type", "implicit"), ("client_id", SECRET_APP)],
    )
    .await;
    assert_eq!((r.status, r.aadsts()), (400, 70003));
    assert_eq!(r.json()["error"], "unsupported_grant_type");
    let r = post_form(
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", SECRET_APP),
            ("scope", &app_scope(&emu)),
        ],
    )
    .await;
    assert_eq!((r.status, r.aadsts()), (401, 7000218));
    let r = send("GET", &url, &[], b"").await.unwrap();
    assert_eq!((r.status, r.aadsts()), (400, 900561));
    // A JSON body is not a form: Entra sees no parameters at all.
    let r = send(
        "POST",
        &url,
        &[("Content-Type", "application/json")],
        br#"{"grant_type":"client_credentials"}"#,
    )
    .await
    .unwrap();
    assert_eq!((r.status, r.aadsts()), (400, 900144));
}

#[tokio::test]
async fn scope_errors() {
    let emu = start().await;
    let r = secret_request(
        &emu,
        DOMAIN,
        SECRET_APP,
        SECRET,
        &format!("{}/EWS.AccessAsUser.All", emu.ews_resource()),
    )
    .await;
    assert_eq!((r.status, r.aadsts()), (400, 1002012));
    assert_eq!(r.json()["error"], "invalid_scope");
    let r = secret_request(
        &emu,
        DOMAIN,
        SECRET_APP,
        SECRET,
        "https://unknown.example.com/.default",
    )
    .await;
    assert_eq!((r.status, r.aadsts()), (400, 500011));
    let r = post_form(
        &emu.token_endpoint(DOMAIN),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", SECRET_APP),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!((r.status, r.aadsts()), (400, 900144));
}

#[tokio::test]
async fn error_body_has_the_entra_shape() {
    let emu = start().await;
    let fixture: Value = serde_json::from_str(include_str!(
        "../../../fixtures/oauth/token-error-invalid-scope-aadsts70011-msdocs.json"
    ))
    .unwrap();
    let correlation = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
    let r = send(
        "POST",
        &emu.token_endpoint(DOMAIN),
        &[("Content-Type", "application/x-www-form-urlencoded"), ("client-request-id", correlation)],
        b"grant_type=client_credentials&client_id=5a7e3c12-4b6d-4e8f-9a1b-2c3d4e5f6a70&client_secret=nope&scope=https%3A%2F%2Foutlook.office365.com%2F.default",
    )
    .await
    .unwrap();
    let body = r.json();
    let mut ours: Vec<&String> = body.as_object().unwrap().keys().collect();
    let mut theirs: Vec<&String> = fixture.as_object().unwrap().keys().collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
    assert_eq!(body["correlation_id"], correlation);
    let desc = body["error_description"].as_str().unwrap();
    assert!(
        desc.starts_with("AADSTS7000215: Invalid client secret provided."),
        "{desc}"
    );
    assert!(
        desc.contains(&format!("\r\nCorrelation ID: {correlation}\r\nTimestamp: ")),
        "{desc}"
    );
    assert_eq!(
        body["error_uri"],
        "https://login.microsoftonline.com/error?code=7000215"
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
}

#[tokio::test]
async fn certificate_assertion_grant_and_errors() {
    let emu = start().await;
    let aud = emu.token_endpoint(DOMAIN);
    let now = emu.now().as_second();
    let ok = sign_assertion(&assertion_header(), &assertion_claims(&aud, now, "jti-1"));
    let r = assertion_request(&emu, DOMAIN, &ok).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let claims = claims_of(r.json()["access_token"].as_str().unwrap());
    assert_eq!(
        (claims["appid"].as_str(), claims["appidacr"].as_str()),
        (Some(CERT_APP), Some("2"))
    );

    // Replay of the same jti.
    let r = assertion_request(&emu, DOMAIN, &ok).await;
    assert_eq!((r.status, r.aadsts()), (401, 700027));
    assert!(r.text().contains("'jti'"));

    // aud must be the endpoint that was called (here: the GUID form of the tenant).
    let a = sign_assertion(&assertion_header(), &assertion_claims(&aud, now, "jti-2"));
    let r = assertion_request(&emu, TENANT_ID, &a).await;
    assert_eq!((r.status, r.aadsts()), (401, 50012));

    // Unknown certificate thumbprint.
    let mut h = assertion_header();
    h["x5t"] = json!(URL_SAFE_NO_PAD.encode([7u8; 20]));
    let r = assertion_request(
        &emu,
        DOMAIN,
        &sign_assertion(&h, &assertion_claims(&aud, now, "jti-3")),
    )
    .await;
    assert_eq!((r.status, r.aadsts()), (401, 700027));
    assert!(
        r.text()
            .contains("0707070707070707070707070707070707070707"),
        "{}",
        r.text()
    );

    // A signature that does not verify.
    let good = sign_assertion(&assertion_header(), &assertion_claims(&aud, now, "jti-4"));
    let (input, sig) = good.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    sig[10] ^= 0x55;
    let r = assertion_request(
        &emu,
        DOMAIN,
        &format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)),
    )
    .await;
    assert_eq!((r.status, r.aadsts()), (401, 700027));
    assert!(r.text().contains("signature validation"));

    // iss/sub must be the client id.
    let mut c = assertion_claims(&aud, now, "jti-5");
    c["iss"] = json!(SECRET_APP);
    let r = assertion_request(&emu, DOMAIN, &sign_assertion(&assertion_header(), &c)).await;
    assert_eq!((r.status, r.aadsts()), (401, 700021));

    // Expired, not yet valid, and too long.
    let mut c = assertion_claims(&aud, now - 3600, "jti-6");
    c["exp"] = json!(now - 3000);
    let r = assertion_request(&emu, DOMAIN, &sign_assertion(&assertion_header(), &c)).await;
    assert_eq!((r.status, r.aadsts()), (401, 700024));
    let c = assertion_claims(&aud, now + 3600, "jti-7");
    let r = assertion_request(&emu, DOMAIN, &sign_assertion(&assertion_header(), &c)).await;
    assert_eq!((r.status, r.aadsts()), (401, 700024));
    let mut c = assertion_claims(&aud, now, "jti-8");
    c["exp"] = json!(now + 3600);
    let r = assertion_request(&emu, DOMAIN, &sign_assertion(&assertion_header(), &c)).await;
    assert_eq!((r.status, r.aadsts()), (401, 700024));

    // The emulator clock decides: a valid assertion made now fails after the clock moves.
    let a = sign_assertion(&assertion_header(), &assertion_claims(&aud, now, "jti-9"));
    emu.advance_clock(SignedDuration::from_mins(20));
    let r = assertion_request(&emu, DOMAIN, &a).await;
    assert_eq!((r.status, r.aadsts()), (401, 700024));

    // Not a JWT at all, and an unsupported algorithm.
    let r = assertion_request(&emu, DOMAIN, "abc").await;
    assert_eq!((r.status, r.aadsts()), (400, 50027));
    let mut h = assertion_header();
    h["alg"] = json!("none");
    let now = emu.now().as_second();
    let r = assertion_request(
        &emu,
        DOMAIN,
        &sign_assertion(&h, &assertion_claims(&aud, now, "jti-10")),
    )
    .await;
    assert_eq!((r.status, r.aadsts()), (400, 50027));
}

fn ropc<'a>(scope: &'a str, user: &'a str, pw: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "password"),
        ("client_id", PUBLIC_APP),
        ("username", user),
        ("password", pw),
        ("scope", scope),
    ]
}

#[tokio::test]
async fn ropc_grant_and_user_errors() {
    let emu = start().await;
    let url = emu.token_endpoint(DOMAIN);
    let scope = format!("{}/{EWS_DELEGATED} offline_access", emu.ews_resource());
    let r = post_form(&url, &ropc(&scope, SVC, SVC_PASSWORD)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert_eq!(
        body["scope"],
        format!("{}/{EWS_DELEGATED}", emu.ews_resource())
    );
    let claims = claims_of(body["access_token"].as_str().unwrap());
    assert_eq!(claims["scp"], EWS_DELEGATED);
    assert_eq!(claims["upn"], SVC);
    assert_eq!(claims["appidacr"], "0");

    let r = post_form(&url, &ropc(&scope, "nobody@contoso.com", "x")).await;
    assert_eq!((r.status, r.aadsts()), (400, 50034));
    let r = post_form(&url, &ropc(&scope, SVC, "wrong")).await;
    assert_eq!((r.status, r.aadsts()), (400, 50126));
    let r = post_form(
        &url,
        &ropc("https://outlook.office365.com/Mail.Read", SVC, SVC_PASSWORD),
    )
    .await;
    assert_eq!((r.status, r.aadsts()), (400, 70011));

    emu.update_mailbox(ALICE, |m| m.mfa_required = true)
        .unwrap();
    let r = post_form(&url, &ropc(&scope, ALICE, "demo-only-alice")).await;
    assert_eq!((r.status, r.aadsts()), (400, 50076));
    emu.update_mailbox(ALICE, |m| {
        m.mfa_required = false;
        m.conditional_access_blocked = true;
    })
    .unwrap();
    let r = post_form(&url, &ropc(&scope, ALICE, "demo-only-alice")).await;
    assert_eq!((r.status, r.aadsts()), (400, 53003));
    emu.update_mailbox(BOB, |m| m.password_expired = true)
        .unwrap();
    let r = post_form(&url, &ropc(&scope, BOB, "demo-only-bob")).await;
    assert_eq!((r.status, r.aadsts()), (400, 50055));
    assert_eq!(r.json()["suberror"], "user_password_expired");
}

#[tokio::test]
async fn ropc_client_rules_and_consent() {
    let emu = start().await;
    let url = emu.token_endpoint(DOMAIN);
    let scope = format!("{}/{EWS_DELEGATED}", emu.ews_resource());
    // A confidential client without public client flows needs its secret.
    let mut pairs = ropc(&scope, SVC, SVC_PASSWORD);
    pairs[1] = ("client_id", SECRET_APP);
    let r = post_form(&url, &pairs).await;
    assert_eq!((r.status, r.aadsts()), (401, 7000218));
    // With the secret it authenticates, but the app has no delegated EWS permission.
    pairs.push(("client_secret", SECRET));
    let r = post_form(&url, &pairs).await;
    assert_eq!((r.status, r.aadsts()), (400, 65001));
    assert_eq!(r.json()["suberror"], "consent_required");
    // Without admin consent the public client gets 65001 too.
    emu.with_state(|s| {
        let app = s
            .directory
            .apps
            .iter_mut()
            .find(|a| a.client_id == PUBLIC_APP)
            .unwrap();
        app.admin_consent = false;
    });
    let r = post_form(&url, &ropc(&scope, SVC, SVC_PASSWORD)).await;
    assert_eq!((r.status, r.aadsts()), (400, 65001));
}

#[tokio::test]
async fn refresh_tokens_rotate_and_expire() {
    let emu = start().await;
    let url = emu.token_endpoint(DOMAIN);
    let scope = format!("{}/{EWS_DELEGATED} offline_access", emu.ews_resource());
    let first = post_form(&url, &ropc(&scope, SVC, SVC_PASSWORD))
        .await
        .json();
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();
    let refresh = |rt: String| {
        let url = url.clone();
        async move {
            post_form(
                &url,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", PUBLIC_APP),
                    ("refresh_token", &rt),
                ],
            )
            .await
        }
    };
    let r = refresh(rt1.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let rt2 = r.json()["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2, "the refresh token rotates");
    assert_eq!(
        claims_of(r.json()["access_token"].as_str().unwrap())["upn"],
        SVC
    );
    let r = refresh(rt1).await;
    assert_eq!(
        (r.status, r.aadsts()),
        (400, 70000),
        "the old refresh token is spent"
    );
    let r = refresh("garbage".into()).await;
    assert_eq!((r.status, r.aadsts()), (400, 9002313));
    emu.advance_clock(SignedDuration::from_hours(24 * 91));
    let r = refresh(rt2).await;
    assert_eq!((r.status, r.aadsts()), (400, 700082));
}

#[tokio::test]
async fn access_tokens_expire_on_the_emulator_clock() {
    let emu = start().await;
    let token = secret_token(&emu).await;
    let xml = soap(
        &format!("{V2013}{}", impersonate("PrimarySmtpAddress", ROOM)),
        &get_folder("calendar", None),
    );
    assert_eq!(ews(&emu, &token, &xml).await.status, 200);
    emu.advance_clock(SignedDuration::from_secs(3600));
    let r = ews(&emu, &token, &xml).await;
    assert_eq!(r.status, 401);
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    assert!(r.header("x-ms-diagnostics").unwrap().contains("expired"));
}

#[tokio::test]
async fn ps256_assertion_with_sha256_thumbprint() {
    use sha2::{Digest, Sha256};
    let emu = start().await;
    let key = demo_key();
    let x5t = URL_SAFE_NO_PAD.encode(Sha256::digest(demo_cert_der()));
    // A PS256 (PSS) signature under a header claiming `alg`.
    let signed = |alg: &str, jti: &str| {
        let header = json!({"alg": alg, "typ": "JWT", "x5t#S256": x5t});
        let claims = assertion_claims(&emu.token_endpoint(DOMAIN), emu.now().as_second(), jti);
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = key
            .sign_with_rng(
                &mut rsa::rand_core::OsRng,
                rsa::Pss::new::<Sha256>(),
                &Sha256::digest(input.as_bytes()),
            )
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(&sig))
    };
    let r = assertion_request(&emu, DOMAIN, &signed("PS256", "ps-1")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The same signature presented as RS256 does not verify.
    let r = assertion_request(&emu, DOMAIN, &signed("RS256", "ps-2")).await;
    assert_eq!((r.status, r.aadsts()), (401, 700027));
}
