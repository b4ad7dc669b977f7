"""deploy/: the crontab and the Airflow DAG run only `c360` commands that exist,
in the seed's order (extraction at 02:00, then the pipeline), with retries and a
fixed run id per day.  Airflow is not installed: the DAG is compiled and read
with `ast`, never executed."""

from __future__ import annotations

import ast
import os
import py_compile
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from etl.cli import app
from etl.settings import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
CRONTAB = DEPLOY / "crontab"
DAG = DEPLOY / "customer360_daily_dag.py"
RETRY = DEPLOY / "retry"
C360 = Path(sys.executable).parent / "c360"

# one `c360 ...` command: up to a shell operator, a closing quote or a redirection
COMMAND = re.compile(r"(?<![\w/.-])c360\s+[^&;|'>\n]*")
# sample values for what the schedulers fill in at run time
SHELL_VARS = {"$DAY": "20261128", "$ASOF": "2026-11-28"}
JINJA = re.compile(r"\{\{([^}]*)\}\}")


def _render_jinja(text: str) -> str:
    def value(m: re.Match) -> str:
        expr = m.group(1).strip()
        if expr.endswith("ds_nodash"):
            return "20261128"
        if expr.endswith("ds"):
            return "2026-11-28"
        raise AssertionError(f"unexpected template {m.group(0)!r}")

    return JINJA.sub(value, text)


def _split(command: str) -> tuple[list[str], list[str]]:
    """(subcommand path, option arguments) of one `c360 ...` command line."""
    words = shlex.split(command)
    assert words[0] == "c360", command
    path = []
    for w in words[1:]:
        if w.startswith("-"):
            break
        path.append(w)
    return path, words[1 + len(path):]


def _crontab_entries() -> list[str]:
    lines = [ln.strip() for ln in CRONTAB.read_text().splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#") and not re.match(r"^[A-Z_][A-Z0-9_]*=", ln)]


def _crontab_commands() -> list[str]:
    out = []
    for entry in _crontab_entries():
        for m in COMMAND.finditer(entry):
            cmd = m.group(0).strip()
            for var, val in SHELL_VARS.items():
                cmd = cmd.replace(var, val)
            out.append(cmd)
    return out


def _dag_module() -> ast.Module:
    return ast.parse(DAG.read_text(), filename=str(DAG))


def _call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        f = node.func
        return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
    return None


def _kwargs(call: ast.Call) -> dict[str, ast.AST]:
    return {k.arg: k.value for k in call.keywords if k.arg}


def _dag_tasks() -> dict[str, dict]:
    """Variable name -> {task_id, bash_command, retries} of every BashOperator in the DAG file."""
    tasks = {}
    for node in ast.walk(_dag_module()):
        if isinstance(node, ast.Assign) and _call_name(node.value) == "BashOperator":
            kw = _kwargs(node.value)
            tasks[node.targets[0].id] = {
                "task_id": ast.literal_eval(kw["task_id"]),
                "bash_command": ast.literal_eval(kw["bash_command"]),
                "retries": ast.literal_eval(kw["retries"]) if "retries" in kw else None,
            }
    return tasks


def _dag_edges() -> list[tuple[str, str]]:
    edges = []

    def chain(node: ast.AST) -> list[str]:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.RShift):
            left, right = chain(node.left), chain(node.right)
            edges.append((left[-1], right[0]))
            return left + right
        assert isinstance(node, ast.Name), ast.dump(node)
        return [node.id]

    for node in ast.walk(_dag_module()):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.BinOp):
            chain(node.value)
    return edges


def _dag_commands() -> list[str]:
    return [_render_jinja(t["bash_command"]) for t in _dag_tasks().values()]


