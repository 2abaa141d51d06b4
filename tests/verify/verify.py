#!/usr/bin/env python3
"""Offline proof of every rendered configuration: terraform fmt, terraform validate against
the real AWS provider schema (through the schema-only provider), and checkov.

Run from the repository root:  python3 tests/verify/verify.py
Needs: .tools/terraform (Terraform 1.0.3), .tools/checkov, a built drgen and schema-provider
(cargo build --workspace), and the provider schema named by DRGEN_PROVIDER_SCHEMA (default:
../shared/schemas/aws-provider-5.100.0.schema.json.gz). A missing tool fails the run.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
TOOLS = ROOT / ".tools"
TERRAFORM = Path(os.environ.get("DRGEN_TERRAFORM", TOOLS / "terraform"))
# Where a Terraform >= 1.5 may be, besides DRGEN_TERRAFORM_MODERN and every `terraform` on PATH:
# it validates the output as written, including what 1.0.3 does not know (pre- and
# postconditions).
KNOWN_PLACES = (
    "/usr/local/bin/terraform",
    "/usr/bin/terraform",
    "/opt/terraform/terraform",
    str(Path.home() / ".local" / "bin" / "terraform"),
    str(Path.home() / ".tfenv" / "bin" / "terraform"),
    str(Path.home() / "bin" / "terraform"),
)
CHECKOV = Path(os.environ.get("DRGEN_CHECKOV", TOOLS / "checkov" / "bin" / "checkov"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug"
DRGEN = TARGET / "drgen"
PROVIDER = TARGET / "schema-provider"
SCHEMA = Path(
    os.environ.get(
        "DRGEN_PROVIDER_SCHEMA",
        ROOT.parent / "shared" / "schemas" / "aws-provider-5.100.0.schema.json.gz",
    )
).resolve()
MIRROR_PATH = "registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64/terraform-provider-aws_v5.100.0"
OVERRIDE = 'terraform {\n  required_version = ">= 0.0.0"\n}\n'
SUFFIX = "ci"


class Failure(Exception):
    pass


def run(cmd, cwd=None, env=None, check=True):
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise Failure(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def candidates(env=None, known=KNOWN_PLACES):
    """Every Terraform binary worth asking, in order of preference, without duplicates."""
    env = os.environ if env is None else env
    found = []
    if env.get("DRGEN_TERRAFORM_MODERN"):
        found.append(env["DRGEN_TERRAFORM_MODERN"])
    for directory in env.get("PATH", "").split(os.pathsep):
        if directory:
            found.append(str(Path(directory) / "terraform"))
    found.extend(known)
    unique = []
    for binary in found:
        path = Path(binary)
        if path.is_file() and os.access(path, os.X_OK):
            resolved = str(path.resolve())
            if resolved not in [str(Path(u).resolve()) for u in unique]:
                unique.append(binary)
    return unique


def find_modern(env=None, known=KNOWN_PLACES):
    """The newest Terraform >= 1.5 among the candidates, as (path, version), or None."""
    best = None
    for binary in candidates(env, known):
        v = version(binary)
        if v is not None and v >= (1, 5, 0) and (best is None or v > best[1]):
            best = (binary, v)
    return best


def require_modern(found, env=None):
    """In CI a Terraform >= 1.5 is required: without it pre- and postconditions go unchecked."""
    env = os.environ if env is None else env
    if found is None and env.get("CI") == "true":
        raise Failure(
            "no Terraform >= 1.5 found (DRGEN_TERRAFORM_MODERN, PATH, " + ", ".join(KNOWN_PLACES) + "); CI requires one"
        )


def require_tools():
    for tool in (TERRAFORM, CHECKOV, DRGEN, PROVIDER, SCHEMA):
        if not tool.exists():
            raise Failure(f"missing {tool}: run .ci/install and cargo build --workspace first")


def version(binary):
    """(major, minor, patch) of a Terraform binary, or None."""
    if not binary or not Path(binary).exists():
        return None
    proc = run([binary, "version", "-json"], check=False)
    try:
        text = json.loads(proc.stdout)["terraform_version"]
    except (json.JSONDecodeError, KeyError):
        first = (proc.stdout.split() or ["", "v0"])[1]
        text = first.lstrip("v")
    return tuple(int(p) for p in text.split("-")[0].split(".")[:3])


def strip_conditions(text):
    """Removes precondition/postcondition blocks, and lifecycle blocks left empty by that, for a
    Terraform older than 1.2. Works on canonically formatted text (terraform fmt's indentation)."""
    out, skipping, depth = [], False, 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if not skipping and stripped in ("precondition {", "postcondition {"):
            skipping, depth = True, 0
        if skipping:
            depth += line.count("{") - line.count("}")
            if depth == 0:
                skipping = False
            continue
        out.append(line)
    result = "".join(out)
    while True:
        cleaned = re.sub(r"\n[ ]*lifecycle \{\n(?:[ ]*\n)*[ ]*\}\n", "\n", result)
        if cleaned == result:
            return result
        result = cleaned


class Terraform:
    """Terraform with the schema-only provider installed from a filesystem mirror."""

    def __init__(self, work: Path, binary=TERRAFORM):
        self.binary = binary
        self.version = version(binary)
        self.legacy = self.version is not None and self.version < (1, 2, 0)
        work = work / f"tf-{'.'.join(map(str, self.version or ()))}"
        mirror = work / "mirror"
        binary = mirror / MIRROR_PATH
        binary.parent.mkdir(parents=True)
        shutil.copy2(PROVIDER, binary)
        config = work / "cli.tfrc"
        config.write_text(
            "provider_installation {\n  filesystem_mirror {\n"
            f'    path    = "{mirror}"\n    include = ["registry.terraform.io/hashicorp/aws"]\n'
            "  }\n}\n"
        )
        self.env = dict(
            os.environ,
            TF_CLI_CONFIG_FILE=str(config),
            DRGEN_PROVIDER_SCHEMA=str(SCHEMA),
            TF_IN_AUTOMATION="1",
            CHECKPOINT_DISABLE="1",
            TF_PLUGIN_CACHE_DIR="",
        )
        self.work = work
        self.count = 0

    def fmt_check(self, directory: Path):
        """Returns the files terraform fmt would change."""
        proc = run([self.binary, "fmt", "-check", "-recursive", "-list=true", directory], env=self.env, check=False)
        changed = [line for line in proc.stdout.splitlines() if line.strip()]
        if proc.returncode != 0 and not changed:
            raise Failure(f"terraform fmt failed on {directory}:\n{proc.stderr}")
        return changed

    def validate(self, root: Path, extra=()):
        """Validates a copy of one root (plus `extra` files); returns the diagnostics."""
        self.count += 1
        copy = self.work / f"root{self.count}"
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns("bootstrap", ".terraform*"))
        for path in extra:
            shutil.copy2(path, copy / path.name)
        # Every module of the copy (the root, and a module layout it calls) gets the override.
        for directory in {tf.parent for tf in copy.rglob("*.tf")} | {copy}:
            (directory / "zz_version_override.tf").write_text(OVERRIDE)
        if self.legacy:
            for tf in copy.rglob("*.tf"):
                tf.write_text(strip_conditions(tf.read_text()))
        run([self.binary, "init", "-backend=false", "-input=false", "-no-color"], cwd=copy, env=self.env)
        proc = run([self.binary, "validate", "-json", "-no-color"], cwd=copy, env=self.env, check=False)
        try:
            result = json.loads(proc.stdout)
        except json.JSONDecodeError as e:
            raise Failure(f"terraform validate gave no JSON for {root}: {e}\n{proc.stderr}") from e
        return result.get("diagnostics", []), result.get("valid", False)


