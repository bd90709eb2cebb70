"""Command line: `python -m harness COMMAND`, one function per command:

    python -m harness run [CASES...] [--frameworks numpy,keras,chainer,torch] [--out reports/]
                          [--port NAME=FILE.py:FUNCTION ...] [--no-strength | --strength-budget S]
    python -m harness show CASE_FILE [--mapping [--frameworks keras,chainer,torch]] [--weights FILE]
    python -m harness export CASE_FILE --format keras|torch|chainer|npz|onnx|tflite --out DIR_OR_FILE
    python -m harness import MODEL [--weights FILE --input-shape 2,5,4] --out cases/NAME.yaml
    python -m harness import keras:module.py:build_model --out cases/NAME.yaml
    python -m harness support [--write docs/support.md]
    python -m harness defaults [--json] [--write docs/defaults.md]
    python -m harness schema [--check]
    python -m harness transforms
    python -m harness strength [CASES...] [--json]
    python -m harness generate --seed S --count N --out DIR [distribution options]
    python -m harness shrink CASE --framework F [--check C] [--out FILE]
    python -m harness repro CASE --framework F [--out FILE.py]
    python -m harness campaign --count N --seed S [--out DIR] [--workers W] [--dask | --scheduler ADDRESS]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

from harness.audit.strength import case_strength, strength_table
from harness.backends import get_backend
from harness.backends.base import Unsupported
from harness.case.limits import MAX_ELEMENTS, MAX_FILE_BYTES
from harness.case.schema import SCHEMA_FILE, json_schema, NATIVE_FRAMEWORKS as FRAMEWORKS
from harness.case.summary import render_summary
from harness.common.errors import CaseError
from harness.defaults.table import defaults_table, write_into as write_defaults_into
from harness.diagnosis import TRANSFORMS
from harness.diagnosis.base import framework_context
from harness.discovery.campaign.executors import DaskExecutor, ExecutorUnavailable, LocalExecutor
from harness.discovery.campaign.run import CampaignError, run_campaign
from harness.discovery.campaign.tasks import FRAMEWORKS as CAMPAIGN_FRAMEWORKS
from harness.discovery.generate import Distribution, generate, parse_range, write_case
from harness.discovery.generate.cases import from_yaml, to_yaml
from harness.discovery.repro import ReproUnavailable, write_reproducer_files
from harness.discovery.shrink import NotFailing, shrink
from harness.entry.session import run_session
from harness.output.mapping import render_mapping
from harness.output.port_console import port_findings
from harness.output.support import render_markdown, write_into as write_support_into
from harness.ports.command_line import parse_ports
from harness.ports.layouts import KerasLayout
from harness.reference.layers.base import LAYERS
from harness.weights import load_cases, load_cases_from_file
from harness.weights.checkpoints import export_path, read_checkpoint, write_checkpoint
from harness.weights.importing import import_model

ARTIFACT_FORMATS = {"onnx": "onnxruntime", "tflite": "litert"}
"""`export --format` -> the shipped runtime whose check runs that file (harness/backends/shipping/)."""
SCHEMA_PATH = SCHEMA_FILE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run cases in every framework and write the report")
    run.add_argument("cases", nargs="*", default=["cases"], help="case files or directories (default: cases/)")
    run.add_argument("--frameworks", default=None,
                     help="comma-separated backends: numpy,keras,chainer,torch (the default) and the shipped "
                          "runtimes onnxruntime,litert (docs/shipping.md)")
    run.add_argument("--out", default="reports",
                     help="report directory (index.html, cases/, results.json, junit.xml); "
                          "replaced as a whole, so it must be new or an earlier report")
    run.add_argument("-k", dest="select", default=None, help="only cases whose id contains this text")
    run.add_argument("--no-strength", action="store_true",
                     help="skip measuring each case's strength (one reference run per applicable transform)")
    run.add_argument("--strength-budget", type=float, default=None, metavar="SECONDS",
                     help="measure a case's strength only where that is expected to take at most this long, "
                          "or no longer than the case's own checks (default 2; inf: always)")
    run.add_argument("--require-frameworks", action="store_true",
                     help="treat a framework that is not installed as an error, not a skip (CI)")
    run.add_argument("--port", dest="ports", action="append", metavar="PORT",
                     help="check your own implementation as one more backend of every case run: "
                          "NAME=FILE.py:FUNCTION[,weights_as=keras|torch|chainer][,dtype=float64], "
                          "'NAME=command:PROGRAM ARGS' ({inputs} {weights} {outputs} are .npz paths), "
                          "or a YAML mapping as in a case file's `ports`; repeatable; paths relative "
                          "to the working directory (see docs/ports.md)")

    show = commands.add_parser("show", help="print a model summary of each case in a file")
    show.add_argument("cases", nargs="+")
    show.add_argument("--mapping", action="store_true",
                      help="instead, build each case in every installed framework and print where each "
                           "canonical parameter goes: native name, native shape, layout transform")
    show.add_argument("--frameworks", default=None,
                      help="with --mapping: comma-separated subset of keras,chainer,torch (default: all)")

    show.add_argument("--weights", metavar="FILE", default=None,
                      help="instead, match a checkpoint file against each case's model: every native tensor, "
                           "its shape, the shape found in the file, and the canonical parameter it becomes")
    show.add_argument("--format", default="auto", choices=("auto", "keras", "torch", "chainer", "npz"),
                      help="with --weights: the checkpoint's format (default: from the file name)")

    export = commands.add_parser("export", help="write each case's weights as a framework's own checkpoint file, "
                                                "or its model as the .onnx/.tflite file the shipped runtime checks")
    export.add_argument("cases", nargs="+")
    export.add_argument("--format", "--framework", dest="format", required=True,
                        choices=("keras", "torch", "chainer", "npz", *ARTIFACT_FORMATS),
                        help="keras: .weights.h5 (model.load_weights); torch: state_dict .pt (load_state_dict); "
                             "chainer: .npz (serializers.load_npz); npz: canonical <layer>/<parameter> arrays; "
                             "onnx: the model as onnxruntime runs it; tflite: the model as litert runs it "
                             "(docs/shipping.md)")
    export.add_argument("--out", required=True,
                        help="a directory (one <case id><suffix> per case) or, for one case, a file name")
    export.add_argument("-k", dest="select", default=None, help="only cases whose id contains this text")

    importer = commands.add_parser(
        "import", help="write a case file (and its weights file beside it) from a saved model")
    importer.add_argument("model", help="a Keras .keras file, keras:module.py:build_model (a function returning a "
                                        "keras.Model; subclassed layers expanded), or module.py:Class of a torch "
                                        "nn.Module or a chainer Chain (with --weights and --input-shape)")
    importer.add_argument("--out", required=True, help="the case file to write, e.g. cases/NAME.yaml")
    importer.add_argument("--weights", "--state-dict", dest="state_dict", default=None,
                          help="module.py:Class: torch.save(model.state_dict(), PATH), or chainer's "
                               "serializers.save_npz(PATH, chain) (a .npz)")
    importer.add_argument("--input-shape", action="append", default=None,
                          help="the input's shape without the batch axis, e.g. 2,5,4, once per input in order: "
                               "required for module.py:Class; for a .keras model, the sizes its inputs leave "
                               "open (shape=(None,))")
    importer.add_argument("--samples", type=int, default=4, help="batch size of the generated data (default 4)")
    importer.add_argument("--partial", action="store_true",
                          help="on a layer the harness cannot express, write the case up to the layer before it")

    support = commands.add_parser("support", help="print the support table (built by running every adapter)")
    support.add_argument("--write", metavar="FILE", default=None,
                         help="replace the table in this file (docs/support.md)")

    defaults = commands.add_parser(
        "defaults", help="print every framework's defaults for the audited hyper-parameters (read from the frameworks)")
    defaults.add_argument("--frameworks", default=None, help="comma-separated subset of keras,chainer,torch")
    defaults.add_argument("--json", action="store_true", help="print the JSON form (as in results.json)")
    defaults.add_argument("--write", metavar="FILE", default=None,
                          help="replace the table in this file (docs/defaults.md)")

    schema = commands.add_parser("schema", help="write the JSON Schema of case files")
    schema.add_argument("--check", action="store_true", help="fail if the committed schema is stale")

    commands.add_parser("transforms", help="list the catalogue of semantic transforms (diagnosis hints, strength)")
    strength = commands.add_parser(
        "strength", help="per case, the share of applicable transforms its own checks detect, with reasons")
    strength.add_argument("cases", nargs="*", default=["cases"], help="case files or directories (default: cases/)")
    strength.add_argument("-k", dest="select", default=None, help="only cases whose id contains this text")
    strength.add_argument("--json", action="store_true", help="print the JSON form")

    add_discovery_commands(commands)
    for command in (run, show, export, strength):
        add_limit_options(command)

    options = parser.parse_args(argv)
    apply_limit_options(options)
    try:
        commands_by_name = {"run": command_run, "show": command_show, "export": command_export,
                            "import": command_import, "support": command_support,
                            "defaults": command_defaults, "schema": command_schema,
                            "transforms": command_transforms, "strength": command_strength,
                            "generate": command_generate, "shrink": command_shrink, "repro": command_repro,
                            "campaign": command_campaign}
        return commands_by_name[options.command](options)
    except CaseError as exc:
        print(exc.render(), file=sys.stderr)
        return 2


def add_limit_options(command: argparse.ArgumentParser) -> None:
    """The loading limits a big real model may need raised (harness/case/limits.py)."""
    command.add_argument("--max-elements", type=int, default=None, metavar="N",
                         help=f"elements a case's data and parameters may hold (default {MAX_ELEMENTS.default:,}; "
                              f"or {MAX_ELEMENTS.environment}; see docs/security.md)")
    command.add_argument("--max-case-bytes", type=int, default=None, metavar="N",
                         help=f"bytes a case file may hold (default {MAX_FILE_BYTES.default:,}; or "
                              f"{MAX_FILE_BYTES.environment})")


def apply_limit_options(options: argparse.Namespace) -> None:
    """A flag sets its environment variable, so the limit also reaches every subprocess."""
    for limit, value in ((MAX_ELEMENTS, getattr(options, "max_elements", None)),
                         (MAX_FILE_BYTES, getattr(options, "max_case_bytes", None))):
        if value is not None:
            os.environ[limit.environment] = str(value)


def command_run(options) -> int:
    frameworks = options.frameworks.split(",") if options.frameworks else None
    ports = parse_ports(options.ports)
    command = "python -m harness " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else \
        "python -m harness run"
    started = time.perf_counter()
    session = run_session(options.cases, frameworks=frameworks, select=options.select,
                          out_dir=Path(options.out), command=command,
                          require_frameworks=options.require_frameworks, echo=print, ports=ports,
                          strength=not options.no_strength, strength_budget=options.strength_budget)

    for block in port_findings(session.reports):
        print("\n" + block)
    summary = session.results["summary"]
    counts = ", ".join(f"{v} {k}" for k, v in summary.items() if v)
    loaded = f"{len(session.reports)} case(s)" + (f", {len(session.results['load_errors'])} file(s) not loaded"
                                                  if session.results["load_errors"] else "")
    print(f"\n{sum(summary.values())} checks ({loaded})" + (f": {counts}" if counts else "")
          + f" in {time.perf_counter() - started:.1f} s")
    print(f"report: {session.index_path} (written in {session.report_seconds:.2f} s)\n"
          f"results: {session.results_path}")
    return 1 if summary["fail"] or summary["error"] or session.results["load_errors"] else 0


def print_port_weights(case) -> None:
    """Each `weights_as: keras` port of the case: the get_weights() list it receives, by index and
    shape (the list has no names; Keras builds the model, so only where a case has such a port)."""
    for port in case.ports:
        if port.spec.weights_as != "keras":
            continue
        try:
            lines = KerasLayout().listing(case)
        except Exception as exc:  # Keras missing or unable to build: say so, show the rest
            print(f"port {port.name} (weights_as keras): cannot list its weights: {exc}")
            continue
        print(f"port {port.name} receives model.get_weights() (weights_as keras):")
        for line in lines:
            print("  " + line)


def command_show(options) -> int:
    if options.frameworks and not options.mapping:
        print("--frameworks goes with --mapping", file=sys.stderr)
        return 2
    if options.format != "auto" and not options.weights:
        print("--format goes with --weights", file=sys.stderr)
        return 2
    for case in load_cases(options.cases):
        if options.weights:
            checkpoint = read_checkpoint(case, options.weights, options.format, field="--weights")
            print(checkpoint.table())
            problems = checkpoint.mismatches()
            print(f"{len(problems)} tensor(s) do not fit" if problems else "every tensor fits")
        elif options.mapping:
            frameworks = tuple(options.frameworks.split(",")) if options.frameworks else FRAMEWORKS
            unknown = sorted(set(frameworks) - set(FRAMEWORKS))
            if unknown:
                print(f"unknown framework(s) {', '.join(unknown)}; known: {', '.join(FRAMEWORKS)}",
                      file=sys.stderr)
                return 2
            print(render_mapping(case, frameworks))
        else:
            print(render_summary(case))
            print_port_weights(case)
        print()
    return 0


def command_export(options) -> int:
    cases = [case for case in load_cases(options.cases) if not options.select or options.select in case.id]
    if not cases:
        raise CaseError("no case to export", field="-k", found=options.select)
    out = Path(options.out)
    if len(cases) > 1 and out.suffix and not out.is_dir():
        raise CaseError(f"{len(cases)} cases, one file name", field="--out",
                        expected="a directory (one file per case), or -k to choose one case", found=options.out)
    if options.format in ARTIFACT_FORMATS:
        return export_artifacts(cases, options.format, out)
    for case in cases:
        path = write_checkpoint(case, options.format, export_path(case, options.format, out))
        print(f"{case.id}: {path}")
    return 0


def export_artifacts(cases: list, format: str, out: Path) -> int:
    """Each case's model exported as its shipped runtime's check exports it (the same file).
    A case the exporter refuses (or in training mode) is reported with the reason; the others
    are still written."""
    backend = get_backend(ARTIFACT_FORMATS[format])
    reason = backend.unavailable_reason()
    if reason:
        raise CaseError(f"cannot export {format}: {reason.splitlines()[0]}", field="--format", found=format,
                        hint="install the shipping extra: `python tools/install.py`")
    refused = 0
    for case in cases:
        try:
            path = backend.write_artifact(case, out)
        except Unsupported as exc:
            refused += 1
            print(f"{case.id}: not exported: {exc}", file=sys.stderr)
            continue
        print(f"{case.id}: {path}")
    return 1 if refused else 0


def command_import(options) -> int:
    result = import_model(options.model, Path(options.out), state_dict=options.state_dict,
                          input_shapes=options.input_shape, samples=options.samples, partial=options.partial)
    print(result.summary())
    return 0 if result.ok else 1


def command_support(options) -> int:
    table = render_markdown()
    if options.write:
        changed = write_support_into(Path(options.write), table)
        print(f"{options.write}: {'updated' if changed else 'already up to date'}")
    else:
        print(table)
    return 0


def command_defaults(options) -> int:
    frameworks = options.frameworks.split(",") if options.frameworks else list(FRAMEWORKS)
    unknown = [name for name in frameworks if name not in FRAMEWORKS]
    if unknown:
        raise CaseError(f"unknown framework {unknown[0]!r}", field="--frameworks",
                        expected=", ".join(FRAMEWORKS), found=unknown[0])
    table = defaults_table({name: get_backend(name) for name in frameworks})
    if options.json:
        print(json.dumps(table.to_json(), indent=1, default=str))
    elif options.write:
        changed = write_defaults_into(Path(options.write), table.to_markdown())
        print(f"{options.write}: {'updated' if changed else 'already up to date'}")
    else:
        print(table.to_markdown())
    return 0


def command_transforms(options) -> int:
    print(f"{'transform':<40} {'applies to':<44} description")
    for transform in TRANSFORMS.values():
        print(f"{transform.name:<40} {transform.kind + ' ' + ', '.join(transform.tags):<44} {transform.description}")
    return 0


def command_strength(options) -> int:
    cases = [case for case in load_cases(options.cases) if not options.select or options.select in case.id]
    context = framework_context()
    strengths = [case_strength(case, context) for case in cases]
    if options.json:
        print(json.dumps([s.to_dict() for s in strengths], indent=1))
    else:
        print(strength_table(strengths))
    return 0


def command_schema(options) -> int:
    text = json.dumps(json_schema(), indent=2) + "\n"
    if options.check:
        if not SCHEMA_PATH.exists() or SCHEMA_PATH.read_text() != text:
            print(f"{SCHEMA_PATH} is out of date: run `python -m harness schema`", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(text)
    print(f"wrote {SCHEMA_PATH}")
    return 0


def add_distribution_options(command) -> None:
    """The tunable distribution of generated cases (harness/discovery/generate/distribution.py)."""
    group = command.add_argument_group("distribution of generated cases (defaults: see --describe)")
    group.add_argument("--kinds", default=None, help="comma-separated layer kinds (default: every registered one)")
    group.add_argument("--activations", default=None, help="comma-separated activations (default: all)")
    group.add_argument("--losses", default=None, help="comma-separated losses (default: all)")
    group.add_argument("--optimizers", default=None, help="comma-separated optimizers (default: all)")
    group.add_argument("--depth", default=None, help="layers per model, N or LOW-HIGH (default 1-5)")
    group.add_argument("--graph", type=float, default=None, help="share of graph-form models (default 0.3)")
    group.add_argument("--training", type=float, default=None, help="share of training cases (default 0.25)")
    group.add_argument("--training-mode", type=float, default=None,
                       help="share of cases in mode: training (default 0.2)")
    group.add_argument("--float64", type=float, default=None, help="share of float64 cases (default 0.2)")
    group.add_argument("--coincidences", type=float, default=None,
                       help="share of draws with two axes of the same length on purpose (default 0.25; "
                            "0 draws what earlier versions drew)")
    group.add_argument("--describe", action="store_true", help="print the distribution and exit")


def distribution_from(options):
    values = {}
    for option, field in (("kinds", "kinds"), ("activations", "activations"), ("losses", "losses"),
                          ("optimizers", "optimizers")):
        text = getattr(options, option)
        if text:
            values[field] = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(set(values.get("kinds", ())) - set(LAYERS))
    if unknown:
        raise CaseError(f"unknown layer kind {unknown[0]!r}", field="--kinds", expected=LAYERS.known(),
                        found=unknown[0])
    if options.depth:
        try:
            values["depth"] = parse_range(options.depth)
        except ValueError as exc:
            raise CaseError(str(exc), field="--depth") from None
    for option, field in (("graph", "graph_probability"), ("training", "training_probability"),
                          ("training_mode", "training_mode_probability"), ("float64", "float64_probability"),
                          ("coincidences", "coincidence_probability")):
        value = getattr(options, option)
        if value is not None:
            if not 0 <= value <= 1:
                raise CaseError("a share must lie in [0, 1]", field=f"--{option.replace('_', '-')}", found=value)
            values[field] = value
    return Distribution(**values)


def add_discovery_commands(commands) -> None:
    generate = commands.add_parser("generate", help="write N random valid case files (see docs/discovery.md)")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--count", type=int, default=10)
    generate.add_argument("--out", default="generated", help="directory for the case files")
    generate.add_argument("--rejected", action="store_true", help="also print each rejected attempt's reason")
    add_distribution_options(generate)

    shrink = commands.add_parser("shrink", help="reduce a failing case to a minimal one that fails the same way")
    shrink.add_argument("case", help="a case file (with variants: name one with -k)")
    shrink.add_argument("--framework", required=True, help="the framework that fails")
    shrink.add_argument("--check", default=None, help="the failing check (default: the first failing one)")
    shrink.add_argument("-k", dest="select", default=None, help="the variant whose id contains this text")
    shrink.add_argument("--out", default=None, help="where to write the minimal case (default: CASE_min.yaml)")

    repro = commands.add_parser("repro", help="write a one-file reproducer of a failing case (NumPy and the "
                                              "frameworks only)")
    repro.add_argument("case")
    repro.add_argument("--framework", required=True)
    repro.add_argument("-k", dest="select", default=None, help="the variant whose id contains this text")
    repro.add_argument("--out", default=None, help="the script's path (default: CASE_repro.py; .npz beside it)")

    campaign = commands.add_parser("campaign", help="generate, run, shrink, deduplicate and report")
    campaign.add_argument("--seed", type=int, default=0)
    campaign.add_argument("--count", type=int, default=100)
    campaign.add_argument("--out", default="campaign", help="campaign directory (resumable)")
    campaign.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    campaign.add_argument("--frameworks", default=None, help="comma-separated subset of numpy,keras,chainer,torch")
    where = campaign.add_mutually_exclusive_group()
    where.add_argument("--dask", action="store_true", help="run on a Dask LocalCluster of --workers processes")
    where.add_argument("--scheduler", default=None, help="run on the Dask cluster at this address (tcp://HOST:8786)")
    campaign.add_argument("--resume", action="store_true", help="go on with the campaign in --out")
    campaign.add_argument("--no-shrink", action="store_true", help="run and report without shrinking")
    add_distribution_options(campaign)


def command_generate(options) -> int:
    distribution = distribution_from(options)
    if options.describe:
        print(distribution.describe())
        return 0
    out = Path(options.out)
    written = rejected = 0
    started = time.perf_counter()
    for item in generate(options.seed, options.count, distribution):
        if item.rejected:
            rejected += 1
            if options.rejected:
                print(f"rejected {item.name} (around {item.focus}): {item.reason}")
            continue
        write_case(item.data, out)
        written += 1
    print(f"wrote {written} case(s) to {out}/ ({rejected} attempt(s) rejected with a reason) in "
          f"{time.perf_counter() - started:.1f} s")
    return 0 if written == options.count else 1


def _one_case_data(path: str, select: str | None):
    cases = load_cases_from_file(path)
    if select:
        cases = [case for case in cases if select in case.id]
    if len(cases) != 1:
        raise CaseError(f"{len(cases)} cases match; shrink and repro take one",
                        file=path, hint="name one variant with -k")
    data = from_yaml(Path(path).read_text(encoding="utf-8"))
    variants = data.pop("variants", None)
    if variants:
        variant = next(v for v in variants if f"{data['name']}.{v['name']}" == cases[0].id)
        data.update({k: v for k, v in variant.items() if k != "name"})
        data["name"] = f"{data['name']}_{variant['name']}"
    return data


def command_shrink(options) -> int:
    data = _one_case_data(options.case, options.select)
    try:
        result = shrink(data, options.framework, options.check, echo=print)
    except NotFailing as exc:
        print(exc, file=sys.stderr)
        return 1
    minimal = result.data
    minimal["name"] = f"{data['name']}_min"
    minimal["description"] = (f"Shrunk by `python -m harness shrink` from {options.case}: fails "
                              f"{result.failure.framework} {result.failure.check} at {result.failure.kind}.")
    out = Path(options.out) if options.out else Path(options.case).with_name(Path(options.case).stem + "_min.yaml")
    out.write_text(to_yaml(minimal), encoding="utf-8")
    print(result.summary())
    print(f"minimal case: {out}")
    return 0


def command_repro(options) -> int:
    data = _one_case_data(options.case, options.select)
    try:
        script, arrays = write_reproducer_files(data, options.framework)
    except ReproUnavailable as exc:
        print(f"no reproducer: {exc}", file=sys.stderr)
        return 1
    out = Path(options.out) if options.out else Path(options.case).with_name(Path(options.case).stem + "_repro.py")
    out.write_text(script, encoding="utf-8")
    out.with_suffix(".npz").write_bytes(arrays)
    print(f"reproducer: {out} (arrays: {out.with_suffix('.npz')}); run it with `python {out}`")
    return 0


def command_campaign(options) -> int:
    distribution = distribution_from(options)
    if options.describe:
        print(distribution.describe())
        return 0
    frameworks = tuple(options.frameworks.split(",")) if options.frameworks else CAMPAIGN_FRAMEWORKS
    unknown = sorted(set(frameworks) - set(CAMPAIGN_FRAMEWORKS))
    if unknown:
        raise CaseError(f"unknown framework {unknown[0]!r}", field="--frameworks",
                        expected=", ".join(CAMPAIGN_FRAMEWORKS))
    try:
        if options.dask or options.scheduler:
            executor = DaskExecutor(options.workers, frameworks, options.scheduler)
        else:
            executor = LocalExecutor(options.workers, frameworks)
        run_campaign(options.seed, options.count, Path(options.out), distribution=distribution,
                     frameworks=frameworks, executor=executor, resume=options.resume,
                     shrink_findings=not options.no_shrink)
    except (ExecutorUnavailable, CampaignError) as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
