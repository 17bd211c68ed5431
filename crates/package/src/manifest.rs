//! `vouch.toml`: strict parsing of the package manifest.
//!
//! ```toml
//! [package]
//! name = "@scope/name"         # required, see `PackageName`
//! version = "1.2.3"            # required, strict SemVer 2.0
//! description = "..."          # optional, at most 1024 bytes
//! license = "Apache-2.0"       # optional, at most 256 bytes
//! include = ["src/**", "README.md"]  # optional, see `Filter`
//! exclude = ["**/*.log"]       # optional
//! ```
//!
//! Unknown keys anywhere are refused with the key named, so a typo such as `exlude`
//! never silently publishes files the owner meant to leave out.

use std::path::Path;

use toml::{Table, Value};

use crate::{Error, Filter, PackageName};

/// The manifest's file name at the package root.
pub const MANIFEST_FILE: &str = "vouch.toml";

const MAX_DESCRIPTION: usize = 1024;
const MAX_LICENSE: usize = 256;

/// A parsed, valid `vouch.toml`.
#[derive(Debug, Clone)]
pub struct Manifest {
    name: PackageName,
    version: semver::Version,
    description: Option<String>,
    license: Option<String>,
    filter: Filter,
}

impl Manifest {
    /// Parses the text of a `vouch.toml`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut root: Table = text.parse().map_err(|source| Error::ManifestSyntax {
            source: Box::new(source),
        })?;
        let package = root
            .remove("package")
            .ok_or(Error::MissingField { field: "package" })?;
        if let Some(key) = root.keys().next() {
            return Err(Error::UnknownKey { key: key.clone() });
        }
        let Value::Table(mut package) = package else {
            return Err(wrong_type("package", "a table", &package));
        };

        let name = take_string(&mut package, "name", "package.name", None)?.ok_or(
            Error::MissingField {
                field: "package.name",
            },
        )?;
        let name = PackageName::parse(&name)?;
        let version = take_string(&mut package, "version", "package.version", None)?.ok_or(
            Error::MissingField {
                field: "package.version",
            },
        )?;
        let version = semver::Version::parse(&version).map_err(|source| Error::InvalidVersion {
            found: version.clone(),
            source,
        })?;
        let description = take_string(
            &mut package,
            "description",
            "package.description",
            Some(MAX_DESCRIPTION),
        )?;
        let license = take_string(
            &mut package,
            "license",
            "package.license",
            Some(MAX_LICENSE),
        )?;
        let include = take_strings(&mut package, "include", "package.include")?;
        let exclude = take_strings(&mut package, "exclude", "package.exclude")?;
        if let Some(key) = package.keys().next() {
            return Err(Error::UnknownKey {
                key: format!("package.{key}"),
            });
        }
        let filter = Filter::new(&include, &exclude)?;
        Ok(Self {
            name,
            version,
            description,
            license,
            filter,
        })
    }

    /// Reads and parses a manifest file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text)
    }

    /// `package.name`.
    pub fn name(&self) -> &PackageName {
        &self.name
    }

    /// `package.version`.
    pub fn version(&self) -> &semver::Version {
        &self.version
    }

    /// `package.description`.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// `package.license`.
    pub fn license(&self) -> Option<&str> {
        self.license.as_deref()
    }

    /// The compiled `include` / `exclude` patterns.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }
}

fn wrong_type(field: &str, expected: &'static str, found: &Value) -> Error {
    Error::InvalidField {
        field: field.to_owned(),
        expected,
        found: found.type_str().to_owned(),
    }
}

fn take_string(
    table: &mut Table,
    key: &str,
    field: &'static str,
    max_len: Option<usize>,
) -> Result<Option<String>, Error> {
    match table.remove(key) {
        None => Ok(None),
        Some(Value::String(s)) => match max_len {
            Some(max) if s.len() > max => Err(Error::InvalidField {
                field: field.to_owned(),
                expected: if max == MAX_DESCRIPTION {
                    "a string of at most 1024 bytes"
                } else {
                    "a string of at most 256 bytes"
                },
                found: format!("{} bytes", s.len()),
            }),
            _ => Ok(Some(s)),
        },
        Some(other) => Err(wrong_type(field, "a string", &other)),
    }
}

fn take_strings(table: &mut Table, key: &str, field: &'static str) -> Result<Vec<String>, Error> {
    match table.remove(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s),
                other => Err(wrong_type(&format!("{field}[{i}]"), "a string", &other)),
            })
            .collect(),
        Some(other) => Err(wrong_type(field, "an array of strings", &other)),
    }
}
