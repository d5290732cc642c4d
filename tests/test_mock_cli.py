"""`jobs-mock`: flags in-process by exit code, and one real run of the installed script."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from mockserver.cli import config_from, main, parser
from mockserver.config import MockConfig
from mockserver.domain.data import DataError
from mockserver.http.app import create_app
from tests.helpers import spec_copy, typed_error_response

DOCUMENTED_ID = "a2fe7e07-d54b-435b-9cb0-e12f1f80a589"


def test_defaults_match_the_documentation() -> None:
    args = parser().parse_args([])
    assert (args.host, args.port, args.secret, args.control, args.frozen) == ("127.0.0.1", 8080, "secret", True, False)


@pytest.mark.parametrize(
    ("content", "suffix", "needle"),
    [
        pytest.param("[{]", ".json", "not valid JSON", id="bad-json"),
        pytest.param("jobs: 5", ".yaml", "expected a list of jobs", id="not-a-list"),
        pytest.param('[{"uuid": "x"}]', ".json", "job 0 (x, 'untitled') is not a valid Job", id="bad-entry"),
    ],
)
def test_bad_data_file_is_a_clear_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, suffix: str, needle: str
) -> None:
    data = tmp_path / f"jobs{suffix}"
    data.write_text(content)
    assert main(["--data", str(data), "--port", "0"]) == 2
    assert needle in capsys.readouterr().err


def test_inconsistent_job_in_data_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    job = {
        "uuid": "11111111-2222-4333-8444-555555555555",
        "title": "Odd",
        "description": "",
        "params": {},
        "actor": "admin",
        "created": "2024-01-01T00:00:00.000Z",
        "started": None,
        "finished": None,
        "status": "running",
        "result": {},
    }
    data = tmp_path / "jobs.json"
    data.write_text(json.dumps([job]))
    assert main(["--data", str(data), "--port", "0"]) == 2
    assert "job 0 (11111111-2222-4333-8444-555555555555, 'Odd'): " in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        pytest.param("- {login: x}\n", "user 0 ('x'): \"password\" is a required property", id="no-password"),
        pytest.param(
            "- {login: ops, password: pw, manageJobs: 'false'}\n",
            'user 0 (\'ops\'): manageJobs: "false" is not of type "boolean"',
            id="manage-jobs-as-text",
        ),
        pytest.param(
            "- {login: a, password: a}\n- {login: ops, password: pw, manageJobs: 1}\n",
            "user 1 ('ops'): manageJobs: 1 is not of type \"boolean\"",
            id="manage-jobs-as-number",
        ),
        pytest.param("- {login: 5, password: pw}\n", 'user 0: login: 5 is not of type "string"', id="login-number"),
        pytest.param("- {login: ops, password: [pw]}\n", 'password: ["pw"] is not of type', id="password-list"),
        pytest.param("- {login: ops, password: pw, fullname: 7}\n", "fullname: 7 is not of type", id="fullname"),
        pytest.param("- {login: ops, password: pw, manage_jobs: true}\n", "manage_jobs", id="unknown-key"),
        pytest.param("- ops\n", 'user 0: "ops" is not of type "object"', id="not-a-mapping"),
        pytest.param(
            "- {login: a, password: a}\n- {login: a, password: b}\n", "user 1 ('a'): a user 'a' is", id="twice"
        ),
        pytest.param("[]\n", "no users", id="empty"),
    ],
)
def test_bad_users_file_stops_the_start_naming_the_entry(tmp_path: Path, content: str, needle: str) -> None:
    users = tmp_path / "users.yaml"
    users.write_text(content)
    message = _refusal(["--users", str(users)])
    assert needle in message and message.startswith(f"{users}: ")


def test_a_users_file_that_says_false_as_text_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    users = tmp_path / "users.yaml"
    users.write_text("- {login: ops, password: pw, manageJobs: 'false'}\n")
    assert main(["--users", str(users), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err == f'jobs-mock: {users}: user 0 (\'ops\'): manageJobs: "false" is not of type "boolean"\n'


def _refusal(argv: list[str]) -> str:
    """Why the mock will not start with these flags (a DataError, never a server left running)."""
    with pytest.raises(DataError) as caught:
        create_app(config=config_from(parser().parse_args(argv)))
    return str(caught.value)


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        pytest.param({"params": {"mock": {"delay": "5"}}}, 'params.mock.delay: "5" is not of type', id="delay-text"),
        pytest.param({"params": {"mock": {"duration": 1e306}}}, "params.mock.duration: 1e+306 is greater than the maximum", id="huge-duration"),
        pytest.param({"params": {"mock": {"delay": -1}}}, "params.mock.delay: -1 is less than the minimum of 0", id="negative"),
        pytest.param({"params": {"mock": {"outcome": "done"}}}, 'params.mock.outcome: "done" is not one of', id="outcome"),
        pytest.param({"params": {"mock": 5}}, 'params.mock: 5 is not of type "object"', id="mock-not-object"),
        pytest.param({"created": "0999-01-01T00:00:00.000Z"}, "outside the times a job can carry", id="year-999"),
        pytest.param({"title": 5}, 'title: 5 is not of type "string"', id="title-number"),
        pytest.param({"result": []}, 'result: [] is not of type "object"', id="result-list"),
    ],
)  # fmt: skip
def test_wrong_types_and_numbers_in_a_data_file_stop_the_start(
    tmp_path: Path, fields: dict[str, Any], needle: str
) -> None:
    data = tmp_path / "jobs.json"
    data.write_text(json.dumps([{**_a_job(), **fields}]))
    message = _refusal(["--data", str(data)])
    assert needle in message and message.startswith(f"{data}: job 0 (11111111-2222-4333-8444-555555555555, ")


@pytest.mark.parametrize(
    ("content", "suffix", "needle"),
    [
        pytest.param('[{"params": {"x": NaN}}]', ".json", "[0].params.x: not a finite number", id="nan"),
        pytest.param('[{"params": {"x": 1e400}}]', ".json", "[0].params.x: not a finite number", id="1e400"),
        pytest.param("- params: {x: .inf}\n", ".yaml", "[0].params.x: not a finite number", id="yaml-inf"),
        pytest.param('[{"params": {"x": ' + "[" * 70 + "]" * 70 + "}}]", ".json", "nested deeper than 64 levels", id="deep"),
        pytest.param("[" * 5000 + "]" * 5000, ".json", "nested deeper than 64 levels", id="very-deep"),
    ],
)  # fmt: skip
def test_numbers_json_cannot_write_and_deep_nesting_in_a_data_file_stop_the_start(
    tmp_path: Path, content: str, suffix: str, needle: str
) -> None:
    data = tmp_path / f"jobs{suffix}"
    data.write_text(content)
    message = _refusal(["--data", str(data)])
    assert needle in message and message.startswith(f"{data}: ")


def _a_job() -> dict[str, Any]:
    return {
        "uuid": "11111111-2222-4333-8444-555555555555", "title": "T", "description": "", "params": {},
        "actor": "admin", "created": "2024-01-01T00:00:00.000Z", "started": None, "finished": None,
        "status": "created", "result": {},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        pytest.param(["--speed", "0"], "argument --speed: must be greater than 0", id="speed"),
        pytest.param(
            ["--speed", "nan"], "argument --speed: must be greater than 0 and at most 10000, got nan", id="nan"
        ),
        pytest.param(["--speed", "inf"], "argument --speed: must be greater than 0 and at most 10000", id="inf"),
        pytest.param(["--speed", "1e308"], "argument --speed: must be greater than 0 and at most 10000", id="huge"),
        pytest.param(
            ["--schedule", "1e306"], "argument --schedule: must be greater than 0 and at most 1e+09", id="sched"
        ),
        pytest.param(["--schedule", "soon"], "argument --schedule: expected a number, got 'soon'", id="sched-text"),
        pytest.param(
            ["--journal-size", "0"], "argument --journal-size: expected a whole number from 1", id="journal-0"
        ),
        pytest.param(["--journal-size", "1e3"], "argument --journal-size: expected a whole number", id="journal-float"),
        pytest.param(
            ["--allowed-host", "http://x"], "argument --allowed-host: expected a host name", id="allowed-host"
        ),
        pytest.param(["--port", "many"], "argument --port: invalid int value: 'many'", id="port"),
        pytest.param(["--log-level", "loud"], "argument --log-level: invalid choice: 'loud'", id="log-level"),
        pytest.param(["--fault", "[]"], "argument --fault: expected a JSON object", id="fault"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert needle in capsys.readouterr().err


def test_installed_script_serves_until_sigterm(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text("users:\n  - {login: ops, password: pw, fullname: Ops, manageJobs: true}\n")
    script = shutil.which("jobs-mock", path=str(Path(sys.executable).parent))
    assert script, "the jobs-mock console script is installed"
    process = subprocess.Popen(
        [script, "--port", "0", "--users", str(users), "--seed", "1"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Listening on http://127.0.0.1:")
        url = first.split()[-1]
        token = requests.post(f"{url}/@login", json={"login": "ops", "password": "pw"}, timeout=5).json()["token"]
        jobs = requests.get(f"{url}/@jobs", headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
        assert DOCUMENTED_ID in {job["uuid"] for job in jobs}
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "shutting down" in out


def test_every_flag_reaches_the_config(tmp_path: Path) -> None:
    argv = [
        "--host", "0.0.0.0", "--port", "9", "--data", "d.yaml", "--frozen", "--speed", "2", "--schedule", "5",
        "--seed", "3", "--users", "u.yaml", "--secret", "s", "--no-control", "--control-token", "t", "--strict",
        "--log-level", "debug", "--cors-origin", "http://a.test", "--cors-origin", "http://b.test",
        "--allowed-host", "Dev.Example", "--allowed-host", "ci", "--state-file", "s.json", "--state-sync", "always",
        "--journal-size", "50", "--request-timeout", "2.5", "--idle-timeout", "7",
    ]  # fmt: skip
    config = config_from(parser().parse_args(argv))
    assert config == MockConfig(
        host="0.0.0.0", port=9, data=Path("d.yaml"), frozen=True, speed=2.0, schedule=5.0, seed=3,
        users=Path("u.yaml"), secret="s", control=False, control_token="t", strict=True, log_level="debug",
        cors_origins=("http://a.test", "http://b.test"), allowed_hosts=("dev.example", "ci"),
        state_file=Path("s.json"), state_sync="always", journal_size=50, request_timeout=2.5, idle_timeout=7.0,
    )  # fmt: skip


def test_cors_wildcard_is_refused_at_start(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--cors-origin", "*", "--port", "0"]) == 2
    assert "'*' is refused" in capsys.readouterr().err


def _set_openapi_version(document: dict[str, Any]) -> None:
    document["openapi"] = "3.0.3"


def _bad_description(document: dict[str, Any]) -> None:
    document["paths"]["/@jobs"]["get"]["responses"]["200"]["description"] = 5


def _misspelt_state(document: dict[str, Any]) -> None:
    document["x-job-lifecycle"]["transitions"][0]["to"] = "runing"


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        pytest.param(_set_openapi_version, "openapi: '3.0.3' is not 3.1.x", id="openapi-3.0"),
        pytest.param(
            lambda d: d.pop("info"), "is not a valid OpenAPI 3.1 document: $: 'info' is a required", id="no-info"
        ),
        pytest.param(
            _bad_description,
            "$.paths['/@jobs'].get.responses['200'].description: 5 is not of type 'string'",
            id="bad-response",
        ),
        pytest.param(
            _misspelt_state, "x-job-lifecycle.transitions[0] (start).to: 'runing' is not a state", id="lifecycle"
        ),
        pytest.param(lambda d: d.pop("x-job-lifecycle"), "has no x-job-lifecycle section", id="no-lifecycle"),
    ],
)
def test_bad_spec_stops_the_start_with_one_line_naming_the_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: Callable[[dict[str, Any]], object], needle: str
) -> None:
    assert main(["--spec", str(spec_copy(tmp_path, edit)), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert needle in err, err
    assert err.startswith("jobs-mock: ") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        pytest.param(None, "cannot read the spec", id="missing"),
        pytest.param("a: [", "is not a valid OpenAPI 3.1 document: not valid YAML at line 1, column 5", id="not-yaml"),
    ],
)
def test_unreadable_spec_is_a_clear_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, needle: str
) -> None:
    spec = tmp_path / "jobs.yaml"
    if content is not None:
        spec.write_text(content)
    assert main(["--spec", str(spec), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def _deployment_copy(document: dict[str, Any]) -> None:
    """A deployment whose refusals answer 422 Unprocessable, under its own title."""
    document["info"]["title"] = "Our jobs API"
    for refusal in document["x-job-lifecycle"]["refusals"]:
        refusal.update(status=422, errorType="Unprocessable")
        responses = document["paths"][_path_of(document, refusal["operation"])]["post"]["responses"]
        del responses["400"]  # the packaged 400 is exactly Nick's plain refusal: the copy documents its own 422
        responses["422"] = typed_error_response("The job's state does not allow this operation.", "Unprocessable")


def _path_of(document: dict[str, Any], operation_id: str) -> str:
    return next(p for p, item in document["paths"].items() if item.get("post", {}).get("operationId") == operation_id)


def test_the_mock_serves_and_follows_the_spec_it_is_given(tmp_path: Path) -> None:
    spec = spec_copy(tmp_path, _deployment_copy)
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "--port", "0", "--spec", str(spec), "--strict"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        assert requests.get(f"{url}/openapi.yaml", timeout=5).text == spec.read_text()
        assert requests.get(f"{url}/openapi.json", timeout=5).json()["info"]["title"] == "Our jobs API"
        assert requests.get(f"{url}/docs/openapi.json", timeout=5).json()["info"]["title"] == "Our jobs API"
        token = requests.post(f"{url}/__mock__/tokens", json={"manageJobs": True}, timeout=5).json()["token"]
        response = requests.post(
            f"{url}/@jobs/{DOCUMENTED_ID}/abort", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        message = f"Job {DOCUMENTED_ID} is created; only a running job can be aborted."
        assert (response.status_code, response.json()) == (
            422,
            {"error": {"type": "Unprocessable", "message": message}},
        )
        assert requests.get(f"{url}/__mock__/errors", timeout=5).json() == []
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)


def test_rate_limits_are_off_by_default_and_set_per_setting() -> None:
    assert config_from(parser().parse_args([])).rate_limits == ()
    args = parser().parse_args(
        [
            "--rate-limit",
            "AUTH_RATE_LIMIT=5",
            "--rate-limit",
            " API_RATE_LIMIT = 100",
            "--rate-limit",
            "AUTH_RATE_LIMIT=7",
        ]
    )
    assert config_from(args).rate_limits == (("AUTH_RATE_LIMIT", 7), ("API_RATE_LIMIT", 100))  # the last one given


def test_an_unknown_rate_limit_setting_is_refused_at_start_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", "--rate-limit", "AUTH_RATE_LIMIT=5", "--rate-limit", "LOGIN_LIMIT=5"]) == 2
    assert capsys.readouterr().err == (
        "jobs-mock: --rate-limit: the spec has no rate limit LOGIN_LIMIT (its limits: AUTH_RATE_LIMIT, API_RATE_LIMIT)\n"
    )


def test_a_rate_limit_a_spec_copy_does_not_have_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def without_429(document: dict[str, Any]) -> None:
        for item in document["paths"].values():
            for operation in item.values():
                if isinstance(operation, dict):
                    operation.get("responses", {}).pop("429", None)

    spec = spec_copy(tmp_path, without_429)
    assert main(["--port", "0", "--spec", str(spec), "--rate-limit", "AUTH_RATE_LIMIT=5"]) == 2
    assert (
        capsys.readouterr().err
        == "jobs-mock: --rate-limit: the spec has no rate limit AUTH_RATE_LIMIT (its limits: none)\n"
    )


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        pytest.param(
            "AUTH_RATE_LIMIT", "expected SETTING=N, e.g. AUTH_RATE_LIMIT=5, got 'AUTH_RATE_LIMIT'", id="no-count"
        ),
        pytest.param("=5", "expected SETTING=N, e.g. AUTH_RATE_LIMIT=5, got '=5'", id="no-setting"),
        pytest.param("AUTH_RATE_LIMIT=0", "expected a whole number from 1 to 10,000,000, got 0", id="zero"),
        pytest.param("AUTH_RATE_LIMIT=x", "expected a whole number, got 'x'", id="not-a-number"),
    ],
)
def test_a_malformed_rate_limit_is_a_usage_error(capsys: pytest.CaptureFixture[str], value: str, needle: str) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(["--rate-limit", value])
    assert exited.value.code == 2
    assert f"argument --rate-limit: {needle}" in capsys.readouterr().err
