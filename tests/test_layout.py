"""The test tree itself: pytest imports test modules by their base name (rootdir-relative,
prepend mode) unless their folder is a package, so two `test_x.py` in plain folders break the
whole run with 'import file mismatch'."""

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).parent


def test_test_module_names_are_unique_outside_packages():
    by_name = defaultdict(list)
    for path in TESTS.rglob("test_*.py"):
        if not (path.parent / "__init__.py").exists():
            by_name[path.name].append(str(path.relative_to(TESTS)))
    clashes = {name: paths for name, paths in by_name.items() if len(paths) > 1}
    assert not clashes, f"rename one of each: {clashes}"


def test_no_module_imports_from_conftest_by_name():
    offenders = [str(p.relative_to(TESTS)) for p in TESTS.rglob("*.py")
                 if p.name != "test_layout.py" and any(line.lstrip().startswith(("from conftest import", "import conftest"))
                                                       for line in p.read_text(encoding="utf-8").splitlines())]
    assert not offenders, f"import shared helpers from a named module instead: {offenders}"
