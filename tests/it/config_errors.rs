//! Configuration errors through the binary, word for word: every problem names its full key
//! and its line (or the environment variable that set it), says what was expected and what
//! was found, suggests the key meant, comes all at once, is printed once, and never shows a
//! secret value.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::binary;

/// Runs the binary; returns (exit code, stdout, stderr).
fn run(args: &[&str], config: &Path, env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let out = Command::new(binary())
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("NODEPORT_WATCH_CONFIG")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `validate`'s report, with the temporary folder replaced by `DIR`.
fn problems(text: &str, env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, text);
    let (code, stdout, stderr) = run(&["validate"], &path, env);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    stderr.replace(&dir.path().display().to_string(), "DIR")
}

const SINK: &str = "\n[[sinks]]\nname = \"out\"\ntype = \"stdout\"\n";

#[test]
fn a_string_where_a_list_belongs_names_the_key_and_the_line() {
    let text = format!("[[sources]]\nname = \"logs\"\ntype = \"file\"\npaths = \"x.log\"\n{SINK}");
    assert_eq!(
        problems(&text, &[]),
        "DIR/config.toml: 1 problem:\n  \
         DIR/config.toml:4: sources[0].paths: expected a list such as [\"…\"], found a string\n"
    );
}

#[test]
fn a_number_where_a_duration_belongs_shows_how_to_write_one() {
    let text = format!(
        "[[sources]]\nname = \"logs\"\ntype = \"file\"\npaths = [\"x.log\"]\ninterval = 5\n{SINK}"
    );
    assert_eq!(
        problems(&text, &[]),
        "DIR/config.toml: 1 problem:\n  \
         DIR/config.toml:5: sources[0].interval: expected a duration string such as \"5s\", \
         found an integer\n"
    );
}

#[test]
fn a_missing_key_is_named_with_its_dot_at_its_table() {
    let text = format!("[[sources]]\ntype = \"file\"\npaths = [\"x.log\"]\n{SINK}");
    assert_eq!(
        problems(&text, &[]),
        "DIR/config.toml: 1 problem:\n  \
         DIR/config.toml:1: sources[0].name: this key is required\n"
    );
}

