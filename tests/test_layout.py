"""The layout's rules, read from the source: no import cycle, one owner per name, light imports.

``python tests/import_graph.py -v`` shows what these tests read.
"""
import ast
import pathlib
import subprocess
import sys

from import_graph import PACKAGE, cycles, read_package

# Imports that may wait for a function: what would make ``import k2p_keras`` (or the CLI's
# start) heavy. The package's own modules among them load TensorFlow or numba themselves.
HEAVY = {"tensorflow", "keras", "absl", "numba", "matplotlib", "memelite", "pyjaspar", "scipy.optimize",
         "scipy.cluster", "scipy.spatial",
         "k2p_keras.initializer", "k2p_keras.callback", "k2p_keras.scan.best_windows", "k2p_keras.scan.rescore",
         "k2p_keras.scan.lookup"}


def test_the_package_has_no_import_cycle_counting_imports_inside_functions():
    _, edges, _ = read_package()
    assert cycles(edges) == []


def test_imports_inside_functions_only_keep_heavy_modules_out_and_say_so():
    _, _, local = read_package()
    assert local, "the reader found no function-level import at all: it is broken"
    for module, line, imported, text in local:
        heavy = [name for name in imported if any(name == h or name.startswith(h + ".") for h in HEAVY)]
        assert heavy == imported, f"{module}:{line} imports {imported} inside a function: import it at the top"
        assert "#" in text, f"{module}:{line}: say why {imported} waits for the function"


#: The most parameters a function may take (``self`` not counted): what a stage needs beyond that
#: travels in one request object (ScanRequest, ExactRequest, VerifyRequest). The command line's
#: click commands take one parameter per flag; numba's compiled kernels take arrays and scalars only.
MAX_PARAMETERS = 10


def _parameter_count(function):
    args = function.args
    names = [a.arg for a in args.posonlyargs + args.args]
    count = len(names) + len(args.kwonlyargs) + (args.vararg is not None) + (args.kwarg is not None)
    return count - (names[:1] in (["self"], ["cls"]))


def _numba_kernels(tree):
    """Names compiled by numba in a module: ``numba.njit(...)(f)``, or ``w(f)`` with ``w = numba.njit(...)``."""
    wrappers = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call) and "njit" in ast.unparse(node.value.func)
                for target in node.targets if isinstance(target, ast.Name)}
    return {node.args[0].id for node in ast.walk(tree) if isinstance(node, ast.Call) and len(node.args) == 1
            and isinstance(node.args[0], ast.Name)
            and ((isinstance(node.func, ast.Call) and "njit" in ast.unparse(node.func.func))
                 or (isinstance(node.func, ast.Name) and node.func.id in wrappers))}


def _long_parameter_lists(source):
    tree = ast.parse(source)
    kernels = _numba_kernels(tree)
    return [(node.name, _parameter_count(node)) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and _parameter_count(node) > MAX_PARAMETERS and node.name not in kernels]


def test_no_function_outside_the_command_line_and_numba_kernels_takes_more_than_ten_parameters():
    sample = ("import numba\n_inner = numba.njit(cache=True)\n"
              "def kernel(a, b, c, d, e, f, g, h, i, j, k):\n    pass\n"
              "def loop(a, b, c, d, e, f, g, h, i, j, k):\n    pass\n"
              "def plain(self, a, b, c, d, e, f, g, h, i, *, j, **k):\n    pass\n"
              "def fine(self, a, b, c, d, e, f, g, h, i, j):\n    pass\n"
              "kernel = numba.njit(parallel=True)(kernel)\nloop = _inner(loop)\n")
    assert _long_parameter_lists(sample) == [("plain", 11)]  # the reader sees what it must
    compiled, long = set(), []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] == "cli":
            continue
        compiled |= _numba_kernels(ast.parse(path.read_text()))
        long += [f"{path.relative_to(PACKAGE.parent)}: {name} ({n})" for name, n in _long_parameter_lists(path.read_text())]
    assert {"_accumulate", "_one_hot_to_best_windows"} <= compiled, "the numba kernels were not found"
    assert long == [], f"more than {MAX_PARAMETERS} parameters (pass a request object instead): {long}"


