//! `vouch keygen`: makes the secrets a production server needs (log key, witness key, TOKEN_ENC_KEY, internal token), each written once to a new 0600 file.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;
use vouch_registry::keygen::{self, KeygenError, NoteKeyKind};

use crate::output::{answer, CodedError, Exit};

/// Make the secrets a production server needs; no other tool is required.
///
/// Every command writes a NEW file created with mode 0600 and refuses to overwrite one
/// (KEYGEN_E002). The file holds exactly what the configuration's environment variable
/// must hold; public halves are printed on stdout.
///
/// Example: vouch keygen log registry.example.org/log --out /etc/vouch/log.key
#[derive(Debug, Subcommand)]
pub enum Sub {
    /// The log's checkpoint signing key (Ed25519, signed-note type 0x01) for `[log]
    /// signing_key_env`. NAME must be the log's origin: `host[:port][/path]` of `[registry]
    /// public_url` (`https://registry.example.org` gives `registry.example.org`). Prints
    /// the verifier key clients pin (`vouch log ... --key VKEY`).
    Log(NoteKey),
    /// The built-in witness's cosignature key (type 0x04) for `[witness]
    /// signing_key_env`. Prints its verifier key.
    Witness(NoteKey),
    /// A TOKEN_ENC_KEY (64 hex digits) for `[registry] token_enc_key_env`: it seals
    /// the CA, TSA, CT and registry keys at rest. Keep a copy offline: without it the
    /// sealed keys cannot be opened.
    TokenEncKey(Secret),
    /// A bearer token for `[internal] token_env` (the internal add-entry endpoint).
    InternalToken(Secret),
    /// A managed signing key for `vouch sign --key` (ECDSA P-256, unencrypted PKCS#8
    /// PEM, as cosign reads). Prints the public key (PEM) that `vouch verify --key` takes.
    SigningKey(Secret),
}

#[derive(Debug, clap::Args)]
pub struct NoteKey {
    /// The key name: for a log key the log's origin, e.g. registry.example.org/log.
    name: String,
    /// Where to write the private key (a new file, mode 0600).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Print one JSON object: {"name", "private_key_file", "verifier_key"}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub struct Secret {
    /// Where to write it (a new file, mode 0600).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Print one JSON object: {"file"}.
    #[arg(long)]
    json: bool,
}

fn coded(e: KeygenError) -> anyhow::Error {
    CodedError::new(e.code(), Exit::Error, e.to_string()).into()
}

pub fn run(sub: Sub) -> anyhow::Result<Exit> {
    match sub {
        Sub::Log(k) => note_key(k, NoteKeyKind::Log),
        Sub::Witness(k) => note_key(k, NoteKeyKind::Witness),
        Sub::TokenEncKey(s) => secret(s, &keygen::token_enc_key().map_err(coded)?),
        Sub::InternalToken(s) => secret(s, &keygen::bearer_token().map_err(coded)?),
        Sub::SigningKey(s) => signing_key(s),
    }
}

fn signing_key(s: Secret) -> anyhow::Result<Exit> {
    let sign = |e: vouch_sign::SignError| CodedError::new(e.code(), Exit::Error, e.to_string());
    let pem = vouch_sign::generate_private_key_pem().map_err(sign)?;
    let public = vouch_sign::public_key_pem(&pem).map_err(sign)?;
    keygen::write_new_secret(&s.out, &pem).map_err(coded)?;
    let json = json!({"file": s.out.display().to_string(), "public_key": public});
    let lines: Vec<String> = public.lines().map(str::to_owned).collect();
    answer(s.json, &json, &lines)?;
    if !s.json {
        eprintln!("private key written to {} (mode 0600)", s.out.display());
    }
    Ok(Exit::Ok)
}

fn note_key(k: NoteKey, kind: NoteKeyKind) -> anyhow::Result<Exit> {
    let vkey = keygen::write_note_key(&k.name, kind, &k.out).map_err(coded)?;
    let file = k.out.display().to_string();
    let json = json!({"name": k.name, "private_key_file": file, "verifier_key": vkey.to_string()});
    answer(k.json, &json, &[vkey.to_string()])?;
    if !k.json {
        eprintln!("private key written to {file} (mode 0600)");
    }
    Ok(Exit::Ok)
}

fn secret(s: Secret, text: &str) -> anyhow::Result<Exit> {
    keygen::write_new_secret(&s.out, text).map_err(coded)?;
    let file = s.out.display().to_string();
    if !s.json {
        eprintln!("written to {file} (mode 0600)");
    }
    answer(s.json, &json!({ "file": file }), &[])
}
