"""How often the appliance names a pose right, wrongly or not at all, on photos and videos you choose.

Run through ``scripts/evaluate-labels``. Every set goes through ``pose-appliance run --source SET --display null
--record-keypoints FILE`` as a user's run would (same decisions, label smoother included), and the records are
counted:

- ``yoga:FOLDER``: a folder of ``<class>/<image>`` files (the layout ``train-classifier`` reads). A record is
  right when its label is the image's folder name, wrong when it is another label, unnamed when it has none.
- ``none:FOLDER_OR_VIDEO``: people doing anything but the classifier's poses. Every label there is a false one.
- ``yoga-git:PATH``: a clone (or bare clone) of the tutorial's image set as github.com/nntruong1907/MoveNet_Yoga
  holds it: its ``yoga_cg/test`` and ``yoga_cg/train`` folders are exported with ``git archive`` to a scratch
  folder and counted as two ``yoga:`` sets. None of its files are kept.

Prints one line per set (and the files behind every wrong label; for a video, how often the label shown changed,
per minute of the video's own time), ``--json`` writes every record's verdict.
Exit status 0 whatever the figures: this measures, it does not judge.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from git_export import export_head, git_dir_of

YOGA_GIT_FOLDERS = ("yoga_cg/test", "yoga_cg/train")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/evaluate-labels", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="+", metavar="KIND:PATH",
                        help="yoga:FOLDER (class sub-folders), none:FOLDER_OR_VIDEO, or yoga-git:CLONE")
    parser.add_argument("--models-dir", help="where `pose-appliance models fetch` put the models (default: the "
                                             "appliance's own rule)")
    parser.add_argument("--config", help="a config file for the runs (e.g. classifier.path of a trained "
                                         "classifier); default: the built-in defaults")
    parser.add_argument("--json", help="also write every record's verdict to this file")
    args = parser.parse_args(argv)
    appliance = str(Path(sys.executable).with_name("pose-appliance"))
    scratch = Path(tempfile.mkdtemp(prefix="evaluate-labels-"))
    try:
        sets = [expanded for spec in args.sets for expanded in _expand(spec, scratch, parser)]
        results = [evaluate(appliance, kind, path, args, scratch / f"records-{i}.jsonl")
                   for i, (kind, path, _) in enumerate(sets)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for (_, _, name), result in zip(sets, results):
        result["set"] = name
        print(format_line(result))
        for verdict in result["verdicts"]:
            if verdict["verdict"] == "wrong":
                print(f"    wrong: {verdict['item']} named {verdict['label']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"written to {args.json}")
    return 0


def _expand(spec: str, scratch: Path, parser: argparse.ArgumentParser) -> list[tuple[str, Path, str]]:
    kind, sep, path = spec.partition(":")
    if not sep or kind not in ("yoga", "none", "yoga-git") or not path:
        parser.error(f"{spec!r}: expected yoga:FOLDER, none:FOLDER_OR_VIDEO or yoga-git:CLONE")
    if kind != "yoga-git":
        if not Path(path).exists():
            parser.error(f"{spec}: {path} does not exist")
        return [(kind, Path(path), spec)]
    export = scratch / "yoga-git"
    try:
        export_head(git_dir_of(Path(path)), YOGA_GIT_FOLDERS, export)
    except ValueError as exc:
        parser.error(f"{spec}: {exc}")
    return [("yoga", export / folder, f"yoga:{path}:{folder}") for folder in YOGA_GIT_FOLDERS]


def evaluate(appliance: str, kind: str, path: Path, args: argparse.Namespace, out: Path) -> dict:
    """Run the appliance over one set, its records going to ``out``, and count them."""
    command = [appliance, "run", "--source", str(path), "--display", "null", "--record-keypoints", str(out),
               "--log-level", "warning"]
    if args.models_dir:
        command += ["--models-dir", args.models_dir]
    if args.config:
        command += ["--config", args.config]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({finished.returncode}):\n{finished.stderr[-2000:]}")
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return count(kind, records)


def count(kind: str, records: list[dict]) -> dict:
    """Verdicts of one set's records: right / wrong / unnamed (yoga), named / unnamed (none)."""
    verdicts = []
    for record in records:
        item, label = record.get("file") or f"frame {record['frame']}", record["label"]
        if kind == "yoga":
            truth = item.split("/")[0]
            verdict = "unnamed" if label is None else ("right" if label == truth else "wrong")
        else:
            verdict = "unnamed" if label is None else "wrong"
        verdicts.append({"item": item, "label": label, "verdict": verdict})
    tally = collections.Counter(v["verdict"] for v in verdicts)
    labels = collections.Counter(v["label"] for v in verdicts if v["label"] is not None)
    result = {"kind": kind, "records": len(verdicts), "right": tally["right"], "wrong_count": tally["wrong"],
              "unnamed": tally["unnamed"], "labels": dict(labels), "verdicts": verdicts}
    if len(records) > 1 and "file" not in records[0]:  # a video: how often the label shown changes
        shown = [r["label"] for r in records]
        # an unpaced run stamps frames with the video's own time, so this is per minute of the video
        minutes = (records[-1]["t"] - records[0]["t"]) * len(records) / (len(records) - 1) / 60.0
        result["label_changes"] = sum(1 for a, b in itertools.pairwise(shown) if a != b)
        result["label_changes_per_minute"] = result["label_changes"] / minutes if minutes > 0 else None
    return result


def format_line(result: dict) -> str:
    total = max(result["records"], 1)
    if result["kind"] == "yoga":
        line = (f"{result['set']}: {result['right']}/{result['records']} named right "
                f"({100 * result['right'] / total:.1f} %), {result['wrong_count']} wrong, "
                f"{result['unnamed']} unnamed")
    else:
        named = ", ".join(f"{label} {n}" for label, n in sorted(result["labels"].items())) or "none"
        line = (f"{result['set']}: a label on {result['wrong_count']}/{result['records']} "
                f"({100 * result['wrong_count'] / total:.1f} %; {named})")
    if "label_changes" in result:
        rate = result["label_changes_per_minute"]
        line += f"; the label changed {result['label_changes']} times"
        line += "" if rate is None else f" ({rate:.0f} per minute of video)"
    return line


if __name__ == "__main__":
    sys.exit(main())
