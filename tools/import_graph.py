"""The import graph of the package and the benchmarks, read from the source
(nothing is imported): every module's lines, the imports between the
package's folders, and every import circle between modules.

    python tools/import_graph.py            # this checkout
    python tools/import_graph.py --root ../other-checkout

An import inside a function counts as an import (a circle through a lazy
import is still a circle of the design). `from package import module`
counts as an import of the module alone.
"""

import argparse
import ast
import collections
import pathlib

PACKAGES = ("keras_gates", "benchmarks")


def modules(root):
    """`{dotted name: path}` of every module of `PACKAGES` under `root`."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imports(name, path, known):
    """The modules of `known` that module `name` imports."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import module` imports the module (and runs the
            # package's `__init__`, which is not counted: a package that
            # gathers its API is not a circle of the design); `from module
            # import name` imports the module.
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            targets = [t for t in submodules if t in known]
            if len(targets) < len(submodules):
                targets.append(base)
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def circles(graph):
    """The strongly connected components of more than one module."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def folder(name):
    """The folder a module lives in: `keras_gates.export` for
    `keras_gates.export.fused_lstm`, the module itself at the top level."""
    parts = name.split(".")
    return ".".join(parts[:2])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=".", help="a checkout")
    parser.add_argument("--lines", type=int, default=600, help="flag modules over")
    args = parser.parse_args(argv)
    root = pathlib.Path(args.root)
    known = modules(root)
    graph = {name: imports(name, path, known) for name, path in known.items()}
    sizes = {name: len(path.read_text().splitlines()) for name, path in known.items()}
    edges = collections.Counter(
        (folder(a), folder(b))
        for a, targets in graph.items()
        for b in targets
        if folder(a) != folder(b)
    )
    print(f"{len(known)} modules, {sum(len(t) for t in graph.values())} imports")
    print("\nimports between folders (count):")
    for (a, b), count in sorted(edges.items()):
        print(f"  {a} -> {b}  ({count})")
    big = sorted((n for n in known if sizes[n] > args.lines), key=lambda n: -sizes[n])
    print(
        f"\nmodules over {args.lines} lines: "
        + (", ".join(f"{n} ({sizes[n]})" for n in big) or "none")
    )
    found = circles(graph)
    print(f"\nimport circles: {len(found) or 'none'}")
    for component in found:
        print("  " + " <-> ".join(component))


if __name__ == "__main__":
    main()
