"""The docs that are generated from code stay in step with it."""

from pathlib import Path

from sessionlens.cli import build_parser
from sessionlens.settings import SETTINGS, settings_doc

ROOT = Path(__file__).resolve().parent.parent


def test_settings_page_is_generated_from_the_settings_table() -> None:
    assert (ROOT / "docs" / "settings.md").read_text() == settings_doc(), (
        "docs/settings.md is stale: run `sessionlens settings --markdown > docs/settings.md`"
    )


def test_every_setting_has_help_and_an_environment_variable() -> None:
    for s in SETTINGS:
        assert s.help.strip().endswith("."), s.name
        assert s.env_var == "SESSIONLENS_" + s.name.upper()


def test_docs_name_every_cli_command() -> None:
    commands = build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001
    text = "".join(p.read_text() for p in (ROOT / "docs").glob("*.md")) + (ROOT / "README.md").read_text()
    for name in commands:
        if name != "demo":
            assert f"sessionlens {name}" in text, f"docs never mention `sessionlens {name}`"