def checkov(directory: Path, skips):
    cmd = [CHECKOV, "-d", directory, "--framework", "terraform", "--skip-download", "-o", "json"]
    if skips:
        cmd += ["--skip-check", ",".join(skips)]
    proc = run(cmd, check=False, env=dict(os.environ, BC_SKIP_MAPPING="TRUE"))
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        raise Failure(f"checkov gave no JSON for {directory}: {e}\n{proc.stderr[-2000:]}") from e
    reports = data if isinstance(data, list) else [data]
    passed, failed, skipped = [], [], []
    for report in reports:
        results = report.get("results", {})
        passed += results.get("passed_checks", [])
        failed += results.get("failed_checks", [])
        skipped += results.get("skipped_checks", [])
    return passed, failed, skipped


def load_skips():
    data = tomllib.loads((HERE / "checkov-skips.toml").read_text())
    skips = data.get("skip", [])
    for s in skips:
        if not s.get("reason") or not s.get("when"):
            raise Failure(f"checkov-skips.toml: {s.get('check')} needs a reason and a when")
    return skips


def applies(skip, settings):
    """Whether a skip applies to a rendering: `when` names a boolean of `drgen explain`'s
    settings (`!name` for its negation), or is `always`."""
    when = skip["when"]
    if when == "always":
        return True
    negate = when.startswith("!")
    name = when.lstrip("!")
    if name not in settings or not isinstance(settings[name], bool):
        raise Failure(f"checkov-skips.toml: {skip['check']}: when = {when!r} names no boolean setting")
    return settings[name] != negate


