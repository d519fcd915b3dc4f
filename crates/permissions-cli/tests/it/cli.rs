//! Runs the `ckpt-perms` binary against an in-process emulator on 127.0.0.1: every
//! verb and format, standard input, pagination, and each error path with its exit
//! code and message.

use crate::common;

use std::time::Duration;

use crate::common::{CKPT, KEY, Server, bare, ids, jsonl, stderr, stdout, tempfile_dir};
use permissions_emulator::Fault;
use predicates::prelude::*;
use serde_json::Value;

#[test]
fn list_prints_every_format() {
    let server = Server::seeded(3);
    let run = |format: &str| {
        let output = server
            .cmd()
            .args(["list", CKPT, "--format", format])
            .output()
            .unwrap();
        assert!(output.status.success(), "{format}: {}", stderr(&output));
        // Piped: no progress line, no warning, nothing extra.
        assert_eq!(stderr(&output), "", "{format}");
        stdout(&output)
    };
    let newest_first = [
        "cp_000000000000000000000002",
        "cp_000000000000000000000001",
        "cp_000000000000000000000000",
    ];

    let lines = jsonl(&run("jsonl"));
    assert_eq!(ids(&lines), newest_first);
    assert_eq!(lines[0]["object"], "checkpoint.permission");
    assert_eq!(lines[0]["project_id"], "proj_000000000000000000000002");
    assert_eq!(run("auto"), run("jsonl"), "auto is jsonl when piped");

    for format in ["json", "pretty"] {
        let array: Vec<Value> = serde_json::from_str(&run(format)).unwrap();
        assert_eq!(ids(&array), newest_first, "{format}");
    }
    assert!(run("pretty").contains("\n    \"id\": \"cp_000000000000000000000002\""));
    assert_eq!(
        run("json").lines().count(),
        3,
        "json: one permission per line"
    );

    let yaml: Vec<Value> = serde_norway::from_str(&run("yaml")).unwrap();
    assert_eq!(ids(&yaml), newest_first);

    let raw = jsonl(&run("raw"));
    assert_eq!(raw.len(), 1, "one page");
    assert_eq!(raw[0]["object"], "list");
    assert_eq!(raw[0]["has_more"], false);

    let table = run("table");
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(
        rows[0].split_whitespace().collect::<Vec<_>>(),
        ["ID", "PROJECT_ID", "CREATED_AT"]
    );
    assert_eq!(
        rows[1],
        "cp_000000000000000000000002  proj_000000000000000000000002  2024-07-23T20:00:02Z"
    );
    assert_eq!(rows.len(), 4);
}

