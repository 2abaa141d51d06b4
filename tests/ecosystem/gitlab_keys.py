"""Checks a GitLab CI file for what GitLab requires: it parses as YAML; every job (a top-level key
that is not a global keyword and does not start with a dot) has a `script` of strings and a
`stage` listed under `stages`; every `rules` entry has an `if`, `changes` or `when`."""

import sys

import yaml

GLOBAL_KEYWORDS = {"default", "include", "stages", "variables", "workflow", "image", "services", "cache", "before_script", "after_script"}


def problems(document):
    found = []
    if not isinstance(document, dict):
        return ["the file is not a mapping of keywords and jobs"]
    stages = document.get("stages", ["build", "test", "deploy"])
    jobs = {k: v for k, v in document.items() if k not in GLOBAL_KEYWORDS and not k.startswith(".")}
    if not jobs:
        found.append("no job")
    for name, job in jobs.items():
        if not isinstance(job, dict):
            found.append(f"{name}: a job must be a mapping")
            continue
        script = job.get("script")
        if not (isinstance(script, list) and script and all(isinstance(s, str) for s in script)):
            found.append(f"{name}: script must be a non-empty list of strings")
        if job.get("stage", "test") not in stages:
            found.append(f"{name}: stage {job.get('stage')!r} is not in stages {stages}")
        for rule in job.get("rules", []):
            if not (isinstance(rule, dict) and {"if", "changes", "when", "exists"} & set(rule)):
                found.append(f"{name}: a rule needs if, changes, exists or when")
    return found


def main(path):
    with open(path) as f:
        document = yaml.safe_load(f)
    found = problems(document)
    for p in found:
        print(f"{path}: {p}")
    if found:
        sys.exit(1)
    # The checker itself must catch a job without a script and a stage nobody declared.
    planted = problems({"stages": ["check"], "job": {"stage": "deploy"}})
    if len(planted) != 2:
        print(f"the GitLab check missed planted errors: {planted}")
        sys.exit(1)
    print(f"{path}: {len([k for k in document if k not in GLOBAL_KEYWORDS])} job(s), keys as GitLab requires")


if __name__ == "__main__":
    main(sys.argv[1])