def _help(path: list[str]) -> str:
    env = {**os.environ, "COLUMNS": "400", "TERM": "dumb", "NO_COLOR": "1"}
    proc = subprocess.run([str(C360), *path, "--help"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, f"c360 {' '.join(path)} --help exited {proc.returncode}: {proc.stderr}"
    return proc.stdout


def _all_commands() -> list[str]:
    return _crontab_commands() + _dag_commands()


def test_there_are_commands_to_check():
    assert [_split(c)[0] for c in _crontab_commands()] == [["extract"], ["pipeline", "run"]]
    assert [_split(c)[0] for c in _dag_commands()] == [["extract"], ["pipeline", "run"]]


@pytest.mark.parametrize("path", sorted({tuple(_split(c)[0]) for c in _all_commands()}), ids=" ".join)
def test_every_subcommand_and_option_exists(path):
    text = _help(list(path))
    for cmd in _all_commands():
        cmd_path, args = _split(cmd)
        if tuple(cmd_path) != path:
            continue
        for arg in args:
            if arg.startswith("--"):
                option = arg.split("=", 1)[0]
                assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), f"{option} not in `c360 {' '.join(path)} --help`"


@pytest.mark.parametrize("command", _all_commands())
def test_every_command_line_parses(command):
    """Click parses the whole argument list (types, ranges) without running the command."""
    path, args = _split(command)
    cmd = typer.main.get_command(app)
    ctx = cmd.make_context("c360", list(path) + args, resilient_parsing=True)
    for name in path:
        sub = cmd.get_command(ctx, name)
        assert sub is not None, f"no subcommand {name!r} in {command!r}"
        cmd = sub
    cmd.make_context(name, list(args), parent=ctx)  # raises a UsageError on a bad option or value


def test_crontab_runs_extraction_at_two_then_the_pipeline_with_a_fixed_run_id():
    entries = _crontab_entries()
    assert len(entries) == 1
    fields = entries[0].split(None, 5)
    assert fields[:5] == ["0", "2", "*", "*", "*"]
    line = fields[5]
    assert line.index("c360 extract") < line.index("c360 pipeline run")
    assert re.search(r"c360 extract && deploy/retry \d+ \d+ c360 pipeline run", line)  # only after a successful extraction
    assert re.search(r"deploy/retry [2-9] \d+ c360 extract", line)
    assert re.search(r"deploy/retry [2-9] \d+ c360 pipeline run", line)
    # the day is fixed once, before the first try, so every retry reuses the run id
    assert line.index("DAY=$(date -u +\\%Y\\%m\\%d)") < line.index("deploy/retry")
    assert '--run-id "daily-$DAY"' in line
    assert "%" not in line.replace("\\%", "")  # cron turns a bare % into a newline


def test_dag_compiles_and_runs_the_stages_in_order_with_retries(tmp_path):
    py_compile.compile(str(DAG), cfile=str(tmp_path / "dag.pyc"), doraise=True)
    tasks = _dag_tasks()
    assert [t["task_id"] for t in tasks.values()] == ["extract", "pipeline_run"]
    assert _dag_edges() == [("extract", "pipeline_run")]
    assert tasks["extract"]["bash_command"] == "c360 extract"
    run = tasks["pipeline_run"]["bash_command"]
    assert run.startswith("c360 pipeline run ")
    # a fixed run id per logical date: a retried or cleared task replaces that day's run
    _, args = _split(_render_jinja(run))
    assert args[args.index("--run-id") + 1] == "daily-20261128"
    assert "daily-{{ data_interval_end | ds_nodash }}" in run
    dag_call = next(n for n in ast.walk(_dag_module()) if _call_name(n) == "DAG")
    kw = _kwargs(dag_call)
    assert ast.literal_eval(kw["schedule"]) == "0 2 * * *"
    assert ast.literal_eval(kw["max_active_runs"]) == 1
    default_args = next(
        n.value for n in ast.walk(_dag_module())
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "default_args"
    )
    retries = next(v for k, v in zip(default_args.keys, default_args.values) if ast.literal_eval(k) == "retries")
    assert ast.literal_eval(retries) >= 1


def test_retry_helper(tmp_path):
    counter = tmp_path / "n"
    flaky = f'n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; [ $n -ge 2 ]'
    assert subprocess.run(["sh", str(RETRY), "3", "0", "sh", "-c", flaky], capture_output=True, check=False).returncode == 0
    assert counter.read_text().strip() == "2"
    failing = subprocess.run(["sh", str(RETRY), "3", "0", "sh", "-c", "exit 7"], capture_output=True, text=True, check=False)
    assert failing.returncode == 7
    assert failing.stderr.count("exited 7") == 2