#[test]
fn list_follows_pages_and_stops_at_max_items() {
    let server = Server::seeded(25);
    let output = server
        .cmd()
        .args([
            "list",
            CKPT,
            "--limit",
            "10",
            "--order",
            "ascending",
            "--max-items",
            "23",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let items = ids(&jsonl(&stdout(&output)));
    let expected: Vec<String> = (0..23).map(|i| format!("cp_{i:024}")).collect();
    assert_eq!(items, expected);
    assert_eq!(server.requests(), 3, "pages of 10, 10 and 3 of 10");

    // Without a cap, every page; `raw` shows the pages themselves.
    let output = server
        .cmd()
        .args(["--format", "raw", "list", "--limit", "10"])
        .args(["--fine-tuned-model-checkpoint", CKPT])
        .output()
        .unwrap();
    let pages = jsonl(&stdout(&output));
    let sizes: Vec<usize> = pages
        .iter()
        .map(|p| p["data"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(pages[2]["has_more"], false);
    assert_eq!(server.requests(), 6);

    // --after and --project-id are sent as given.
    let output = server
        .cmd()
        .args([
            "list",
            CKPT,
            "--order",
            "asc",
            "--after",
            "cp_000000000000000000000020",
        ])
        .output()
        .unwrap();
    assert_eq!(ids(&jsonl(&stdout(&output))).len(), 4);
    let output = server
        .cmd()
        .args([
            "list",
            CKPT,
            "--project-id",
            "proj_000000000000000000000007",
        ])
        .output()
        .unwrap();
    assert_eq!(
        ids(&jsonl(&stdout(&output))),
        ["cp_000000000000000000000007"]
    );
}

#[test]
fn an_error_after_some_pages_keeps_what_was_printed_and_exits_1() {
    let server = Server::seeded(25);
    // The first request passes, the second gets a 500.
    server
        .emulator()
        .inject(Fault::Delay(Duration::from_millis(1)), 1);
    server.emulator().inject(Fault::status(500), 1);
    let output = server
        .cmd()
        .args([
            "--max-retries",
            "0",
            "--format",
            "json",
            "list",
            CKPT,
            "--limit",
            "10",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let printed: Vec<Value> = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(printed.len(), 10, "the first page, as a closed array");
    let err = stderr(&output);
    let mut lines = err.lines();
    assert_eq!(
        lines.next().unwrap(),
        "stopped by the error below: listed 10 permission(s); the rest were not listed \
         (continue with --after cp_000000000000000000000015)"
    );
    assert_eq!(
        lines.next().unwrap(),
        format!(
            "GET \"{}/fine_tuning/checkpoints/{CKPT}/permissions?after=cp_000000000000000000000015&limit=10\": 500 Internal Server Error",
            server.url
        )
    );
    assert!(err.contains("\"error\": {"), "{err}");
}

#[test]
fn retrieve_prints_one_page_and_warns() {
    let server = Server::seeded(5);
    let output = server
        .cmd()
        .args(["retrieve", CKPT, "--limit", "2", "--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let page: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(page["object"], "list");
    assert_eq!(page["has_more"], true);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        stderr(&output).trim(),
        "warning: `retrieve` is deprecated: Retrieve is deprecated. Please swap to the paginated list method instead."
    );
    assert_eq!(server.requests(), 1, "one page only");

    let output = server
        .cmd()
        .args([
            "retrieve",
            "--fine-tuned-model-checkpoint",
            CKPT,
            "--format",
            "table",
        ])
        .output()
        .unwrap();
    assert_eq!(stdout(&output).lines().count(), 6);
}

#[test]
fn create_grants_from_flags_and_reports_the_count() {
    let server = Server::seeded(0);
    let output = server
        .cmd()
        .args([
            "create",
            CKPT,
            "--project-id",
            "proj_a",
            "--project-id",
            "proj_b",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let granted = jsonl(&stdout(&output));
    let projects: Vec<&str> = granted
        .iter()
        .map(|v| v["project_id"].as_str().unwrap())
        .collect();
    assert_eq!(projects, ["proj_a", "proj_b"]);
    assert!(
        stderr(&output).contains("granted 2 project(s)"),
        "{}",
        stderr(&output)
    );

    for format in ["json", "pretty", "yaml"] {
        let output = server
            .cmd()
            .args([
                "--format",
                format,
                "create",
                "--fine-tuned-model-checkpoint",
                CKPT,
            ])
            .args(["--project-id", "proj_c"])
            .output()
            .unwrap();
        assert!(output.status.success());
        let page: Value = if format == "yaml" {
            serde_norway::from_str(&stdout(&output)).unwrap()
        } else {
            serde_json::from_str(&stdout(&output)).unwrap()
        };
        assert_eq!(page["object"], "list", "{format}");
        assert_eq!(page["data"][0]["project_id"], "proj_c", "{format}");
    }
    let output = server
        .cmd()
        .args([
            "--format",
            "table",
            "create",
            CKPT,
            "--project-id",
            "proj_d",
        ])
        .output()
        .unwrap();
    assert!(stdout(&output).starts_with("ID "));
    assert!(stdout(&output).contains("  proj_d  "));
}

#[test]
fn create_reads_project_ids_from_stdin() {
    let server = Server::seeded(0);
    let output = server
        .cmd()
        .args(["create", CKPT])
        .write_stdin("# grants\nproj_a\r\n\n  proj_b\nproj_a\n")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(jsonl(&stdout(&output)).len(), 2, "repeats are granted once");

    let output = server
        .cmd()
        .args([
            "create",
            CKPT,
            "--project-id",
            "proj_flag",
            "--project-id",
            "-",
        ])
        .write_stdin(r#"["proj_c", "proj_d"]"#)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let projects: Vec<String> = jsonl(&stdout(&output))
        .iter()
        .map(|v| v["project_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(projects, ["proj_flag", "proj_c", "proj_d"]);
}

#[test]
fn bulk_create_is_sent_in_batches_of_100() {
    let server = Server::seeded(0);
    let ids: String = (0..250).map(|i| format!("proj_{i:04}\n")).collect();
    let output = server
        .cmd()
        .args(["create", CKPT])
        .write_stdin(ids)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(jsonl(&stdout(&output)).len(), 250);
    assert_eq!(server.requests(), 3);
    assert_eq!(
        stderr(&output).trim(),
        format!("granted 250 project(s) access to {CKPT} (3 request(s))")
    );
    let listed = server
        .cmd()
        .args(["list", CKPT, "--limit", "100"])
        .output()
        .unwrap();
    assert_eq!(jsonl(&stdout(&listed)).len(), 250);
}

#[test]
fn a_failed_batch_reports_what_was_granted_and_exits_1() {
    let server = Server::seeded(0);
    server
        .emulator()
        .inject(Fault::Delay(Duration::from_millis(1)), 1);
    server.emulator().inject(Fault::status(503), 1);
    let ids: String = (0..150).map(|i| format!("proj_{i:04}\n")).collect();
    let output = server
        .cmd()
        .args(["--max-retries", "0", "create", CKPT, "--concurrency", "1"])
        .write_stdin(ids)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        jsonl(&stdout(&output)).len(),
        100,
        "the first batch is printed"
    );
    let err = stderr(&output);
    assert!(
        err.contains(
            "stopped by the error below: granted 100 of 150 project(s); 50 project id(s) were \
             not confirmed"
        ),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "POST \"{}/fine_tuning/checkpoints/{CKPT}/permissions\": 503 Service Unavailable",
            server.url
        )),
        "{err}"
    );
}

#[test]
fn bad_stdin_is_a_usage_error_and_sends_nothing() {
    let server = Server::seeded(0);
    let cases = [
        (
            "proj_a\nproj_b proj_c\n",
            "line 2: invalid project id \"proj_b proj_c\": it holds ' '",
        ),
        ("[\"proj_a\", 7]", "not a JSON array of strings"),
        ("{\"project_ids\": [\"proj_a\"], \"x\": 1}", "unknown field"),
        ("", "standard input holds no project ids"),
        (
            "\n# only a comment\n",
            "standard input holds no project ids",
        ),
    ];
    for (input, message) in cases {
        server
            .cmd()
            .args(["create", CKPT])
            .write_stdin(input)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(message));
    }
    server
        .cmd()
        .args(["create", CKPT])
        .write_stdin(&b"proj_a\n\xff\xfe\n"[..])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not UTF-8"));
    assert_eq!(server.requests(), 0);
}

#[test]
fn malformed_ids_are_refused_before_any_request_with_the_argument_named() {
    let server = Server::seeded(1);
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["create", "not a checkpoint", "--project-id", "proj_a"],
            "",
            "error: checkpoint: invalid checkpoint id",
        ),
        (
            &[
                "create",
                "ftckpt_zc4Q7MP6XxulcVzj4MZdwsAB",
                "--project-id",
                "proj_a",
            ],
            "",
            "checkpoint object's id; pass the fine-tuned model id instead",
        ),
        (
            &["create", CKPT, "--project-id", "not a project"],
            "",
            "error: --project-id: invalid project id \"not a project\"",
        ),
        (
            &["create", CKPT],
            "proj_a\nproj-b\n",
            "standard input: line 2: invalid project id \"proj-b\"",
        ),
        (
            &["create", CKPT],
            "[\"proj_a\", \"cp_1\"]",
            "element 1 of the JSON array: invalid project id",
        ),
        (
            &["delete", CKPT, "proj_a"],
            "",
            "error: permission id: invalid permission id \"proj_a\"",
        ),
        (
            &["delete", CKPT, "-"],
            "cp_a\ncp b\n",
            "standard input: line 2: invalid permission id",
        ),
        (
            &["list", CKPT, "--after", "proj_a"],
            "",
            "error: --after: invalid permission id",
        ),
        (
            &["list", CKPT, "--project-id", "cp_a"],
            "",
            "error: --project-id: invalid project id",
        ),
        (
            &["retrieve", "gpt-4o"],
            "",
            "invalid checkpoint id \"gpt-4o\"",
        ),
        (&["export", "ft:"], "", "invalid checkpoint id \"ft:\""),
        (
            &["projects", "--after", "cp_a"],
            "",
            "error: --after: invalid project id",
        ),
        (
            &[
                "create",
                CKPT,
                "--project-id",
                "sk-admin-0123456789abcdefSECRET",
            ],
            "",
            "looks like an API key",
        ),
    ];
    for (args, stdin, message) in cases {
        let output = server
            .cmd()
            .args(*args)
            .write_stdin(*stdin)
            .output()
            .unwrap();
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(!err.contains("SECRET"), "{args:?}: {err}");
        assert_eq!(stdout(&output), "", "{args:?}");
    }
    assert_eq!(server.requests(), 0, "a refused id reached the server");
}

#[test]
fn delete_by_positionals_or_flags_then_404() {
    let server = Server::seeded(2);
    let output = server
        .cmd()
        .args(["delete", CKPT, "cp_000000000000000000000000"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let deleted: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(deleted["deleted"], true);
    assert_eq!(deleted["id"], "cp_000000000000000000000000");

    // A flag for the checkpoint: the positional is the permission id.
    server
        .cmd()
        .args([
            "--format",
            "table",
            "delete",
            "--fine-tuned-model-checkpoint",
            CKPT,
        ])
        .arg("cp_000000000000000000000001")
        .assert()
        .success()
        .stdout("ID                           DELETED\ncp_000000000000000000000001  true\n");

    let output = server
        .cmd()
        .args([
            "delete",
            "--permission-id",
            "cp_000000000000000000000001",
            CKPT,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "");
    let err = stderr(&output);
    let mut lines = err.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!(
            "DELETE \"{}/fine_tuning/checkpoints/{CKPT}/permissions/cp_000000000000000000000001\": 404 Not Found",
            server.url
        )
    );
    let json_end = err.find("\n}\n").unwrap() + 2;
    let body: Value = serde_json::from_str(&err[err.find('{').unwrap()..json_end]).unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["param"], "permission_id");
    assert!(err.contains("request id: req_"), "{err}");
}

#[test]
fn without_a_key_nothing_is_sent_and_the_variables_are_named() {
    let server = Server::seeded(1);
    for verb in [
        &["list", CKPT][..],
        &["create", CKPT, "--project-id", "proj_p"],
        &["delete", CKPT, "cp_1"],
    ] {
        bare()
            .env("OPENAI_BASE_URL", &server.url)
            .env("OPENAI_ADMIN_KEY", "")
            .args(verb)
            .assert()
            .code(2)
            .stdout("")
            .stderr(
                predicate::str::contains("OPENAI_ADMIN_KEY")
                    .and(predicate::str::contains("OPENAI_API_KEY")),
            );
    }
    assert_eq!(server.requests(), 0);
    // OPENAI_API_KEY alone is used (the emulator answers 403: not an admin key).
    bare()
        .env("OPENAI_BASE_URL", &server.url)
        .env("OPENAI_API_KEY", "sk-proj-0123456789abcdef")
        .args(["list", CKPT])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(format!(
            "GET \"{}/fine_tuning/checkpoints/{CKPT}/permissions?limit=100\": 403 Forbidden\n",
            server.url
        )));
    // A flag wins over the variables.
    bare()
        .env("OPENAI_BASE_URL", &server.url)
        .env("OPENAI_ADMIN_KEY", "sk-proj-0123456789abcdef")
        .args(["list", CKPT, "--admin-api-key", KEY])
        .assert()
        .success();
}

#[test]
fn a_rejected_key_is_an_api_error() {
    let server = Server::seeded(1);
    server
        .cmd()
        .env("OPENAI_ADMIN_KEY", "not a key")
        .args(["list", CKPT])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("permissions?limit=100\": 401 Unauthorized\n")
                .and(predicate::str::contains("\"code\": \"invalid_api_key\"")),
        );
}

#[test]
fn bad_usage_exits_2_with_clap_messages() {
    let server = Server::seeded(0);
    let cases: [(&[&str], &str); 9] = [
        (&["list"], "missing --fine-tuned-model-checkpoint"),
        (&["list", CKPT, "extra"], "unexpected argument 'extra'"),
        (
            &["list", CKPT, "--limit", "0"],
            "invalid value '0' for '--limit <N>'",
        ),
        (
            &["list", CKPT, "--order", "sideways"],
            "possible values: ascending, descending",
        ),
        (
            &["--format", "xml", "list", CKPT],
            "invalid value 'xml' for '--format <FORMAT>'",
        ),
        (&["list", CKPT, "--bogus"], "unexpected argument '--bogus'"),
        (&["delete", CKPT], "missing --permission-id"),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (
            &["list", CKPT, "--timeout=-3"],
            "invalid value '-3' for '--timeout <SECONDS>'",
        ),
    ];
    for (args, message) in cases {
        server
            .cmd()
            .args(args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(message));
    }
    server
        .cmd()
        .args(["create", CKPT, "--batch-size", "101", "--project-id", "p"])
        .assert()
        .code(2);
    server
        .cmd()
        .args(["list", CKPT, "--base-url", "ftp://example.com"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid base URL"));
    bare()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Usage:"));
    assert_eq!(server.requests(), 0);
}

/// A key given in the wrong place is not quoted back by clap's messages, nor
/// shown by the parsed command line's `Debug`.
#[test]
fn a_misplaced_key_is_never_printed_back() {
    const SECRET: &str = "sk-admin-misplaced-SECRET-0123456789";
    let server = Server::seeded(0);
    for args in [
        &["list", CKPT, SECRET][..],
        &["list", CKPT, "--limit", SECRET],
        &["--format", SECRET, "list", CKPT],
        &["list", CKPT, "--base-url", SECRET],
        &["plan", SECRET],
    ] {
        let output = server.cmd().args(args).output().unwrap();
        assert!(matches!(output.status.code(), Some(1 | 2)), "{args:?}");
        let said = stderr(&output);
        assert!(!said.contains("SECRET"), "{said}");
        assert!(said.contains("sk-****6789"), "{said}");
    }
    let cli = <permissions_cli::cli::Cli as clap::Parser>::try_parse_from([
        "ckpt-perms",
        "--admin-api-key",
        SECRET,
        "--api-key",
        SECRET,
        "list",
        CKPT,
    ])
    .unwrap();
    assert!(!format!("{cli:?}").contains("SECRET"), "{cli:?}");
    assert_eq!(server.requests(), 0);
}

#[test]
fn network_errors_and_server_errors_exit_1() {
    // A port that was just free: nothing listens there.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{closed}/v1");
    bare()
        .env("OPENAI_ADMIN_KEY", KEY)
        .args(["list", CKPT, "--base-url", &url, "--max-retries", "0"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(format!(
            "GET \"{url}/fine_tuning/checkpoints/{CKPT}/permissions?limit=100\": connection error: "
        )));

    let server = Server::seeded(1);
    server
        .emulator()
        .inject(Fault::Delay(Duration::from_secs(3)), 1);
    server
        .cmd()
        .args(["list", CKPT, "--timeout", "0.3", "--max-retries", "0"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(": request timed out"));

    // A 429 is retried (and the pause logged, standard error not being a
    // terminal), then succeeds.
    server
        .emulator()
        .inject(Fault::status(429).retry_after_ms(10), 1);
    server
        .cmd()
        .args(["list", CKPT])
        .assert()
        .success()
        .stdout(predicate::str::contains("cp_000000000000000000000000"))
        .stderr(predicate::str::contains(
            "rate limited (429): waiting as long as the server asked",
        ));
}

/// A server that echoes the bearer key into the request id and into the body of a
/// one-page listing, for `requests` requests.
fn echoing_server(requests: usize) -> (String, std::thread::JoinHandle<()>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let serve = std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut key = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            for line in (&mut reader).lines().map_while(Result::ok) {
                if line.is_empty() {
                    break;
                }
                if let Some(value) = line
                    .to_ascii_lowercase()
                    .strip_prefix("authorization: bearer ")
                {
                    key = line[line.len() - value.len()..].to_owned();
                }
            }
            let body = format!(
                r#"{{"object":"list","data":[{{"object":"checkpoint.permission","id":"cp_x","project_id":"{key}","created_at":1}}],"has_more":false,"first_id":"cp_x","last_id":"cp_x"}}"#
            );
            write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: req_{key}\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
        }
    });
    (url, serve)
}

#[test]
fn the_debug_log_masks_a_key_the_server_echoes() {
    let key = "sk-admin-echoed-SECRET-0123456789";
    let (url, serve) = echoing_server(1);
    let output = bare()
        .env("OPENAI_ADMIN_KEY", key)
        .env("OPENAI_BASE_URL", &url)
        .args(["--debug", "list", CKPT])
        .output()
        .unwrap();
    serve.join().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("response body"), "{err}");
    assert!(
        !err.contains("SECRET"),
        "the key leaked into the log:\n{err}"
    );
}

#[test]
fn debug_logs_requests_and_responses_but_never_the_key() {
    let server = Server::seeded(3);
    let flag_key = "sk-admin-from-the-flag-SECRET-987654";
    let runs = [
        server
            .cmd()
            .args(["--debug", "list", CKPT, "--limit", "2"])
            .output()
            .unwrap(),
        server
            .cmd()
            .args(["--debug", "create", CKPT, "--project-id", "proj_x"])
            .args(["--admin-api-key", flag_key])
            .output()
            .unwrap(),
        server
            .cmd()
            .args(["delete", CKPT, "cp_missing", "--debug"])
            .output()
            .unwrap(),
        server
            .cmd()
            .env("OPENAI_ADMIN_KEY", "sk-wrong-key-SECRET-1234567")
            .args(["--debug", "list", CKPT])
            .output()
            .unwrap(),
    ];
    let err = stderr(&runs[0]);
    assert!(err.contains("sending request"), "{err}");
    assert!(err.contains("method=GET"), "{err}");
    assert!(
        err.contains("?after=cp_000000000000000000000001&limit=2"),
        "{err}"
    );
    // The client's response line gives the status and request id; the body follows.
    assert!(err.contains("status=200 request_id=req_"), "{err}");
    assert!(
        err.contains("response body body={\"data\":[{\"id\":\"cp_"),
        "{err}"
    );
    assert!(stderr(&runs[1]).contains("{\"project_ids\":[\"proj_x\"]}"));
    for output in &runs {
        let all = format!("{}{}", stdout(output), stderr(output));
        assert!(!all.contains("SECRET"), "the key leaked:\n{all}");
        assert!(!all.to_lowercase().contains("authorization"), "{all}");
    }
    // Help shows the variables' names, never their values.
    server
        .cmd()
        .env("OPENAI_API_KEY", "sk-admin-in-env-SECRET-0000")
        .arg("--help")
        .assert()
        .success()
        .stdout(
            predicate::str::contains("OPENAI_ADMIN_KEY")
                .and(predicate::str::contains("SECRET").not()),
        );
}

#[test]
fn help_has_examples_for_every_verb() {
    for verb in ["list", "retrieve", "create", "delete", "completions"] {
        bare().args([verb, "--help"]).assert().success().stdout(
            predicate::str::contains("Examples:")
                .and(predicate::str::contains(format!("ckpt-perms {verb} "))),
        );
    }
    bare().arg("--help").assert().success().stdout(
        predicate::str::contains("Exit codes:").and(predicate::str::contains("--format <FORMAT>")),
    );
    bare()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("ckpt-perms "));
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef ckpt-perms"),
        ("fish", "complete -c ckpt-perms"),
    ] {
        bare()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(
                predicate::str::contains(marker)
                    .and(predicate::str::contains("fine-tuned-model-checkpoint")),
            );
    }
    bare().args(["completions", "powershell"]).assert().code(2);
}

/// Runs `args` of the binary under `script`, on a pseudo-terminal, with standard
/// output to a file; returns (exit status, the terminal's text, the output).
/// `None` when `script` (util-linux) is not installed.
fn on_a_terminal(server: &Server, args: &str) -> Option<(bool, String, String)> {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return None;
    }
    let dir = tempfile_dir();
    let rows = dir.join("rows.jsonl");
    let screen = dir.join("screen.log");
    let command = format!(
        "'{}' {args} > '{}'",
        env!("CARGO_BIN_EXE_ckpt-perms"),
        rows.display()
    );
    let status = std::process::Command::new("script")
        .args(["-qec", &command])
        .arg(&screen)
        .env("OPENAI_ADMIN_KEY", KEY)
        .env("XDG_CACHE_HOME", common::cache_dir())
        .env("OPENAI_BASE_URL", &server.url)
        .env_remove("OPENAI_ADMIN_MAX_RPM")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    let screen_text = std::fs::read_to_string(&screen).unwrap();
    let rows_text = std::fs::read_to_string(&rows).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    Some((status.success(), screen_text, rows_text))
}

/// On a terminal (a pseudo-terminal from `script`), a long listing draws a
/// progress line on standard error while rows go to the file.
#[test]
fn progress_is_drawn_on_a_terminal_only() {
    let server = Server::seeded(30);
    server
        .emulator()
        .inject(Fault::Delay(Duration::from_millis(400)), 3);
    let Some((ok, screen, rows)) = on_a_terminal(&server, &format!("list '{CKPT}' --limit 10"))
    else {
        return;
    };
    assert!(ok, "{screen}");
    assert!(screen.contains(" permissions listed · "), "{screen}");
    assert!(screen.contains(" requests"), "{screen}");
    assert!(screen.contains("\r\x1b[2K"), "the line is erased");
    assert_eq!(rows.lines().count(), 30);

    // Piped, standard error stays empty.
    let output = server.cmd().args(["list", CKPT]).output().unwrap();
    assert!(output.status.success());
    assert_eq!(stderr(&output), "");
}

/// While the client waits for a throttled endpoint, the line says so.
#[test]
fn the_progress_line_shows_the_wait_for_the_rate_limit() {
    let server = Server::throttled(1500, "8/2s");
    let Some((ok, screen, rows)) = on_a_terminal(&server, &format!("list '{CKPT}'")) else {
        return;
    };
    assert!(ok, "{screen}");
    assert!(screen.contains("waiting for the rate limit ("), "{screen}");
    assert_eq!(rows.lines().count(), 1500);
}

#[test]
fn a_throttled_api_lists_1500_and_grants_1000_without_configuration() {
    let server = Server::throttled(1500, "8/2s");
    let output = server
        .cmd()
        .args(["list", CKPT])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(jsonl(&stdout(&output)).len(), 1500);
    let (requests, throttled) = server.counted("GET");
    assert_eq!(requests - throttled, 15, "pages of 100");

    let ids: String = (0..1000).map(|i| format!("proj_new_{i:05}\n")).collect();
    let output = server
        .cmd()
        .args(["create", CKPT])
        .write_stdin(ids)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(jsonl(&stdout(&output)).len(), 1000);
    assert!(
        stderr(&output).contains("granted 1000 project(s) access to"),
        "{}",
        stderr(&output)
    );
    let (requests, throttled) = server.counted("POST");
    assert_eq!(requests - throttled, 10, "batches of 100");
}

#[test]
fn with_the_rate_configured_hardly_any_request_is_throttled() {
    let server = Server::throttled(1500, "8/2s");
    let output = server
        .cmd()
        .env("OPENAI_ADMIN_MAX_RPM", "240")
        .args(["list", CKPT])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(jsonl(&stdout(&output)).len(), 1500);
    let output = server
        .cmd()
        .args(["--max-rpm", "240", "delete", CKPT, "-"])
        .write_stdin((0..12).map(|i| format!("cp_{i:024}\n")).collect::<String>())
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(jsonl(&stdout(&output)).len(), 12);
    let (get, get_429) = server.counted("GET");
    let (delete, delete_429) = server.counted("DELETE");
    assert_eq!((get - get_429, delete - delete_429), (15, 12));
    assert!(get_429 + delete_429 <= 2, "{get_429} + {delete_429} 429s");
    // Bad values of the variables are usage errors.
    server
        .cmd()
        .env("OPENAI_ADMIN_MAX_RPM", "fast")
        .args(["list", CKPT])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--max-rpm"));
}

#[test]
fn deleting_several_says_which_were_not_revoked() {
    let server = Server::seeded(3);
    let output = server
        .cmd()
        .args([
            "delete",
            CKPT,
            "cp_000000000000000000000000",
            "cp_missing",
            "--concurrency",
            "1",
            "-",
        ])
        .write_stdin("cp_000000000000000000000001\n")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        ids(&jsonl(&stdout(&output))),
        ["cp_000000000000000000000000"]
    );
    let err = stderr(&output);
    assert!(
        err.starts_with(
            "stopped by the error below: revoked 1 of 3 permission(s); not revoked: \
             cp_missing cp_000000000000000000000001\n"
        ),
        "{err}"
    );
    assert!(err.contains("404 Not Found"), "{err}");
}

/// Ctrl-C while a bulk grant waits for the rate limit: it says what was granted.
#[test]
fn an_interrupted_grant_says_what_was_done() {
    let server = Server::throttled(0, "3/60s");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ckpt-perms"))
        .args(["create", CKPT, "--concurrency", "1"])
        .env("OPENAI_ADMIN_KEY", KEY)
        .env("XDG_CACHE_HOME", common::cache_dir())
        .env("OPENAI_BASE_URL", &server.url)
        .env_remove("OPENAI_ADMIN_MAX_RPM")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let ids: String = (0..500).map(|i| format!("proj_int_{i:05}\n")).collect();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(ids.as_bytes()).unwrap();
    }
    // Three batches fit in the window; the fourth waits for it (60 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.counted("POST").1 == 0 {
        assert!(std::time::Instant::now() < deadline, "no 429 seen");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert_eq!(jsonl(&stdout(&output)).len(), 300);
    let err = stderr(&output);
    assert!(
        err.contains(
            "interrupted: granted 300 of 500 project(s); 200 project id(s) were not confirmed"
        ),
        "{err}"
    );
}

