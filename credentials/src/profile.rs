//! The shared config and credentials files (`~/.aws/config`,
//! `~/.aws/credentials`), parsed the way the AWS SDKs parse them.
//!
//! Rules:
//!
//! * Blank lines and lines whose first non-blank character is `#` or `;` are
//!   comments. In a section header a comment may follow `]` directly; after
//!   a property value, `#`/`;` starts a comment only after a space or tab
//!   (`url = http://h/#x` keeps its `#x`).
//! * `[name]` starts a section. In the config file, profiles are
//!   `[profile name]` (any run of spaces or tabs after `profile`) and
//!   `[default]`; `[profile default]` wins over `[default]` when both exist;
//!   `[services name]` sections hold per-service settings and
//!   `[sso-session name]` sections IAM Identity Center sessions; other
//!   sections (`[name]` without the prefix) are not profiles. In
//!   the credentials file every `[name]` is a profile and `[profile name]`
//!   is ignored.
//! * Profile names are made of `A-Z a-z 0-9 _ - / . % @ : +`; a section with
//!   another name is ignored.
//! * `key = value`: the key is trimmed and lower-cased, the value trimmed. A
//!   line starting with a space or tab continues the previous value (joined
//!   with `\n`); that is how sub-properties are written
//!   (`s3 =\n  max_concurrent_requests = 20`).
//! * The same section twice merges; the same key twice: the last one wins.
//!   For one profile name, the credentials file wins over the config file,
//!   key by key.
//!
//! Errors give the file and line and never the text of the line (it may be a
//! secret key).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// A malformed config or credentials file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileParseError {
    /// The file.
    pub path: String,
    /// The line, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ProfileParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}: {}", self.path, self.line, self.message)
    }
}

/// Which of the two shared files a text comes from (they name profiles
/// differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `~/.aws/config`: `[profile name]`, `[default]`, `[services name]`.
    Config,
    /// `~/.aws/credentials`: `[name]`.
    Credentials,
}

/// The properties of one section.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Section {
    name: String,
    props: BTreeMap<String, String>,
}

/// A profile is a section of the profile kind.
pub type Profile = Section;

impl Section {
    /// The section's name (without `profile ` / `services `).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value of `key` (lower case), trimmed; `None` when absent or empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The sub-properties written under `key` on continuation lines.
    pub fn sub_properties(&self, key: &str) -> Result<BTreeMap<String, String>, String> {
        let mut out = BTreeMap::new();
        let Some(v) = self.props.get(key) else {
            return Ok(out);
        };
        for line in v.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let Some((k, v)) = line.split_once('=') else {
                return Err(format!(
                    "section `{}`: sub-property of `{key}` without `=`",
                    self.name
                ));
            };
            let k = k.trim();
            if k.is_empty() {
                return Err(format!(
                    "section `{}`: sub-property of `{key}` without a name",
                    self.name
                ));
            }
            out.insert(k.to_ascii_lowercase(), v.trim().to_string());
        }
        Ok(out)
    }

    /// The keys present, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.props.keys().map(String::as_str)
    }

    fn merge(&mut self, other: &Section) {
        for (k, v) in &other.props {
            self.props.insert(k.clone(), v.clone());
        }
    }
}

