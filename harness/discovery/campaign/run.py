"""A campaign: generate -> run -> shrink each distinct failure -> deduplicate -> report.

    python -m harness campaign --count 2000 --seed 0 [--out campaign/] [--workers 2]
                               [--dask | --scheduler tcp://HOST:8786] [--resume]

The campaign directory holds everything, written as it comes:

    campaign.json     seed, count, distribution, frameworks; one entry per invocation (timings)
    cases/            every generated case file
    rejected.jsonl    every rejected attempt with its reason
    results.jsonl     one line per case run (verdicts and failure signatures), appended and
                      flushed as each result arrives
    shrunk.jsonl      one line per shrunk finding, likewise
    findings/<id>/    minimal.yaml, repro.py and repro.npz of each distinct finding
    index.html        the campaign report; results.json its data

`--resume` (or running the same command again into the same directory) skips the cases and
findings already written, so an interrupted campaign, or one whose worker died, goes on where
it stopped. The seed, count and distribution must be the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from harness.discovery.campaign.report import write_report
from harness.discovery.campaign.tasks import FRAMEWORKS, run_task, shrink_task
from harness.discovery.generate import Distribution, generate, to_yaml


class CampaignError(Exception):
    """The campaign directory belongs to another campaign, or similar: what to do is said."""


@dataclass
class Finding:
    """Every case whose primary failure has one signature."""

    key: str
    failure: dict[str, Any]
    cases: list[str] = field(default_factory=list)
    numpy_too: int = 0
    """Cases of this finding in which the NumPy backend (the reference's math in the case's
    dtype) fails as well: float32 rounding rather than a framework's meaning is then suspected."""
    smallest: tuple[int, str] = (10 ** 9, "")
    shrunk: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", "-".join(p for p in self.key.split("|") if p)).strip("-").lower()
        return f"{slug[:60]}-{hashlib.sha1(self.key.encode()).hexdigest()[:6]}"


def key_of(failure: dict[str, Any]) -> str:
    """The deduplication key: framework, check, layer kind, and the hint where one is given."""
    return "|".join([failure["framework"], failure["check"], failure["kind"], failure.get("hint") or ""])


