//! The files under `deploy/` against the configuration loader: every `APP__…` variable they
//! name is a setting the service knows, and each deployment shape's variables — systemd
//! (`production.env.example`), compose (`compose/api.env`, `compose.env.example`, the
//! `environment:` of `compose.yaml`), Kubernetes (`k8s/base/yanzheng.env`,
//! `k8s/base/secret.env.example`) — are a configuration production accepts once the
//! placeholders are replaced. Unknown keys are refused at start (`deny_unknown_fields`), so a
//! misspelt or retired setting in a deploy file fails here, not at an operator's first start.
//!
//! No YAML parser: settings live in `KEY=VALUE` files, and YAML is only searched for names (and
//! for compose's one-line `APP__…: value` entries).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use api::configuration::{load_from, Environment};

/// What the templates write where a secret goes.
const PLACEHOLDER: &str = "CHANGE-ME";

/// Stands in for each placeholder (`openssl rand -hex 32`): strong enough for every check.
const STRONG: &str = "ad1414956109e25263bc27c47f2a83d8d8ac1c70cfba964de572d68878416a69";

/// The deployment shapes: their files, later ones winning, as the deployment layers them.
const SHAPES: [(&str, &[&str]); 3] = [
    ("systemd", &["production.env.example"]),
    (
        "compose",
        &["compose/api.env", "compose.env.example", "compose.yaml"],
    ),
    (
        "kubernetes",
        &["k8s/base/yanzheng.env", "k8s/base/secret.env.example"],
    ),
];

/// Keys the templates hold that are not the service's (compose's own interpolation).
const NOT_SETTINGS: [&str; 1] = ["YZ_POSTGRES_PASSWORD"];

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn read(relative: &str) -> String {
    let path = deploy_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A placeholder replaced by [`STRONG`]: the whole value when it starts with one (the code
/// secret's `CHANGE-ME-run-openssl-rand-hex-32`), else just the placeholder (a URL's password).
/// Compose's `${VAR…}` interpolations are replaced the same way.
fn filled_in(value: &str) -> String {
    if value.starts_with(PLACEHOLDER) {
        return STRONG.to_owned();
    }
    let mut out = value.replace(PLACEHOLDER, STRONG);
    while let Some(start) = out.find("${") {
        let end = out[start..].find('}').map_or(out.len(), |i| start + i + 1);
        out.replace_range(start..end, STRONG);
    }
    out
}

/// The variables a file sets. `KEY=VALUE` lines (systemd's `EnvironmentFile`, compose's
/// `env_file`, kustomize's `envs`: blank lines and `#` comments skipped, nothing quoted); for a
/// YAML file, its one-line `APP__…: value` entries.
fn variables(relative: &str) -> Vec<(String, String)> {
    let text = read(relative);
    let yaml = relative.ends_with(".yaml");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            if yaml {
                let (k, v) = l.split_once(": ")?;
                k.starts_with("APP")
                    .then(|| (k.to_owned(), v.trim().to_owned()))
            } else {
                let (k, v) = l
                    .split_once('=')
                    .unwrap_or_else(|| panic!("{relative}: `{l}` is not KEY=VALUE"));
                Some((k.to_owned(), v.to_owned()))
            }
        })
        .collect()
}

