"""The package's import graph, read from the source: modules, imports, function-level imports, cycles.

    python tests/import_graph.py [-v]

prints the number of modules and imports, every import made inside a function (with its
comment), and any import cycle, counting function-level imports too. tests/test_layout.py
holds the package to the rules this shows.
"""
import ast
import pathlib
import sys

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "k2p_keras"


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _target(module, is_package, node):
    """The package module a relative ``from ... import`` names (the package itself for ``from . import x``)."""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def read_package(package=PACKAGE):
    """``(modules, edges, local)``: module -> path; module -> imported package modules; function-level
    imports as ``(module, line, imported, source line)``."""
    modules = {module_name(p): p for p in sorted(package.rglob("*.py"))}
    edges, local = {}, []
    for name, path in modules.items():
        source = path.read_text()
        lines = source.splitlines()
        tree = ast.parse(source)
        top = set(tree.body)
        # Names imported under `if TYPE_CHECKING:` serve type hints only and never run: they count
        # as the module's own imports (edges of the graph), not as function-level ones.
        for node in tree.body:
            if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                top.update(node.body)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            imported = []
            if isinstance(node, ast.ImportFrom) and node.level:
                target = _target(name, path.name == "__init__.py", node)
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    imported.append(sub if sub in modules else target)
                for module in imported:
                    edges.setdefault(name, set()).add(module)
            else:
                imported = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            if node not in top:
                local.append((name, node.lineno, imported, lines[node.lineno - 1].strip()))
    return modules, edges, local


def cycles(edges):
    """Every cycle a depth-first walk meets, as lists of modules."""
    found, state, stack = [], {}, []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for other in sorted(edges.get(module, ())):
            if state.get(other) == "open" and other != module:
                found.append(stack[stack.index(other):] + [other])
            elif other not in state:
                visit(other)
        stack.pop()
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module)
    return found


def main(argv):
    modules, edges, local = read_package()
    print(f"{len(modules)} modules, {sum(map(len, edges.values()))} imports between them, "
          f"{len(local)} function-level imports")
    if "-v" in argv:
        for module, line, imported, text in local:
            print(f"  {module}:{line}: {text}")
    found = cycles(edges)
    for cycle in found:
        print("cycle: " + " -> ".join(cycle))
    print("no import cycle" if not found else f"{len(found)} import cycles")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