def examples():
    """(name, config or None): the defaults plus every config in examples/."""
    found = [("default", None)]
    for path in sorted((ROOT / "examples").glob("*.hcl")) + sorted((ROOT / "examples").glob("*.json")):
        found.append((path.stem, path))
    return found


MODULE_ROOT = ROOT / "examples" / "module-root"


def render(name, config, out: Path, layout="root"):
    cmd = [DRGEN, "render", "--env-suffix", SUFFIX, "--out", out, "--layout", layout]
    if config:
        cmd += ["--config", config]
    run(cmd)
    explain = [DRGEN, "explain", "--env-suffix", SUFFIX, "--format", "json"]
    if config:
        explain += ["--config", config]
    return json.loads(run(explain).stdout)


def module_caller(explained, module_out: Path):
    """examples/module-root, next to the rendered module, with this rendering's regions and
    suffix: a root that calls the module as a user's root would."""
    caller = module_out.parent
    text = (MODULE_ROOT / "main.tf").read_text()
    topology = explained["topology"]
    text = text.replace('region = "us-east-1"', f'region = "{topology["primary_region"]}"')
    text = text.replace('region = "us-west-2"', f'region = "{topology["dr_region"]}"')
    text = text.replace('environment_suffix = "prod"', f'environment_suffix = "{SUFFIX}"')
    (caller / "main.tf").write_text(text)
    return caller