/// Deletes `count` seeded permissions, one `ckpt-perms delete` process after
/// another (a shell loop); returns the 429s the emulator answered.
fn delete_in_a_loop(server: &Server, count: usize, extra: &[&str]) -> u64 {
    for i in 0..count {
        let output = server
            .cmd()
            .args(["delete", CKPT, &format!("cp_{i:024}")])
            .args(extra)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
    server.counted("DELETE").1
}

/// A loop of single deletes, as admins script them: every process shares what
/// the others learned and spent through the pacing state file, so once the
/// window's length is known a process started in a spent window waits for the
/// refill instead of discovering it with 429s.
#[test]
fn processes_in_a_loop_share_the_window_they_spend() {
    let count = 20;
    let shared = Server::throttled(count, "4/1s");
    let with_state = delete_in_a_loop(&shared, count, &[]);
    let alone = Server::throttled(count, "4/1s");
    let without_state = delete_in_a_loop(&alone, count, &["--no-pacing-state"]);
    eprintln!("{count} processes: {with_state} 429s sharing state, {without_state} without");
    assert!(
        with_state < without_state,
        "{with_state} >= {without_state}"
    );
    // The ones that learn the limit meet 429s; the rest, hardly any.
    assert!(with_state <= 8, "{with_state} 429s");
}

/// A state file that is corrupt, or locked by a process that hangs, is skipped
/// with one warning: the run goes on, and is not held up.
#[test]
fn a_corrupt_or_locked_pacing_state_neither_blocks_nor_crashes() {
    let server = Server::seeded(3);
    let cache = tempfile_dir();
    let run = |args: &[&str]| {
        let mut cmd = server.cmd();
        cmd.env("XDG_CACHE_HOME", &cache).args(args);
        cmd.output().unwrap()
    };
    assert!(run(&["list", CKPT]).status.success());
    let dir = cache.join("ckpt-perms/pacing");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one state file per base URL and key");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(!text.contains("SECRET") && !text.contains(KEY), "{text}");
    std::fs::write(&files[0], "\u{0}garbage{").unwrap();
    let output = run(&["list", CKPT]);
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert_eq!(
        err.matches("pacing state file not used").count(),
        1,
        "{err}"
    );
    // Locked by another process for the whole run: at most a short wait per sync.
    let held = std::fs::File::open(&files[0]).unwrap();
    let mut locker = std::process::Command::new("flock")
        .args(["--exclusive"])
        .arg(&files[0])
        .args(["sleep", "30"])
        .spawn();
    if let Ok(child) = &mut locker {
        std::thread::sleep(Duration::from_millis(200));
        let started = std::time::Instant::now();
        let output = run(&["list", CKPT]);
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert!(
            stderr(&output).contains("held its lock"),
            "{}",
            stderr(&output)
        );
        let _ = child.kill();
        let _ = child.wait();
    } else {
        eprintln!("skipped the lock case: `flock` (util-linux) is not installed");
    }
    drop(held);
    let _ = std::fs::remove_dir_all(&cache);
}
