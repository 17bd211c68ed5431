//! Manifest parsing: the valid form and each refusal with its code and named field.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use vouch_package::{Error, Manifest};

const GOOD: &str = r#"
[package]
name = "@acme/widget"
version = "1.2.3-rc.1+build.5"
description = "A widget"
license = "Apache-2.0"
include = ["src", "README.md"]
exclude = ["**/*.log"]
"#;

#[test]
fn parses_a_full_manifest() {
    let m = Manifest::parse(GOOD).unwrap();
    assert_eq!(m.name().to_string(), "@acme/widget");
    assert_eq!(m.name().scope(), "acme");
    assert_eq!(m.version().to_string(), "1.2.3-rc.1+build.5");
    assert_eq!(m.description(), Some("A widget"));
    assert_eq!(m.license(), Some("Apache-2.0"));
    assert!(m.filter().includes_file("src/lib.rs"));
    assert!(!m.filter().includes_file("src/x.log"));
    assert!(!m.filter().includes_file("Cargo.toml"));
}

#[test]
fn minimal_manifest() {
    let m = Manifest::parse("[package]\nname = \"@a/b\"\nversion = \"0.1.0\"\n").unwrap();
    assert_eq!(m.description(), None);
    assert!(m.filter().includes_file("anything"));
}

fn err(text: &str) -> Error {
    Manifest::parse(text).unwrap_err()
}

#[test]
fn syntax_error() {
    assert_eq!(err("[package\nname=").code(), "PKG_E001");
}

#[test]
fn unknown_keys_are_named() {
    let e = err("[package]\nname = \"@a/b\"\nversion = \"1.0.0\"\nexlude = []\n");
    assert_eq!(e.code(), "PKG_E002");
    assert!(
        matches!(&e, Error::UnknownKey { key } if key == "package.exlude"),
        "{e}"
    );
    let e = err("[package]\nname = \"@a/b\"\nversion = \"1.0.0\"\n[dependencies]\n");
    assert!(
        matches!(&e, Error::UnknownKey { key } if key == "dependencies"),
        "{e}"
    );
}

#[test]
fn missing_fields() {
    assert!(matches!(err(""), Error::MissingField { field: "package" }));
    assert!(matches!(
        err("[package]\nversion = \"1.0.0\""),
        Error::MissingField {
            field: "package.name"
        }
    ));
    assert!(matches!(
        err("[package]\nname = \"@a/b\""),
        Error::MissingField {
            field: "package.version"
        }
    ));
}

#[test]
fn wrong_types_name_field_expected_and_found() {
    let e = err("[package]\nname = 5\nversion = \"1.0.0\"");
    assert_eq!(e.code(), "PKG_E004");
    assert_eq!(
        e.to_string(),
        "manifest: `package.name` must be a string, found integer"
    );
    let e = err("[package]\nname = \"@a/b\"\nversion = \"1.0.0\"\ninclude = [\"a\", 1]");
    assert!(
        matches!(&e, Error::InvalidField { field, .. } if field == "package.include[1]"),
        "{e}"
    );
    let e = err("[package]\nname = \"@a/b\"\nversion = \"1.0.0\"\nexclude = \"a\"");
    assert!(
        matches!(&e, Error::InvalidField { field, expected: "an array of strings", .. } if field == "package.exclude")
    );
    let e = err("package = 1");
    assert!(matches!(&e, Error::InvalidField { field, .. } if field == "package"));
    let long = format!(
        "[package]\nname = \"@a/b\"\nversion = \"1.0.0\"\ndescription = \"{}\"",
        "x".repeat(1025)
    );
    assert_eq!(err(&long).code(), "PKG_E004");
}

#[test]
fn invalid_names() {
    for name in ["acme/widget", "@Acme/w", "@a/.x", "@a/b/c", "@a/"] {
        let e = err(&format!(
            "[package]\nname = \"{name}\"\nversion = \"1.0.0\""
        ));
        assert!(
            matches!(&e, Error::InvalidName { found, .. } if found == name),
            "{e}"
        );
    }
}

#[test]
fn invalid_versions_are_strict_semver() {
    for v in ["1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0 ", "latest"] {
        let e = err(&format!("[package]\nname = \"@a/b\"\nversion = \"{v}\""));
        assert!(
            matches!(&e, Error::InvalidVersion { found, .. } if found == v),
            "{v}: {e}"
        );
        assert_eq!(e.code(), "PKG_E006");
    }
}

#[test]
fn invalid_pattern() {
    let e = err("[package]\nname = \"@a/b\"\nversion = \"1.0.0\"\ninclude = [\"[\"]");
    assert!(
        matches!(&e, Error::InvalidPattern { field: "package.include", pattern, .. } if pattern == "[")
    );
    assert_eq!(e.code(), "PKG_E007");
}
