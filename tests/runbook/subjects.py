"""Prints, as JSON, every page subject the drgen Lambda package can send: the strings that start
with "drgen" followed by a space or a colon, wherever they appear in lambda/drgen_lambda/*.py
outside docstrings (arguments of _page, notify, put_event, Action, subject= keywords, constants).

An f-string subject is expanded over the values its placeholders can take. The only placeholder
this knows is a gate's key (`f"drgen: failover held ({g.key})"`): the keys are the first
arguments of every `Gate(...)` call, less those constructed with a false page flag and those that
the enclosing function sends elsewhere with `if <x>.key == "<key>": return ...` before the
f-string. Any other placeholder is an error, so a new kind of subject cannot go unnoticed.

Usage: python3 tests/runbook/subjects.py [PACKAGE_DIR]   (default lambda/drgen_lambda)
"""

import ast
import json
import pathlib
import re
import sys

SUBJECT = re.compile(r"^drgen(:| [a-z])")


def docstrings(tree):
    """The string nodes that are docstrings of the module, classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def literal(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def call_name(call):
    f = call.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return None


def gate_keys(trees):
    """Every gate key that pages: Gate("<key>", message[, page]) with page not literally False."""
    keys = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and call_name(node) == "Gate" and node.args:
                key = literal(node.args[0])
                if key is None:
                    raise SystemExit(f"a Gate without a literal key at line {node.lineno}")
                page = node.args[2] if len(node.args) > 2 else None
                for kw in node.keywords:
                    if kw.arg == "page":
                        page = kw.value
                if isinstance(page, ast.Constant) and page.value is False:
                    continue
                keys.add(key)
    return keys


def diverted_keys(function, before_line):
    """Keys that `if <x>.key == "<key>": ... return` sends away before `before_line`."""
    keys = set()
    for node in ast.walk(function):
        if not isinstance(node, ast.If) or node.lineno >= before_line:
            continue
        test = node.test
        if (
            isinstance(test, ast.Compare)
            and isinstance(test.left, ast.Attribute)
            and test.left.attr == "key"
            and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)
            and literal(test.comparators[0]) is not None
            and any(isinstance(s, ast.Return) for s in node.body)
        ):
            keys.add(test.comparators[0].value)
    return keys


def enclosing_functions(tree):
    """Maps id(node) to the innermost function that contains it."""
    owner = {}

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            owner[id(child)] = inner
            visit(child, inner)

    visit(tree, None)
    return owner


def expand(node, keys, owner, where):
    """The subjects an f-string can produce."""
    texts = [""]
    for part in node.values:
        if isinstance(part, ast.Constant):
            texts = [t + part.value for t in texts]
            continue
        value = part.value
        if isinstance(value, ast.Attribute) and value.attr == "key":
            function = owner.get(id(node))
            choices = sorted(keys - (diverted_keys(function, node.lineno) if function else set()))
            texts = [t + k for t in texts for k in choices]
        else:
            raise SystemExit(
                f"{where}:{node.lineno}: cannot expand the placeholder {ast.unparse(value)!r} of a page "
                "subject; use a literal subject or teach tests/runbook/subjects.py its values"
            )
    return texts


def subjects(package):
    files = sorted(pathlib.Path(package).glob("*.py"))
    trees = {f: ast.parse(f.read_text(), filename=str(f)) for f in files}
    keys = gate_keys(trees.values())
    found = []
    for path, tree in trees.items():
        skip = docstrings(tree)
        owner = enclosing_functions(tree)
        inside_fstring = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
        for node in ast.walk(tree):
            if id(node) in skip or id(node) in inside_fstring:
                continue
            if isinstance(node, ast.JoinedStr):
                head = node.values[0] if node.values else None
                if literal(head) is not None and SUBJECT.match(head.value):
                    for text in expand(node, keys, owner, path.name):
                        found.append({"subject": text, "file": path.name, "line": node.lineno})
            elif literal(node) is not None and SUBJECT.match(node.value):
                found.append({"subject": node.value, "file": path.name, "line": node.lineno})
    return sorted(found, key=lambda s: (s["subject"], s["file"], s["line"]))


if __name__ == "__main__":
    root = pathlib.Path(__file__).resolve().parents[2]
    package = sys.argv[1] if len(sys.argv) > 1 else root / "lambda" / "drgen_lambda"
    json.dump(subjects(package), sys.stdout, indent=1)
    sys.stdout.write("\n")
