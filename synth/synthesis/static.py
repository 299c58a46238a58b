"""Static rules for model-written code, checked on the host from the AST before anything runs.

Tools and verifiers are functions over the database; a solution may call the tools and do
plain logic, nothing else. So: imports only from a small allowlist, no file access, no dynamic
code, no introspection, no dunder attributes; a solution also may not name `db`, mention
`db.json` or touch private attributes. The sandbox enforces the same at run time (restricted
builtins, guarded imports, the database only behind the tool proxy); these rules give each
violation a stable, counted reason and a line number the agent can act on.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

ALLOWED_IMPORTS = frozenset({
    "__future__", "json", "math", "re", "datetime", "collections", "itertools", "functools",
    "statistics", "string", "heapq", "bisect", "copy", "decimal", "fractions", "operator",
    "random", "typing", "dataclasses", "enum",
})
FILE_MODULES = frozenset({"os", "io", "pathlib", "shutil", "tempfile", "glob", "fileinput",
                          "sqlite3", "codecs", "posix", "nt", "mmap", "zipfile", "tarfile"})
FILE_BUILTINS = frozenset({"open"})
DYNAMIC_BUILTINS = frozenset({"eval", "exec", "compile", "__import__"})
INTROSPECTION = frozenset({"globals", "locals", "vars", "getattr", "setattr", "delattr", "dir",
                           "memoryview", "breakpoint", "input", "help", "exit", "quit"})
ESCAPE_ATTRIBUTES = frozenset({
    "sys", "os", "modules", "codecs", "gc", "builtins", "subprocess", "io", "ctypes",
    "f_globals", "f_locals", "f_back", "f_builtins", "f_code", "gi_frame", "cr_frame",
    "ag_frame", "tb_frame", "tb_next", "mro",
})
ROLES = {"tools.py": "tools", "solution.py": "solution", "verify.py": "verifier"}


@dataclass(frozen=True)
class Violation:
    """One broken rule: `reason` is the counted name, e.g. 'solution_reads_db'."""

    reason: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def role_of(filename: str) -> str:
    """'tools', 'solution' or 'verifier' from a file name (a level's path is allowed)."""
    base = filename.rsplit("/", 1)[-1]
    if base not in ROLES:
        raise ValueError(f"no static rules for {filename!r}")
    return ROLES[base]


class _Rules(ast.NodeVisitor):
    def __init__(self, role: str) -> None:
        self.role = role
        self.found: list[Violation] = []

    def flag(self, node: ast.AST, kind: str, message: str) -> None:
        self.found.append(Violation(f"{self.role}_{kind}", getattr(node, "lineno", 0), message))

    def _module(self, node: ast.AST, name: str) -> None:
        root = name.split(".")[0]
        if root in FILE_MODULES:
            self.flag(node, "file_access", f"import of {name!r}: model code may not touch files "
                      "(tools work on the db argument; everything stays in the folder)")
        elif root not in ALLOWED_IMPORTS:
            self.flag(node, "forbidden_import", f"import of {name!r} is not allowed; allowed: "
                      f"{', '.join(sorted(ALLOWED_IMPORTS - {'__future__'}))}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._module(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.flag(node, "forbidden_import", "relative imports are not allowed")
        else:
            self._module(node, node.module or "")

    def visit_Name(self, node: ast.Name) -> None:
        name = node.id
        if name in FILE_BUILTINS:
            kind = "reads_db" if self.role == "solution" else "file_access"
            self.flag(node, kind, "open() is not allowed: "
                      + ("a solution may only call the tools" if self.role == "solution"
                         else "model code may not read or write files"))
        elif name in DYNAMIC_BUILTINS:
            self.flag(node, "dynamic_code", f"{name}() is not allowed")
        elif name in INTROSPECTION:
            self.flag(node, "introspection", f"{name}() is not allowed")
        elif self.role == "solution" and name == "db":
            self.flag(node, "reads_db", "a solution may not use the name 'db': it gets only the "
                      "tools object and must read the database through tool calls")
        elif name.startswith("__") and name.endswith("__") and name not in ("__name__",):
            self.flag(node, "dunder_access", f"the name {name} is not allowed")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if attr.startswith("__"):
            self.flag(node, "dunder_access", f"attribute .{attr} is not allowed")
        elif attr.startswith("_") and self.role == "solution":
            self.flag(node, "dunder_access", f"private attribute .{attr} is not allowed")
        elif attr in ESCAPE_ATTRIBUTES:
            self.flag(node, "introspection", f"attribute .{attr} is not allowed")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if self.role == "solution" and isinstance(node.value, str) and "db.json" in node.value:
            self.flag(node, "reads_db", "a solution may not refer to db.json")

    def visit_arg(self, node: ast.arg) -> None:
        if self.role == "solution" and node.arg == "db":
            self.flag(node, "reads_db", "a solution may not take a 'db' parameter")
        self.generic_visit(node)


_ENTRY = {"solution": ("solve", 1), "verifier": ("verify", 2)}


def check_source(source: str, filename: str) -> list[Violation]:
    """Every rule `source` breaks (empty: clean). A syntax error is a single violation."""
    role = role_of(filename)
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        text = (exc.text or "").strip()
        return [Violation("syntax_error", exc.lineno or 0,
                          f"{filename}: {exc.msg}" + (f": {text}" if text else ""))]
    rules = _Rules(role)
    rules.visit(tree)
    if role in _ENTRY:
        name, arity = _ENTRY[role]
        fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name),
                  None)
        if fn is None or len(fn.args.args) != arity:
            wanted = "solve(tools)" if role == "solution" else "verify(db, answer)"
            rules.found.append(Violation(f"{role}_missing_{name}", 0,
                                         f"{filename} must define {wanted} at module level"))
    return rules.found