/// Every `APP__…` name in `text`, and every other `APP_…` word but `APP_ENVIRONMENT` (a
/// single underscore is a typo the loader would ignore without a word).
fn names_in(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let is_name_char = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_';
    let (mut settings, mut typos) = (BTreeSet::new(), BTreeSet::new());
    let mut from = 0;
    while let Some(i) = text[from..].find("APP_") {
        let start = from + i;
        let end = text[start..]
            .find(|c: char| !is_name_char(c))
            .map_or(text.len(), |n| start + n);
        from = end;
        if text[..start].chars().next_back().is_some_and(is_name_char) {
            continue; // inside a longer word (`…__APP_ID`)
        }
        let name = &text[start..end];
        if let Some(rest) = name.strip_prefix("APP__") {
            // `APP__SECTION__…` in prose, or `APP__SMS__RONGLIAN__…`: not a name.
            if !rest.is_empty() && !name.ends_with('_') {
                settings.insert(name.to_owned());
            }
        } else if name != "APP_ENVIRONMENT" {
            typos.insert(name.to_owned());
        }
    }
    (settings, typos)
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn every_variable_the_deploy_files_name_is_a_setting() {
    let mut files = Vec::new();
    files_under(&deploy_dir(), &mut files);
    let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut typos = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let shown = file
            .strip_prefix(deploy_dir())
            .unwrap()
            .display()
            .to_string();
        let (settings, misspelt) = names_in(&text);
        for name in settings {
            names.entry(name).or_default().insert(shown.clone());
        }
        typos.extend(
            misspelt
                .into_iter()
                .map(|t| format!("{t} in deploy/{shown}")),
        );
    }
    assert!(
        typos.is_empty(),
        "not `APP__…` (two underscores) nor APP_ENVIRONMENT, so the service would ignore it: {typos:#?}"
    );
    // The scan finds what it must (it is not quietly reading nothing).
    for expected in [
        "APP__SERVER__METRICS_PORT",
        "APP__SECURITY__CODE_SECRET",
        "APP__SMS__RONGLIAN__AUTH_TOKEN",
    ] {
        assert!(
            names.contains_key(expected),
            "{expected} not found under deploy/"
        );
    }

    // A value the file gives it, if one does (so a number is a number), else any.
    let mut values = BTreeMap::new();
    for (_, shape_files) in SHAPES {
        for file in shape_files {
            for (k, v) in variables(file) {
                values.insert(k, filled_in(&v));
            }
        }
    }
    let config_dir = tempfile::tempdir().unwrap();
    let unknown: Vec<String> = names
        .iter()
        .filter_map(|(name, found_in)| {
            let value = values.get(name).cloned().unwrap_or_else(|| "1".into());
            // In `local`, where nothing else is required: only this name can be refused.
            let err = load_from(config_dir.path(), [(name.clone(), value)]).err()?;
            let err = err.to_string();
            err.contains("unknown field")
                .then(|| format!("{name} (in {found_in:?}): {err}"))
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "names under deploy/ that are no setting of the service:\n{}",
        unknown.join("\n")
    );
}

#[test]
fn each_deployment_shape_is_a_configuration_production_accepts() {
    let config_dir = tempfile::tempdir().unwrap();
    for (shape, files) in SHAPES {
        let mut env = BTreeMap::new();
        for file in files {
            for (key, value) in variables(file) {
                assert!(
                    key == "APP_ENVIRONMENT"
                        || key.starts_with("APP__")
                        || NOT_SETTINGS.contains(&key.as_str()),
                    "{shape}: deploy/{file} sets {key}, which the service does not read"
                );
                if file.ends_with(".example") && is_secret(&key) {
                    assert!(
                        value.contains(PLACEHOLDER),
                        "{shape}: deploy/{file}: {key} must be a {PLACEHOLDER} placeholder in a template"
                    );
                }
                env.insert(key, filled_in(&value));
            }
        }
        assert_eq!(
            env.get("APP_ENVIRONMENT").map(String::as_str),
            Some("production"),
            "{shape}: its files set APP_ENVIRONMENT=production"
        );
        let settings = load_from(config_dir.path(), env.clone()).unwrap_or_else(|e| {
            panic!("{shape}: production refuses {files:?} (placeholders filled in): {e}")
        });
        assert_eq!(settings.environment, Environment::Production, "{shape}");

        // As shipped, with the placeholders, the same files are refused: nobody runs on them.
        let as_shipped: BTreeMap<String, String> =
            files.iter().flat_map(|file| variables(file)).collect();
        let err = load_from(config_dir.path(), as_shipped)
            .err()
            .unwrap_or_else(|| panic!("{shape}: starts on the templates' placeholders"))
            .to_string();
        assert!(err.contains("security.code_secret"), "{shape}: {err}");
    }
}

/// Keys whose value in a committed template must be a placeholder.
fn is_secret(key: &str) -> bool {
    [
        "CODE_SECRET",
        "AUTH_TOKEN",
        "ACCOUNT_SID",
        "APP_ID",
        "__TOKEN",
        "PASSWORD",
    ]
    .iter()
    .any(|s| key.ends_with(s))
        || (key.starts_with("APP__DATABASE__") && key.ends_with("__URL"))
}