class Store:
    """The campaign directory: append-only JSON lines, files per case and finding."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        (directory / "cases").mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.directory / name

    def read_lines(self, name: str) -> list[dict[str, Any]]:
        path = self.path(name)
        if not path.exists():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a crash: that task runs again
        return rows

    def append(self, name: str, row: dict[str, Any]) -> None:
        with open(self.path(name), "a", encoding="utf-8") as stream:
            stream.write(json.dumps(row, default=str) + "\n")
            stream.flush()
            os.fsync(stream.fileno())


def open_campaign(store: Store, settings: dict[str, Any], resume: bool) -> dict[str, Any]:
    path = store.path("campaign.json")
    if path.exists():
        existing = json.loads(path.read_text())
        if existing["settings"] != settings:
            raise CampaignError(
                f"{store.directory} holds a campaign with other settings ({existing['settings']}); "
                "use another --out, or the same seed, count, frameworks and distribution to resume it")
        if not resume and store.read_lines("results.jsonl"):
            print(f"{store.directory}: resuming the campaign there (same settings)")
        return existing
    return {"settings": settings, "invocations": []}


def run_campaign(seed: int, count: int, out: Path, *, distribution: Distribution = Distribution(),
                 frameworks: tuple[str, ...] = FRAMEWORKS, executor, resume: bool = False,
                 shrink_findings: bool = True, echo: Callable[[str], None] = print) -> dict[str, Any]:
    store = Store(out)
    settings = {"seed": seed, "count": count, "frameworks": list(frameworks),
                "distribution": distribution.to_json()}
    campaign = open_campaign(store, settings, resume)
    invocation: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "executor": executor.description}
    campaign["invocations"].append(invocation)
    _write_json(store.path("campaign.json"), campaign)

    done = {row["name"] for row in store.read_lines("results.jsonl") if not row.get("lost")}
    started = time.perf_counter()
    generated, rejected = [], []
    for item in generate(seed, count, distribution):
        if item.rejected:
            rejected.append({"name": item.name, "focus": item.focus, "reason": item.reason})
            continue
        generated.append(item)
        path = store.path("cases") / f"{item.name}.yaml"
        if not path.exists():
            path.write_text(to_yaml(item.data), encoding="utf-8")
    store.path("rejected.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rejected), encoding="utf-8")
    invocation["generate_seconds"] = round(time.perf_counter() - started, 2)
    echo(f"generated {len(generated)} cases ({len(rejected)} attempts rejected) in "
         f"{invocation['generate_seconds']:.1f} s; {len(done)} already run")

    pending = [item for item in generated if item.name not in done]
    started = time.perf_counter()
    with executor:
        ran = 0
        payloads = ({"name": item.name, "focus": item.focus, "yaml": to_yaml(item.data),
                     "frameworks": list(frameworks)} for item in pending)
        for result in executor.run(run_task, payloads):
            store.append("results.jsonl", result)
            ran += 1
            if ran % 50 == 0 or ran == len(pending):
                rate = ran / max(time.perf_counter() - started, 1e-9) * 60
                echo(f"  ran {ran}/{len(pending)} ({rate:.0f} cases/min)")
        invocation["run_seconds"] = round(time.perf_counter() - started, 2)
        invocation["cases_run"] = ran
        invocation["cases_per_minute"] = round(ran / max(invocation["run_seconds"], 1e-9) * 60, 1) if ran else None
        _write_json(store.path("campaign.json"), campaign)

        findings = collect_findings(store)
        if shrink_findings:
            started = time.perf_counter()
            shrink_all(store, findings, frameworks, executor, echo)
            invocation["shrink_seconds"] = round(time.perf_counter() - started, 2)
    findings = collect_findings(store)
    _write_json(store.path("campaign.json"), campaign)

    summary = write_report(store, campaign, findings, rejected)
    echo(f"{len(findings)} distinct finding(s); report: {store.path('index.html')}")
    return summary


def collect_findings(store: Store) -> list[Finding]:
    """Primary failures grouped by key, with the shrink results written so far."""
    findings: dict[str, Finding] = {}
    for row in store.read_lines("results.jsonl"):
        numpy_fails = any(f["primary"]["framework"] == "numpy" for f in row.get("failures", []))
        for entry in row.get("failures", []):
            primary = entry["primary"]
            key = key_of(primary)
            finding = findings.setdefault(key, Finding(key, primary))
            finding.cases.append(row["name"])
            finding.numpy_too += numpy_fails and primary["framework"] != "numpy"
            size = (row.get("layers", 99), row["name"])
            if size < finding.smallest:
                finding.smallest = size
    for row in store.read_lines("shrunk.jsonl"):
        if row.get("key") in findings:
            findings[row["key"]].shrunk = row
    return sorted(findings.values(), key=lambda f: (-len(f.cases), f.key))


def shrink_all(store: Store, findings: list[Finding], frameworks, executor, echo) -> None:
    for finding in [f for f in findings if f.shrunk is None and f.failure["kind"].startswith("crash:")]:
        # Shrinking runs the case again and again: a case that kills its process would take a
        # worker down each time. Its original case is the minimal one there is.
        store.append("shrunk.jsonl", {"key": finding.key, "source": finding.smallest[1], "error": "",
                                      "summary": "not shrunk: running it kills the process",
                                      "folder": "", "has_repro": False})
    findings = collect_findings(store)
    todo = [f for f in findings if f.shrunk is None]
    if not todo:
        return
    echo(f"shrinking {len(todo)} distinct failure(s)")
    payloads = []
    for finding in todo:
        name = finding.smallest[1]
        payloads.append({"key": finding.key, "name": name, "framework": finding.failure["framework"],
                         "check": finding.failure["check"], "frameworks": list(frameworks),
                         "yaml": (store.path("cases") / f"{name}.yaml").read_text(encoding="utf-8")})
    by_key = {f.key: f for f in todo}
    for result in executor.run(shrink_task, payloads):
        finding = by_key.get(result.get("key"))
        if finding is None:
            continue
        folder = store.path("findings") / finding.id
        folder.mkdir(parents=True, exist_ok=True)
        if result.get("minimal_yaml"):
            (folder / "minimal.yaml").write_text(result["minimal_yaml"], encoding="utf-8")
        if result.get("repro_script"):
            (folder / "repro.py").write_text(result["repro_script"], encoding="utf-8")
            (folder / "repro.npz").write_bytes(result["repro_npz"])
        row = {k: v for k, v in result.items() if k not in ("repro_script", "repro_npz", "minimal_yaml")}
        row["folder"] = f"findings/{finding.id}"
        row["has_repro"] = bool(result.get("repro_script"))
        store.append("shrunk.jsonl", row)
        echo(f"  {finding.key}: " + (result.get("summary") or result.get("error", "").splitlines()[0]))


def _write_json(path: Path, data: Any) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    temporary.replace(path)