def same_tree(a: Path, b: Path):
    """The relative paths whose bytes differ between two directories."""
    names = {p.relative_to(a) for p in a.rglob("*") if p.is_file()} | {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    return sorted(str(n) for n in names if not ((a / n).is_file() and (b / n).is_file() and (a / n).read_bytes() == (b / n).read_bytes()))


def check_packages(out: Path):
    """Each rendered Lambda zip is intact and its handler imports from the zip alone."""
    zips = sorted((out / "lambda").glob("*.zip"))
    # The lease keeper's package comes with the ARC authority (its function exists only then).
    expected = ["failover", "guard", "monitor", "observer"]
    if (out / "lease.tf").exists():
        expected = ["failover", "guard", "lease", "monitor", "observer"]
    if [z.stem for z in zips] != expected:
        raise Failure(f"{out}: expected the {', '.join(expected)} packages, found {zips}")
    for path in zips:
        with zipfile.ZipFile(path) as z:
            if z.testzip() is not None:
                raise Failure(f"{path}: corrupt entry")
        module = {"failover": "drgen_lambda.workflow", "guard": "drgen_lambda.guard_run"}.get(
            path.stem, f"drgen_lambda.{path.stem}"
        )
        code = f"import sys; sys.path.insert(0, {str(path)!r}); import {module}; assert callable({module}.handler)"
        run([sys.executable, "-c", code], cwd=out)
    return len(zips)


def self_test(tf: Terraform, work: Path):
    """The checks must be able to fail: planted errors are each reported."""
    planted = sorted(p for p in (HERE / "planted").iterdir() if p.is_dir())
    for case in planted:
        expected = (case / "expect").read_text().strip()
        diagnostics, valid = tf.validate(case, extra=[HERE / "planted" / "provider.tf"])
        summaries = [d.get("summary", "") for d in diagnostics if d.get("severity") == "error"]
        if valid or expected not in summaries:
            raise Failure(f"planted error {case.name}: expected '{expected}', got {summaries}")
    bad = work / "misformatted"
    bad.mkdir()
    (bad / "main.tf").write_text('locals {\n  a = 1\n  bbb = 2\n}\n')
    if not tf.fmt_check(bad):
        raise Failure("terraform fmt -check accepted a misaligned file")
    insecure = work / "insecure"
    insecure.mkdir()
    shutil.copy2(HERE / "planted" / "provider.tf", insecure / "provider.tf")
    shutil.copy2(HERE / "planted" / "unknown_argument" / "main.tf", insecure / "main.tf")
    _, failed, _ = checkov(insecure, [])
    if not failed:
        raise Failure("checkov found nothing wrong with an unencrypted VPC without flow logs")
    return len(planted)


def main():
    require_tools()
    skips = load_skips()
    with tempfile.TemporaryDirectory(prefix="drgen-verify-") as tmp:
        work = Path(tmp)
        tf = Terraform(work)
        terraforms = [tf]
        found = find_modern()
        require_modern(found)
        if found is not None:
            terraforms.append(Terraform(work, Path(found[0])))
            print(f"verify: modern Terraform {'.'.join(map(str, found[1]))} at {found[0]}")
        else:
            print("verify: WARNING: no Terraform >= 1.5 found; pre- and postconditions are NOT validated", file=sys.stderr)
        names = " and ".join(".".join(map(str, t.version)) for t in terraforms)
        planted = self_test(tf, work)
        for modern in terraforms[1:]:
            (work / "modern-self-test").mkdir()
            planted += self_test(modern, work / "modern-self-test")
        print(f"self-test: {planted} planted validation errors reported, misformatting and a checkov finding caught")

        fmt_files = validated = packages = 0
        counts = {"fmt": 0, "validate": 0, "skips": 0}
        applied = {}
        totals = [0, 0, 0]
        problems = []
        for name, config in examples():
            out = work / "render" / name
            explained = render(name, config, out)
            packages += check_packages(out)
            changed = tf.fmt_check(out)
            fmt_files += sum(1 for _ in out.rglob("*.tf"))
            problems += [f"{name}: terraform fmt would change {c}" for c in changed]
            counts["fmt"] += len(changed)
            for root, terraform in [(r, t) for r in (out, out / "bootstrap") for t in terraforms]:
                diagnostics, valid = terraform.validate(root)
                validated += 1
                counts["validate"] += len(diagnostics)
                for d in diagnostics:
                    where = d.get("range", {}).get("filename", "")
                    problems.append(f"{name}/{root.name}: {d.get('severity')}: {d.get('summary')}: {d.get('detail', '')} {where}")
                if not valid and not diagnostics:
                    problems.append(f"{name}/{root.name}: invalid without diagnostics")
            settings = explained["settings"]
            active = [s["check"] for s in skips if applies(s, settings)]
            for check in active:
                applied[check] = applied.get(check, 0) + 1

            # The module layout, called by examples/module-root: fmt, validate and checkov as the
            # root layout; its bootstrap root is the root layout's, byte for byte.
            module_out = work / "module" / name / "drgen"
            render(name, config, module_out, layout="module")
            caller = module_caller(explained, module_out)
            for differing in same_tree(out / "bootstrap", module_out / "bootstrap"):
                problems.append(f"{name}: module layout's bootstrap/{differing} differs from the root layout's")
            changed = tf.fmt_check(caller)
            fmt_files += sum(1 for _ in caller.rglob("*.tf"))
            problems += [f"{name} (module): terraform fmt would change {c}" for c in changed]
            counts["fmt"] += len(changed)
            for terraform in terraforms:
                diagnostics, valid = terraform.validate(caller)
                validated += 1
                counts["validate"] += len(diagnostics)
                for d in diagnostics:
                    where = d.get("range", {}).get("filename", "")
                    problems.append(f"{name} (module): {d.get('severity')}: {d.get('summary')}: {d.get('detail', '')} {where}")
                if not valid and not diagnostics:
                    problems.append(f"{name} (module): invalid without diagnostics")
            _, module_failed, _ = checkov(caller, active)
            totals[1] += len(module_failed)
            for f in module_failed:
                problems.append(f"{name} (module): checkov {f['check_id']} {f['check_name']} at {f['resource']} ({f['file_path']})")

            passed, failed, skipped = checkov(out, active)
            totals[0] += len(passed)
            totals[1] += len(failed)
            totals[2] += len(skipped)
            for f in failed:
                problems.append(f"{name}: checkov {f['check_id']} {f['check_name']} at {f['resource']} ({f['file_path']})")
            # A skip that does not apply to this rendering covers a check that must pass here,
            # unless the setting removes what the check looks at (`absent_when_off`).
            passing = {p["check_id"] for p in passed}
            for s in skips:
                if not applies(s, settings) and not s.get("absent_when_off") and s["check"] not in passing:
                    counts["skips"] += 1
                    problems.append(f"{name}: {s['check']} is skipped when {s['when']}, but does not pass without the skip")
        print(f"packages: {packages} Lambda zips intact, each handler imports from its zip")
        print(f"fmt: {fmt_files} files in {len(examples())} renderings, {counts['fmt']} to change")
        print(f"validate: {validated} validations (Terraform {names}) against hashicorp/aws 5.100.0, {counts['validate']} diagnostics")
        skipped = ", ".join(f"{c} in {n}" for c, n in sorted(applied.items())) or "none"
        print(f"checkov: {totals[0]} passed, {totals[1]} failed; skips from checkov-skips.toml: {skipped}")
        checks = planted + 3 + packages + len(examples()) + validated + len(examples())
        if problems:
            for p in problems:
                print(f"  {p}")
            print(f"verify: {checks} passed, {len(problems)} failed")
            raise Failure(f"{len(problems)} problems")
        print(f"verify: {checks} passed, 0 failed")


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print(f"verify: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
