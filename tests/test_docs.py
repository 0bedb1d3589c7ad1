"""The docs say what the code does: every command a reader copies names a real subcommand and
real flags, every link leads somewhere, every space they name is shipped, every module they
name exists, and the reference pages (columns, space keys, flags) are complete."""

from __future__ import annotations

import argparse
import re
import shlex
from functools import cache
from pathlib import Path

import pytest

from resnet_nas.cli import build_parser
from resnet_nas.space import shipped_space_paths
from tests.helpers import REPO

README = REPO / "README.md"
DOCS = [README, *sorted((REPO / "docs").glob("*.md")), REPO / "search_spaces" / "README.md"]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
#: How a command is written: the module, or the installed script.
COMMAND = re.compile(r"(?:python3? -m resnet_nas|(?<![\w/.-])resnet-nas)\s+(.*)")
#: Where a shell command ends (the rest is another command, or where its output goes).
SHELL_BREAKS = {"|", "||", "&&", ";", ">", ">>", "2>", "2>&1", "&"}


def _name(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name


def _code_blocks(text: str) -> list[str]:
    return FENCE.findall(text)


def _prose(text: str) -> str:
    """The text without its fenced code blocks."""
    return FENCE.sub("", text)


def _inline_code(text: str) -> list[str]:
    return [span.replace("\n", " ") for span in re.findall(r"`([^`]+)`", _prose(text))]


def _commands(text: str) -> list[str]:
    """Every `python -m resnet_nas ...` command of a page: each line of its code blocks
    (continuation lines joined) and each inline code span, from the subcommand on."""
    lines = []
    for block in _code_blocks(text):
        lines += block.replace("\\\n", " ").splitlines()
    lines += _inline_code(text)
    found = []
    for line in lines:
        for match in COMMAND.finditer(line):
            found.append(match.group(1).split("`")[0])
    return found


def _tokens(command: str) -> list[str]:
    try:
        tokens = shlex.split(command, comments=True)
    except ValueError:  # a quote a Python string opened: the words are enough
        tokens = command.split()
    out = []
    for token in tokens:
        if token in SHELL_BREAKS or token.startswith((">", "2>")):
            break
        out.append(token.strip("[]"))
    return out


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


@cache
def _commands_of_the_cli() -> dict[str, argparse.ArgumentParser]:
    """'search' -> its parser, ..., 'benchmark build' -> its parser (nested subcommands)."""
    out = {}

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for name, sub in _subparsers(parser).items():
            out[f"{prefix}{name}"] = sub
            walk(sub, f"{prefix}{name} ")

    walk(build_parser(), "")
    return out


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {flag: action for action in parser._actions for flag in action.option_strings}


def check_command(command: str) -> list[str]:
    """The problems of one documented command line (from its subcommand on): an unknown
    subcommand, a flag its parser does not accept, a literal value outside a flag's choices."""
    tokens = _tokens(command)
    commands = _commands_of_the_cli()
    if tokens and (re.fullmatch(r"[A-Z_]+", tokens[0]) or tokens[0].endswith(":")):
        return []  # a placeholder (COMMAND), or an error message quoting the program's name
    if not tokens or tokens[0] not in commands:
        return [f"{command!r}: no subcommand {tokens[:1]} (commands: {sorted(commands)})"]
    name, rest = tokens[0], tokens[1:]
    while rest and f"{name} {rest[0]}" in commands:
        name, rest = f"{name} {rest[0]}", rest[1:]
    parser = commands[name]
    if _subparsers(parser):
        return [f"{command!r}: `{name}` needs one of {sorted(_subparsers(parser))}"]
    options = _options(parser)
    problems = []
    for i, token in enumerate(rest):
        if not token.startswith("-") or token in ("-", "--") or re.fullmatch(r"-[\d.]+", token):
            continue
        flag, _, value = token.partition("=")
        if flag not in options:
            problems.append(f"{command!r}: `{name}` has no flag {flag}")
            continue
        action = options[flag]
        if not value and i + 1 < len(rest):
            value = rest[i + 1]
        # argparse's choices, or the vocabulary's names a flag is checked against later
        # (resnet_nas.cli_args.add_names_argument)
        allowed = action.choices if action.choices is not None else getattr(action, "names", None)
        if (allowed is not None and action.nargs is None
                and re.fullmatch(r"[a-z0-9_-]+", value or "")
                and value not in [str(c) for c in allowed]):
            problems.append(f"{command!r}: {flag} {value}: not one of {list(allowed)}")
    return problems


def test_every_documented_command_is_a_subcommand_with_flags_it_accepts():
    problems, seen = [], 0
    for doc in DOCS:
        for command in _commands(doc.read_text()):
            seen += 1
            problems += [f"{_name(doc)}: {p}" for p in check_command(command)]
    assert seen > 50, seen  # the pages do name commands
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("command, wrong", [
    ("search quickstart --trails 4", "has no flag --trails"),
    ("export --run runs/x --trial best --save y.keras", "has no flag --save"),
    ("benchmark replay bench --samplers tpe --seeds 2", "has no flag --seeds"),
    ("benchmark --out x", "needs one of"),
    ("serach quickstart", "no subcommand"),
    ("search quickstart --pruner hyperbands", "not one of"),
])
def test_the_command_check_finds_what_is_wrong(command, wrong):
    (problem,) = check_command(command)
    assert wrong in problem


def test_the_command_check_reads_commands_as_the_pages_write_them():
    text = ("```bash\npython -m resnet_nas worker --study NAME --storage URL [--gpus 0,1]  # x\n"
            "python -m resnet_nas benchmark replay bench \\\n    --repeats 20 | tee log\n```\n"
            "and `python -m resnet_nas report runs/a --html\nreport.html` inline.\n")
    commands = _commands(text)
    assert len(commands) == 3
    assert all(check_command(c) == [] for c in commands), commands
    assert _tokens(commands[1]) == ["benchmark", "replay", "bench", "--repeats", "20"]


# ---------------------------------------------------------------------------------------------
# Links and names.
def _slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[`*_\[\]()]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", _prose(path.read_text()), re.M)}


def broken_links(doc: Path) -> list[str]:
    problems = []
    text = re.sub(r"`[^`]+`", "", _prose(doc.read_text()))
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.exists():
            problems.append(f"{_name(doc)}: ({target}): no file {path}")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            problems.append(f"{_name(doc)}: ({target}): {_name(dest)} has no heading #{anchor}")
    return problems


def test_every_relative_link_resolves():
    problems = [p for doc in DOCS for p in broken_links(doc)]
    assert not problems, "\n".join(problems)


def test_the_link_check_finds_a_missing_file_and_heading(tmp_path):
    doc = tmp_path / "page.md"
    doc.write_text("# Title\n\n[a](page.md) [b](#title) [c](gone.md) [d](page.md#nowhere)\n"
                   "[e](https://example.org/x) and `[f](code.md)`\n")
    problems = broken_links(doc)
    assert len(problems) == 2
    assert "no file gone.md" in problems[0] and "no heading #nowhere" in problems[1]


def test_readme_is_a_front_door_of_at_most_200_lines():
    assert len(README.read_text().splitlines()) <= 200


def test_readme_setup_is_two_commands_and_the_tests_are_what_ci_runs():
    section = README.read_text().split("## Set up", 1)[1].split("\n## ", 1)[0]
    blocks = [b.strip() for b in _code_blocks(section)]
    assert len(blocks) == 2, blocks
    install_and_run, tests = blocks
    assert install_and_run.endswith(".venv/bin/python -m resnet_nas search")
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert tests in ci, f"{tests!r} is not a line of .ci/run"


def test_every_space_named_in_the_docs_is_shipped():
    names = set(shipped_space_paths())
    used_anywhere = set()
    for doc in DOCS:
        used = set(re.findall(r"resnet_nas search ([a-z_]\w*)(?![\w./])", doc.read_text()))
        used_anywhere |= used
        assert used <= names, f"{_name(doc)}: {sorted(used - names)} are not shipped spaces"
    assert len(used_anywhere) >= 3


def test_the_space_files_in_the_docs_are_valid(tmp_path):
    from resnet_nas.space import load_space

    blocks = [b for doc in DOCS for b in re.findall(r"^```yaml\n(.*?)^```", doc.read_text(),
                                                   re.S | re.M) if re.match(r"space:", b)]
    assert blocks
    for i, block in enumerate(blocks):
        (tmp_path / f"doc{i}.yaml").write_text(block)
        load_space(tmp_path / f"doc{i}.yaml")


def _module_problem(dotted: str) -> str | None:
    """None when `resnet_nas.a.b.name` names a module of the package (and, after it, a name
    its source mentions), else what is missing."""
    path = REPO / "resnet_nas"
    parts = dotted.split(".")[1:]
    for i, part in enumerate(parts):
        if (path / part).is_dir():
            path = path / part
            continue
        source = path / f"{part}.py"
        if source.exists():
            rest = parts[i + 1:]
            if rest and not re.search(rf"\b{re.escape(rest[0])}\b", source.read_text()):
                return f"{_name(source)} has no {rest[0]}"
            return None
        init = (path / "__init__.py").read_text()
        return None if re.search(rf"\b{re.escape(part)}\b", init) else f"no module {part}"
    return None


def test_every_module_the_docs_name_exists():
    problems = []
    for doc in DOCS:
        text = doc.read_text()
        for path in re.findall(r"(?<![\w./~-])(resnet_nas/[\w/]*\w(?:\.py|/))", text):
            if not (REPO / path).exists():
                problems.append(f"{_name(doc)}: {path} does not exist")
        for dotted in set(re.findall(r"(?<![\w./~-])resnet_nas(?:\.[A-Za-z_]\w*)+", text)):
            problem = _module_problem(dotted)
            if problem:
                problems.append(f"{_name(doc)}: {dotted}: {problem}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# The reference pages are complete.
def _literal(module: Path, name: str):
    import ast

    for node in ast.parse(module.read_text()).body:
        target = getattr(node, "target", None) or (getattr(node, "targets", None) or [None])[0]
        if getattr(target, "id", None) == name:
            return ast.literal_eval(node.value)
    raise LookupError(name)


def test_the_results_table_page_documents_every_column():
    from resnet_nas.records import TrialRecord

    columns = list(_literal(REPO / "resnet_nas" / "results.py", "SCHEMA"))
    derived = list(_literal(REPO / "resnet_nas" / "report" / "frame.py", "DERIVED_COLUMNS"))
    assert set(TrialRecord.__dataclass_fields__) <= set(columns)
    rows = set(re.findall(r"^\| `(\w+)` \|", (REPO / "docs" / "results_table.md").read_text(),
                          re.M))
    missing = [c for c in columns + derived if c not in rows]
    assert not missing, f"docs/results_table.md has no row for {missing}"


def test_the_space_format_documents_every_key_the_schema_accepts():
    from resnet_nas.config import AugmentConfig, DataConfig, TrainConfig
    from resnet_nas.space import schema

    keys = [*schema.TOP_KEYS, *schema.SPACE_KEYS, *schema.STAGES_KEYS,
            *schema.Constraints.__dataclass_fields__, *DataConfig.__dataclass_fields__,
            *(k for k in TrainConfig.__dataclass_fields__ if k != "augment"),
            *(f"augment.{k}" for k in AugmentConfig.__dataclass_fields__),
            *schema.SearchDefaults.__dataclass_fields__]
    text = (REPO / "search_spaces" / "README.md").read_text()
    missing = [k for k in keys if f"`{k}`" not in text]
    assert not missing, f"search_spaces/README.md does not document {missing}"


def test_the_cli_page_documents_every_command_and_flag():
    text = (REPO / "docs" / "cli.md").read_text()
    sections = {title.strip(): body
                for title, body in re.findall(r"^## ([^\n]+)\n(.*?)(?=^## |\Z)", text, re.S | re.M)}
    missing = []
    for name, parser in _commands_of_the_cli().items():
        if _subparsers(parser):
            continue
        if name not in sections:
            missing.append(f"a section '## {name}'")
            continue
        for flag in _options(parser):
            if flag.startswith("--") and flag != "--help" and \
                    not re.search(rf"`{re.escape(flag)}(?![\w-])", sections[name]):
                missing.append(f"{name} {flag}")
    assert not missing, f"docs/cli.md does not document {missing}"