impl fmt::Debug for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys only: values include secret keys.
        f.debug_struct("Section")
            .field("name", &self.name)
            .field("keys", &self.props.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The profiles and `services` sections of the shared files, merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileSet {
    profiles: BTreeMap<String, Profile>,
    services: BTreeMap<String, Section>,
    sso_sessions: BTreeMap<String, Section>,
}

impl ProfileSet {
    /// Parses and merges the two files (either may be absent). `path`s are
    /// only used in error messages.
    pub fn parse(
        config: Option<(&Path, &str)>,
        credentials: Option<(&Path, &str)>,
    ) -> Result<Self, ProfileParseError> {
        let mut set = ProfileSet::default();
        if let Some((path, text)) = config {
            let raw = parse_sections(text, &path.display().to_string())?;
            let mut bare_default: Option<Section> = None;
            let mut prefixed_default = false;
            for (header, section) in raw {
                match classify(&header, FileKind::Config) {
                    Header::Profile { name, prefixed } => {
                        if name == "default" && !prefixed {
                            bare_default
                                .get_or_insert_with(|| named("default"))
                                .merge(&section);
                            continue;
                        }
                        prefixed_default |= name == "default";
                        set.profiles
                            .entry(name.clone())
                            .or_insert_with(|| named(&name))
                            .merge(&section);
                    }
                    Header::Services(name) => set
                        .services
                        .entry(name.clone())
                        .or_insert_with(|| named(&name))
                        .merge(&section),
                    Header::SsoSession(name) => set
                        .sso_sessions
                        .entry(name.clone())
                        .or_insert_with(|| named(&name))
                        .merge(&section),
                    Header::Ignored => {}
                }
            }
            if let (Some(d), false) = (bare_default, prefixed_default) {
                set.profiles.insert("default".into(), d);
            }
        }
        if let Some((path, text)) = credentials {
            for (header, section) in parse_sections(text, &path.display().to_string())? {
                if let Header::Profile { name, .. } = classify(&header, FileKind::Credentials) {
                    set.profiles
                        .entry(name.clone())
                        .or_insert_with(|| named(&name))
                        .merge(&section);
                }
            }
        }
        Ok(set)
    }

    /// The profile called `name`.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }

    /// The `[services name]` section called `name`.
    pub fn services(&self, name: &str) -> Option<&Section> {
        self.services.get(name)
    }

    /// The `[sso-session name]` section called `name` (config file only).
    pub fn sso_session(&self, name: &str) -> Option<&Section> {
        self.sso_sessions.get(name)
    }

    /// The profile names, sorted.
    pub fn profile_names(&self) -> impl Iterator<Item = &str> {
        self.profiles.keys().map(String::as_str)
    }

    /// The setting `key` of service `service_key` (e.g. `sts`,
    /// `personalize_events`) in the `services` section the profile names.
    pub fn service_setting(
        &self,
        profile: &Profile,
        service_key: &str,
        key: &str,
    ) -> Result<Option<String>, String> {
        let Some(section) = profile.get("services").and_then(|s| self.services(s)) else {
            return Ok(None);
        };
        Ok(section
            .sub_properties(service_key)?
            .remove(key)
            .filter(|v| !v.is_empty()))
    }
}

fn named(name: &str) -> Section {
    Section {
        name: name.to_string(),
        props: BTreeMap::new(),
    }
}

enum Header {
    Profile { name: String, prefixed: bool },
    Services(String),
    SsoSession(String),
    Ignored,
}

fn valid_profile_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-/.%@:+".contains(c))
}

/// `kw` followed by at least one space or tab, then the rest trimmed.
fn strip_keyword<'a>(header: &'a str, kw: &str) -> Option<&'a str> {
    let rest = header.strip_prefix(kw)?;
    rest.starts_with([' ', '\t']).then(|| rest.trim())
}

fn classify(header: &str, kind: FileKind) -> Header {
    let profile = |name: &str, prefixed| {
        if valid_profile_name(name) {
            Header::Profile {
                name: name.to_string(),
                prefixed,
            }
        } else {
            Header::Ignored
        }
    };
    match kind {
        FileKind::Credentials => match strip_keyword(header, "profile") {
            Some(_) => Header::Ignored,
            None => profile(header, false),
        },
        FileKind::Config => {
            if let Some(name) = strip_keyword(header, "profile") {
                profile(name, true)
            } else if let Some(name) = strip_keyword(header, "services") {
                if valid_profile_name(name) {
                    Header::Services(name.to_string())
                } else {
                    Header::Ignored
                }
            } else if let Some(name) = strip_keyword(header, "sso-session") {
                if valid_profile_name(name) {
                    Header::SsoSession(name.to_string())
                } else {
                    Header::Ignored
                }
            } else if header == "default" {
                profile(header, false)
            } else {
                Header::Ignored
            }
        }
    }
}

/// Cuts a comment off a line: anywhere when `need_space` is false, else only
/// after a space or tab.
fn strip_comment(line: &str, need_space: bool) -> &str {
    let mut prev_space = false;
    for (i, c) in line.char_indices() {
        if (c == '#' || c == ';') && (prev_space || !need_space) {
            return line[..i].trim();
        }
        prev_space = c == ' ' || c == '\t';
    }
    line.trim()
}

