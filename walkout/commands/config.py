"""`walkout config`: every setting of `walkout run` and `walkout fuse` with its default, and a file check."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="config")
@click.option("--defaults", is_flag=True,
              help="Print every setting with its default, unit and meaning (a TOML file per command, "
                   "valid as it is: copy it and keep what you change).")
@click.option("--markdown", is_flag=True, help="With --defaults: as docs/CONFIG.md (a table per section).")
@click.option("--check", "check", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="Validate a run or fuse config file (TOML/YAML): every section, key and value type.")
@click.option("--for", "for_command", type=click.Choice(["run", "fuse"]), default=None,
              help="Which command's settings (default: both for --defaults; told by the sections for --check).")
def command(defaults: bool, markdown: bool, check: Path | None, for_command: str | None) -> None:
    """Print every setting of `walkout run` and `walkout fuse` (--defaults), or validate a config file
    (--check FILE): an unknown section or key, or a value of the wrong type, is one line naming the
    file, section, key and problem (exit code 2)."""
    from walkout.config_reference import defaults_toml
    from walkout.config_reference import markdown as config_markdown

    if defaults == (check is not None):
        raise click.UsageError("give one of --defaults or --check FILE")
    if markdown and not defaults:
        raise click.UsageError("--markdown goes with --defaults")
    if defaults:
        if markdown:
            if for_command is not None:
                raise click.UsageError("--markdown prints both commands' settings: leave out --for")
            click.echo(config_markdown(), nl=False)
            return
        commands = [for_command] if for_command else ["run", "fuse"]
        click.echo("\n".join(defaults_toml(name) for name in commands), nl=False)
        return
    click.echo(check_file(check, for_command))


def check_file(path: Path, for_command: str | None = None) -> str:
    """One line saying a config file is valid and what it changes; FormatError (naming the file,
    section, key and problem) when it is not."""
    from formats.config import read_table_file
    from walkout.config import config_kind, load_config, load_fuse_config
    from walkout.config_reference import settings, toml_value

    data = read_table_file(path)
    kind = for_command or config_kind(path, data)
    config = load_config(path) if kind == "run" else load_fuse_config(path)
    changed = []
    for setting in settings(kind):
        section = config if setting.section == "pipeline" else getattr(config, setting.section)
        value = getattr(section, setting.key)
        if value != setting.default:
            changed.append(f"[{setting.section}] {setting.key} = {toml_value(value)}")
    what = f"{len(changed)} setting(s) differ from the defaults" + (": " + ", ".join(changed) if changed else "")
    return f"{path}: a valid `walkout {kind}` config; {what}"