#[test]
fn every_problem_at_once_type_errors_included_top_to_bottom() {
    let text = "\
[log]
format = \"yaml\"

[[sources]]
name = \"logs\"
type = \"file\"
paths = [\"x.log\"]
interval = 5
max_record_size = 4

[[sources]]
name = \"more\"
type = \"file\"
paths = \"y.log\"

[[sinks]]
name = \"out\"
type = \"stdout\"
min_severity = \"urgent\"

[delivery]
max_attempts = \"three\"
";
    assert_eq!(
        problems(text, &[]),
        "DIR/config.toml: 6 problems:\n  \
         DIR/config.toml:2: log.format: `yaml` is not `text` or `json`\n  \
         DIR/config.toml:8: sources[0].interval: expected a duration string such as \"5s\", \
         found an integer\n  \
         DIR/config.toml:9: sources[0].max_record_size: expected a size string such as \
         \"4MiB\", found an integer\n  \
         DIR/config.toml:14: sources[1].paths: expected a list such as [\"…\"], found a string\n  \
         DIR/config.toml:19: sinks[0].min_severity: `urgent` is not one of info, low, medium, \
         high, critical\n  \
         DIR/config.toml:22: delivery.max_attempts: expected a whole number, found a string\n"
    );
}

#[test]
fn misspelled_keys_tables_and_types_get_a_suggestion() {
    let text = "\
[detecton]
rules = [\"nodeport\"]

[[sources]]
name = \"logs\"
type = \"file\"
pahts = [\"x.log\"]

[[sinks]]
name = \"out\"
type = \"webhok\"

[[sinks]]
name = \"other\"
type = \"stdout\"
colour = \"blue\"
";
    assert_eq!(
        problems(text, &[]),
        "DIR/config.toml: 5 problems:\n  \
         DIR/config.toml:1: detecton: unknown key `detecton`; did you mean `detection`?\n  \
         DIR/config.toml:4: sources[0].paths: this key is required\n  \
         DIR/config.toml:7: sources[0].pahts: unknown key `pahts`; did you mean `paths`?\n  \
         DIR/config.toml:11: sinks[0].type: unknown type `webhok`; did you mean `webhook`?\n  \
         DIR/config.toml:16: sinks[1].colour: unknown key `colour` (known keys: name, rules, \
         min_severity, notify_closed, remind_after)\n"
    );
}

#[test]
fn problems_from_the_environment_name_the_variable_not_the_file() {
    let text =
        format!("[[sources]]\nname = \"logs\"\ntype = \"file\"\npaths = [\"x.log\"]\n{SINK}");
    assert_eq!(
        problems(
            &text,
            &[
                ("NODEPORT_WATCH__SOURCES__0__INTERVAL", "5"),
                ("NODEPORT_WATCH__SINKS__0__MIN_SEVERTY", "high"),
            ]
        ),
        "DIR/config.toml: 2 problems:\n  \
         NODEPORT_WATCH__SINKS__0__MIN_SEVERTY: sinks[0].min_severty: unknown key \
         `min_severty`; did you mean `min_severity`?\n  \
         NODEPORT_WATCH__SOURCES__0__INTERVAL: sources[0].interval: expected a duration \
         string such as \"5s\", found an integer\n"
    );
    // A valid override of one source's key is applied, not refused.
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, &text);
    let (code, stdout, stderr) = run(
        &["validate"],
        &path,
        &[("NODEPORT_WATCH__SOURCES__0__INTERVAL", "5s")],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
}

#[test]
fn run_prints_the_error_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "[[sources]]\nname = \"logs\"\ntype = \"file\"\npaths = \"x.log\"\n",
    );
    let (code, stdout, stderr) = run(&["run"], &path, &[]);
    assert_eq!(code, Some(1), "{stdout}");
    let shown = path.display().to_string();
    assert_eq!(
        stderr,
        format!(
            "nodeport-watch: {shown}: 1 problem:\n  \
             {shown}:4: sources[0].paths: expected a list such as [\"…\"], found a string\n"
        )
    );
}

#[test]
fn a_folder_or_a_missing_file_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().display().to_string();
    for command in ["run", "validate"] {
        let (code, _, stderr) = run(&[command], dir.path(), &[]);
        assert_eq!(code, Some(1));
        assert!(
            stderr.ends_with(&format!(
                "{folder} is a folder; give --config the configuration file itself \
                 (e.g. {folder}/config.toml)\n"
            )),
            "{command}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");

        let missing = dir.path().join("missing.toml");
        let (code, _, stderr) = run(&[command], &missing, &[]);
        assert_eq!(code, Some(1));
        assert!(
            stderr.ends_with(&format!(
                "{}: no such file; give --config the path of a TOML configuration file\n",
                missing.display()
            )),
            "{command}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

#[test]
fn secrets_written_inline_are_never_echoed() {
    let text = "\
[[sinks]]
name = \"pager\"
type = \"pagerduty\"
routing_key = \"R0UTING-KEY-hunter2\"

[[sinks]]
name = \"hec\"
type = \"splunk_hec\"
url = \"https://splunk.example.com\"
token = 918273645546372819

[[sinks]]
name = \"hook\"
type = \"webhook\"
url = \"https://example.com/hook\"
hmac_secret = [\"hunter2-in-a-list\"]
";
    let report = problems(text, &[]);
    assert_eq!(
        report,
        "DIR/config.toml: 3 problems:\n  \
         DIR/config.toml:4: sinks[0].routing_key: a secret must not be written in the \
         configuration: reference it with `{ env = \"VARIABLE\" }` or `{ file = \
         \"/path/to/file\" }`\n  \
         DIR/config.toml:10: sinks[1].token: expected a string, `{ env = \"VARIABLE\" }` or \
         `{ file = \"/path\" }`, found an integer\n  \
         DIR/config.toml:16: sinks[2].hmac_secret: expected a string, `{ env = \"VARIABLE\" }` \
         or `{ file = \"/path\" }`, found a list\n"
    );
    for secret in ["hunter2", "918273645546372819"] {
        assert!(!report.contains(secret), "{report}");
    }
}

#[test]
fn a_syntax_error_shows_the_parser_position_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "[[sources]\nname = \"x\"\n");
    let (code, _, stderr) = run(&["run"], &path, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr,
        format!(
            "nodeport-watch: {}: line 1, column 11: not valid TOML: unclosed array table, \
             expected `]`\n",
            path.display()
        )
    );
}

/// The parser's own message quotes the broken line; an unclosed quote after an inline secret
/// must show the key and the position only.
#[test]
fn a_syntax_error_on_a_secret_line_never_shows_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "[[sinks]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"https://hooks.example.com/T0/hunter2\n",
    );
    let (code, _, stderr) = run(&["validate"], &path, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr,
        format!(
            "{}: line 4, column 44 (key `url`): not valid TOML: invalid basic \
             string, expected `\"`\n",
            path.display()
        )
    );
}