/// The sections of one file, in order, with their raw header text.
fn parse_sections(text: &str, path: &str) -> Result<Vec<(String, Section)>, ProfileParseError> {
    let err = |line: usize, message: &str| ProfileParseError {
        path: path.to_string(),
        line,
        message: message.to_string(),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: Vec<(String, Section)> = Vec::new();
    let mut last_key: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if raw.starts_with(['[']) {
            let line = strip_comment(raw, false);
            let Some(inner) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) else {
                return Err(err(n, "section header must end with `]`"));
            };
            out.push((inner.trim().to_string(), named(inner.trim())));
            last_key = None;
        } else if raw.starts_with([' ', '\t']) {
            let (Some((_, section)), Some(key)) = (out.last_mut(), &last_key) else {
                return Err(err(
                    n,
                    "indented continuation line without a property before it",
                ));
            };
            let value = section.props.entry(key.clone()).or_default();
            if !value.is_empty() {
                value.push('\n');
            }
            value.push_str(strip_comment(raw, true));
        } else {
            let Some((_, section)) = out.last_mut() else {
                return Err(err(n, "property before any `[section]` header"));
            };
            let line = strip_comment(raw, true);
            let Some((k, v)) = line.split_once('=') else {
                return Err(err(n, "expected `key = value`: no `=` on this line"));
            };
            let k = k.trim().to_ascii_lowercase();
            if k.is_empty() {
                return Err(err(n, "property without a name before `=`"));
            }
            section.props.insert(k.clone(), v.trim().to_string());
            last_key = Some(k);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(config: &str, creds: &str) -> ProfileSet {
        ProfileSet::parse(
            Some((Path::new("/c"), config)),
            Some((Path::new("/k"), creds)),
        )
        .unwrap()
    }

    fn err(config: &str) -> ProfileParseError {
        ProfileSet::parse(Some((Path::new("/c"), config)), None).unwrap_err()
    }

    #[test]
    fn basic_profiles_and_comments() {
        let s = set(
            "# top comment\n; another\n[default]\nregion = us-east-1 # trailing\n\n\
             [profile dev] ; c\nregion=eu-west-1\nendpoint_url = http://h/#frag\n\
             [profile\tTabbed]\nx = 1\n   [indented-not-header]\n",
            "[default]\naws_access_key_id = AK\n[dev]\naws_access_key_id=AK2\n\
             [profile ignored]\naws_access_key_id = NO\n",
        );
        let d = s.profile("default").unwrap();
        assert_eq!(d.get("region"), Some("us-east-1"));
        assert_eq!(d.get("aws_access_key_id"), Some("AK"));
        let dev = s.profile("dev").unwrap();
        assert_eq!(dev.get("region"), Some("eu-west-1"));
        assert_eq!(dev.get("endpoint_url"), Some("http://h/#frag"));
        assert_eq!(dev.get("aws_access_key_id"), Some("AK2"));
        assert_eq!(
            s.profile("Tabbed").unwrap().get("x"),
            Some("1\n[indented-not-header]")
        );
        assert!(s.profile("ignored").is_none());
        assert!(s.profile("profile ignored").is_none());
    }

    #[test]
    fn config_sections_without_prefix_are_not_profiles() {
        let s = set(
            "[dev]\nregion = a\n[profiledev]\nregion = b\n[sso-session x]\nk = v\n",
            "",
        );
        assert!(s.profile("dev").is_none());
        assert!(s.profile("profiledev").is_none());
        assert_eq!(s.profile_names().count(), 0);
    }

    #[test]
    fn profile_default_wins_over_bare_default() {
        let s = set(
            "[default]\nregion = bare\nonly_bare = 1\n[profile default]\nregion = prefixed\n",
            "",
        );
        let d = s.profile("default").unwrap();
        assert_eq!(d.get("region"), Some("prefixed"));
        assert_eq!(d.get("only_bare"), None);
        let s = set("[default]\nregion = bare\n", "");
        assert_eq!(s.profile("default").unwrap().get("region"), Some("bare"));
    }

    #[test]
    fn credentials_file_wins_key_by_key_and_duplicates_merge() {
        let s = set(
            "[profile p]\naws_access_key_id = fromconfig\nregion = r1\n[profile p]\nregion = r2\n",
            "[p]\naws_access_key_id = fromcreds\n",
        );
        let p = s.profile("p").unwrap();
        assert_eq!(p.get("aws_access_key_id"), Some("fromcreds"));
        assert_eq!(p.get("region"), Some("r2"));
    }

    #[test]
    fn keys_are_lowercased_and_empty_values_absent() {
        let s = set("[default]\nRegion = x\nempty =\n", "");
        let d = s.profile("default").unwrap();
        assert_eq!(d.get("region"), Some("x"));
        assert_eq!(d.get("empty"), None);
        assert_eq!(d.keys().collect::<Vec<_>>(), vec!["empty", "region"]);
    }

    #[test]
    fn continuation_and_services_sections() {
        let s = set(
            "[profile p]\nservices = local\ns3 =\n  max_concurrent_requests = 20 # c\n  \
             addressing_style = path\n\n[services local]\npersonalize_events =\n  \
             endpoint_url = http://127.0.0.1:9000\nsts =\n\tendpoint_url = http://127.0.0.1:9001\n",
            "",
        );
        let p = s.profile("p").unwrap();
        let s3 = p.sub_properties("s3").unwrap();
        assert_eq!(s3["max_concurrent_requests"], "20");
        assert_eq!(s3["addressing_style"], "path");
        assert_eq!(
            s.service_setting(p, "personalize_events", "endpoint_url"),
            Ok(Some("http://127.0.0.1:9000".into()))
        );
        assert_eq!(
            s.service_setting(p, "sts", "endpoint_url"),
            Ok(Some("http://127.0.0.1:9001".into()))
        );
        assert_eq!(s.service_setting(p, "s3", "endpoint_url"), Ok(None));
        // A profile without services, and services naming a missing section.
        let s = set("[default]\nservices = nope\n", "");
        let d = s.profile("default").unwrap();
        assert_eq!(s.service_setting(d, "sts", "endpoint_url"), Ok(None));
    }

    #[test]
    fn malformed_sub_properties() {
        let s = set("[default]\ns3 =\n  novalue\n", "");
        let e = s
            .profile("default")
            .unwrap()
            .sub_properties("s3")
            .unwrap_err();
        assert!(e.contains("without `=`"), "{e}");
    }

    #[test]
    fn invalid_profile_names_are_ignored() {
        let s = set(
            "[profile bad name]\nregion = x\n[profile ok-1.2@x:y+z/%]\nregion = y\n",
            "[]\na = b\n",
        );
        assert!(s.profile("bad name").is_none());
        assert_eq!(
            s.profile("ok-1.2@x:y+z/%").unwrap().get("region"),
            Some("y")
        );
    }

    #[test]
    fn malformed_files_name_line_and_never_the_content() {
        let e = err("[default]\naws_secret_access_key SECRETVALUE\n");
        assert_eq!(e.line, 2);
        assert!(
            e.to_string()
                .starts_with("/c line 2: expected `key = value`"),
            "{e}"
        );
        assert!(!e.to_string().contains("SECRETVALUE"));
        let e = err("region = x\n");
        assert_eq!(
            (e.line, e.message.as_str()),
            (1, "property before any `[section]` header")
        );
        let e = err("[default\nregion = x\n");
        assert!(e.message.contains("must end with `]`"), "{e}");
        let e = err("[default]\n  continued\n");
        assert!(e.message.contains("continuation"), "{e}");
        let e = err("[default]\n= x\n");
        assert!(e.message.contains("without a name"), "{e}");
    }

    #[test]
    fn crlf_bom_and_header_comments() {
        let s = set(
            "\u{feff}[default]#c\r\nregion = a\r\n[profile x];c\r\nregion = b\r\n",
            "",
        );
        assert_eq!(s.profile("default").unwrap().get("region"), Some("a"));
        assert_eq!(s.profile("x").unwrap().get("region"), Some("b"));
    }

    #[test]
    fn debug_shows_keys_not_values() {
        let s = set("", "[default]\naws_secret_access_key = SUPERSECRET\n");
        let d = format!("{s:?}");
        assert!(d.contains("aws_secret_access_key"), "{d}");
        assert!(!d.contains("SUPERSECRET"), "{d}");
    }
}
