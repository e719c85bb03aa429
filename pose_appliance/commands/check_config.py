"""``pose-appliance check-config``: validate a config file, or print the documented example config.

Valid means the schema and model and classifier names the manifest knows (the service's ExecStartPre runs this,
so a name ``run`` would refuse fails here). Files not fetched into the models dir yet are said, with the command
that fetches them, without failing: the installer checks its config before it fetches the models."""

from __future__ import annotations

import argparse
import sys

from pose_appliance.config import Config, ConfigError, load_config
from pose_appliance.config_example import PRESETS, example_config
from pose_appliance.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", help="config file to check")
    parser.add_argument("--example", action="store_true",
                        help="print a complete example config with every key documented, and exit")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="demo",
                        help="defaults of the example: demo (sample video in, video file out) or pi "
                             "(camera in, HDMI out, as deploy/install.sh installs it)")


def run(args: argparse.Namespace) -> int:
    if args.example:
        print(example_config(args.preset), end="")
        return 0
    if not args.config:
        raise UserError("name a config file to check, or use --example")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    names = manifest_problems(config, args.config)
    if names:
        raise UserError("\n".join(names))
    print(f"{args.config}: ok (camera {config.camera.type}, model {config.model.name}, "
          f"delegate {config.model.delegate}, display {config.display.type})")
    for problem in file_problems(config, args.config):
        print(problem, file=sys.stderr)
    return 0


def manifest_problems(config: Config, source: str) -> list[str]:
    """Model and classifier names that are not a pose model and a classifier of the manifest."""
    from pose_appliance import modelstore
    from pose_appliance.doctor import manifest_name_errors

    return [str(error) for error in manifest_name_errors(config, modelstore.load_manifest(), source)]


def file_problems(config: Config, source: str) -> list[str]:
    """Files the config reads that are not fetched yet (one line, one command that fetches them all) or damaged."""
    from pose_appliance import modelstore
    from pose_appliance.doctor import Host, model_names, models_dir_for

    manifest = modelstore.load_manifest()
    models_dir = models_dir_for(config, Host())
    problems, missing = [], []
    for name, required in model_names(config, manifest, edgetpu_found=False):
        if not required:
            continue
        if not (models_dir / manifest[name].file).is_file():
            missing.append(name)
            continue
        try:
            modelstore.model_file(name, models_dir, manifest=manifest)
        except modelstore.ModelError as exc:  # there, but damaged
            problems.append(f"{source}: {exc}")
    if missing:
        problems.insert(0, f"{source}: not fetched into {models_dir} yet: {', '.join(missing)}; run will refuse "
                           f"to start until `pose-appliance models fetch --models-dir {models_dir} "
                           f"{' '.join(missing)}` fetched them")
    return problems