#[test]
fn keys_inside_cloud_source_tables_are_named_too() {
    let text = format!(
        "[[sources]]\nname = \"aks\"\ntype = \"azure_monitor\"\n\
         workspace_id = \"00000000-0000-0000-0000-000000000000\"\nmax_rows = \"lots\"\n\
         max_span = 3600\n{SINK}"
    );
    assert_eq!(
        problems(&text, &[]),
        "DIR/config.toml: 2 problems:\n  \
         DIR/config.toml:5: sources[0].max_rows: expected a whole number, found a string\n  \
         DIR/config.toml:6: sources[0].max_span: expected a duration string such as \"5s\", \
         found an integer\n"
    );
}

#[test]
fn a_table_that_cannot_be_read_keeps_the_numbering_of_the_others() {
    let text = "\
[[sources]]
type = \"file\"
paths = [\"a.log\"]

[[sources]]
name = \"second\"
type = \"file\"
paths = [\"b.log\"]
start_at = \"middle\"

[[sinks]]
name = \"hook\"
type = \"webhook\"

[[scans]]
name = \"nightly\"
every = \"24h\"
lookback = \"25h\"
sources = [\"first\"]
";
    // No "no sink is configured" and no guess about the scan's source: the unreadable tables
    // might have been them.
    assert_eq!(
        problems(text, &[]),
        "DIR/config.toml: 3 problems:\n  \
         DIR/config.toml:1: sources[0].name: this key is required\n  \
         DIR/config.toml:9: sources[1].start_at: `middle` is not `beginning` or `end`\n  \
         DIR/config.toml:11: sinks[0].url: this key is required\n"
    );
}

/// Every sink and source that sends a credential refuses plain http to another machine, with
/// the fix in the message and the URL never quoted; loopback stays allowed for local receivers.
#[test]
fn credentials_are_never_sent_over_plain_http_except_to_loopback() {
    let text = "\
[[sinks]]
name = \"hook\"
type = \"webhook\"
url = \"http://hooks.example.com/in\"
hmac_secret = { env = \"NPW_TEST_HMAC\" }

[[sinks]]
name = \"chat\"
type = \"slack\"
webhook_url = { env = \"NPW_TEST_SLACK\" }

[[sinks]]
name = \"splunk\"
type = \"splunk_hec\"
url = \"http://splunk.example.com:8088\"
token = { env = \"NPW_TEST_HEC\" }

[[sinks]]
name = \"pager\"
type = \"pagerduty\"
url = \"http://events.example.com/v2/enqueue\"
routing_key = { env = \"NPW_TEST_HEC\" }

[[sinks]]
name = \"local\"
type = \"webhook\"
url = \"http://127.0.0.1:9/in\"
hmac_secret = { env = \"NPW_TEST_HMAC\" }

[[sinks]]
name = \"plain\"
type = \"webhook\"
url = \"http://hooks.example.com/no-credential\"

[[sources]]
name = \"gke\"
type = \"gcp_logging\"
projects = [\"p-1\"]
endpoint = \"http://logging.example.com\"
";
    let env = [
        ("NPW_TEST_HMAC", "hmac-key-1"),
        (
            "NPW_TEST_SLACK",
            "http://hooks.slack.com/services/T0/B0/sl4cks3cret",
        ),
        ("NPW_TEST_HEC", "hec-t0ken"),
    ];
    let report = problems(text, &env);
    let fix = "use https:// (http:// is accepted only for localhost, 127.0.0.0/8 or ::1)";
    for (line, key, what) in [
        (4, "sinks[0].url", "the HMAC signature"),
        (10, "sinks[1].webhook_url", "the webhook URL's token"),
        (15, "sinks[2].url", "the HEC token"),
        (21, "sinks[3].url", "the routing key"),
        (39, "sources[0].endpoint", "the Google access token"),
    ] {
        let expected = format!(
            "DIR/config.toml:{line}: {key}: plain http would send {what} in clear text: {fix}"
        );
        assert!(report.contains(&expected), "{expected}\n{report}");
    }
    assert!(
        report.starts_with("DIR/config.toml: 5 problems:"),
        "{report}"
    );
    assert!(!report.contains("sl4cks3cret"), "{report}");
}