def test_no_stage_imports_the_options():
    """``Options`` is read by extract, the callback and the command line, which pass values down."""
    _, edges, _ = read_package()
    stages = ("model", "scan", "motifs", "io", "annotate")
    reaching_up = sorted(module for module, imported in edges.items()
                         if module.split(".")[1:2] and module.split(".")[1] in stages and "k2p_keras.options" in imported)
    assert reaching_up == []


def test_a_module_exports_only_what_it_defines():
    for path in PACKAGE.rglob("*.py"):
        if path.name == "__init__.py":
            continue  # the package's own __init__ is the public API
        tree = ast.parse(path.read_text())
        defined, exported = set(), []
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined.add(node.name)
            for target in getattr(node, "targets", []):
                if isinstance(target, ast.Name) and target.id == "__all__":
                    exported = [elt.value for elt in node.value.elts]
                defined.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            if isinstance(node, (ast.If, ast.Try)):
                defined.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
        reexported = sorted(set(exported) - defined)
        assert not reexported, f"{path.relative_to(PACKAGE.parent)} re-exports {reexported}: import them from their owner"


def _packages(folder):
    return {p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").exists()}


def test_at_most_thirteen_modules_at_the_top_the_rest_in_stage_folders():
    top = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert len(top) <= 13, sorted(top)
    assert _packages(PACKAGE) == {"model", "scan", "motifs", "io", "annotate", "cli"}


def test_annotate_is_split_by_what_each_part_does():
    """What runs the model, what matches a database, what groups, what describes, what draws: each a
    folder of its own, so that a module is found from the tree; no module loose beside them."""
    annotate = PACKAGE / "annotate"
    assert _packages(annotate) == {"run", "match", "group", "describe", "draw"}
    assert sorted(p.name for p in annotate.glob("*.py")) == ["__init__.py"]
    assert not [p for p in annotate.rglob("*") if p.is_dir() and p.name != "__pycache__"
                and not (p / "__init__.py").exists()]


#: The longest a module may be: longer, it holds more than one job and is split by job.
MAX_MODULE_LINES = 600


def test_every_module_is_at_most_600_lines():
    for path in PACKAGE.rglob("*.py"):
        name = str(path.relative_to(PACKAGE))
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_MODULE_LINES, f"k2p_keras/{name}: {lines} lines"


def test_each_package_docstring_points_to_the_one_module_map():
    """docs/ARCHITECTURE.md is the module map; the package docstrings point to it, not repeat it."""
    for init in PACKAGE.rglob("__init__.py"):
        if init.parent == PACKAGE:
            continue  # the package's own docstring is the public API's
        assert "ARCHITECTURE.md" in (ast.get_docstring(ast.parse(init.read_text())) or ""), init


def test_importing_the_package_and_the_command_line_loads_neither_tensorflow_nor_numba():
    """Nor what takes a second to load and only some runs use (clusters: scipy.cluster; some activations'
    inverses: scipy.optimize)."""
    code = ("import sys, k2p_keras, k2p_keras.cli, k2p_keras.extract\n"
            "print(sorted(m for m in ('tensorflow', 'keras', 'numba', 'matplotlib', 'memelite', 'scipy.cluster',\n"
            "                         'scipy.spatial', 'scipy.optimize') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_import_graph_script_runs():
    done = subprocess.run([sys.executable, str(pathlib.Path(__file__).with_name("import_graph.py"))],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "no import cycle" in done.stdout, done.stdout + done.stderr


def test_no_file_cites_a_document_a_user_does_not_have():
    """The project's working notes (MISSION.md, STYLE.md) live outside the repository."""
    repo = pathlib.Path(__file__).resolve().parents[1]
    files = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True).stdout.split()
    citing = [name for name in files if name.endswith((".py", ".md", ".toml", ".cfg", ".txt"))
              and (repo / name).is_file()
              and any(cited in (repo / name).read_text(errors="replace") for cited in ("MISSION.md", "STYLE.md"))
              and name != "tests/test_layout.py"]
    assert citing == []
