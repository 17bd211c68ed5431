//! Registry credentials: `VOUCH_REGISTRY_USERNAME`/`VOUCH_REGISTRY_PASSWORD`, else the
//! `auths` entry of a docker `config.json`; never printed.

use base64::Engine as _;

use crate::OciError;

/// Credentials for a registry: from the environment or `~/.docker/config.json`.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// `VOUCH_REGISTRY_USERNAME`/`VOUCH_REGISTRY_PASSWORD` when both are set, else the
    /// `auths` entry for `registry` in `$DOCKER_CONFIG/config.json` or
    /// `~/.docker/config.json` (its `auth` field, base64 `user:password`). Credential
    /// helpers are not run.
    pub fn lookup(registry: &str) -> Result<Option<Self>, OciError> {
        if let (Ok(username), Ok(password)) = (
            std::env::var("VOUCH_REGISTRY_USERNAME"),
            std::env::var("VOUCH_REGISTRY_PASSWORD"),
        ) {
            return Ok(Some(Credentials { username, password }));
        }
        let dir = match std::env::var_os("DOCKER_CONFIG") {
            Some(d) => std::path::PathBuf::from(d),
            None => match std::env::var_os("HOME") {
                Some(h) => std::path::PathBuf::from(h).join(".docker"),
                None => return Ok(None),
            },
        };
        Self::from_docker_config(&dir.join("config.json"), registry)
    }

    /// The `auths` entry for `registry` in a docker `config.json` (absent file: `None`).
    pub fn from_docker_config(
        path: &std::path::Path,
        registry: &str,
    ) -> Result<Option<Self>, OciError> {
        let Ok(bytes) = std::fs::read(path) else {
            return Ok(None);
        };
        let local = |detail: String| OciError::Local {
            what: path.display().to_string(),
            detail,
        };
        let doc: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| local(e.to_string()))?;
        let Some(auths) = doc.get("auths").and_then(|a| a.as_object()) else {
            return Ok(None);
        };
        let hub = registry == "docker.io";
        let entry = auths.iter().find(|(k, _)| {
            let k = k
                .trim_start_matches("https://")
                .trim_start_matches("http://");
            let host = k.split('/').next().unwrap_or("");
            host == registry
                || (hub && (host == "index.docker.io" || host == "registry-1.docker.io"))
        });
        let Some(auth) = entry
            .and_then(|(_, v)| v.get("auth"))
            .and_then(|a| a.as_str())
        else {
            return Ok(None);
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth)
            .map_err(|e| local(format!("auths.{registry}.auth is not base64: {e}")))?;
        let text = String::from_utf8(decoded)
            .map_err(|_| local(format!("auths.{registry}.auth is not UTF-8")))?;
        let (username, password) = text
            .split_once(':')
            .ok_or_else(|| local(format!("auths.{registry}.auth is not user:password")))?;
        Ok(Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_credentials_are_found_per_registry() {
        let dir = std::env::temp_dir().join(format!("vouch-oci-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        let cfg = format!(
            r#"{{"auths":{{"ghcr.io":{{"auth":"{auth}"}},"https://index.docker.io/v1/":{{"auth":"{auth}"}},"bad.example":{{"auth":"%%%"}}}}}}"#
        );
        std::fs::write(&path, cfg).unwrap();
        let c = Credentials::from_docker_config(&path, "ghcr.io")
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("alice", "s3cret")
        );
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "Debug hides the password"
        );
        assert!(Credentials::from_docker_config(&path, "docker.io")
            .unwrap()
            .is_some());
        assert!(Credentials::from_docker_config(&path, "quay.io")
            .unwrap()
            .is_none());
        let bad = Credentials::from_docker_config(&path, "bad.example").unwrap_err();
        assert_eq!(bad.code(), "OCI_E014");
        assert!(
            Credentials::from_docker_config(&dir.join("none.json"), "ghcr.io")
                .unwrap()
                .is_none()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
