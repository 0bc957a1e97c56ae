"""LocalStack under lsk: Step Functions loads on Python 3.11 and 3.12, and LocalStack costs no more
memory or CPU than it needs.

**Python 3.11 and 3.12.**
The pinned LocalStack's `localstack/packages/api.py` annotates a parameter `Lock | None` and is
not compiled with `from __future__ import annotations`, so the annotation is evaluated when the
class is defined. `threading.Lock` is a class only from Python 3.13; before, it is a function and
`Lock | None` raises TypeError, so LocalStack logs "could not load service plugin
stepfunctions" and the service is unusable.

The fix: an import hook compiles exactly that module with postponed annotations, as if its first
line were `from __future__ import annotations`. Nothing else in the module reads annotations at
run time. It is installed only where `threading.Lock` is not a class, and only until LocalStack
ships the fix; localstack/plugin/tests checks that the hook is still needed and still works.

**Memory.** Step Functions' task factory imports its AWS Batch integration, which imports
`moto.batch.utils` for one enum; importing that runs `moto/batch/__init__.py`, which loads moto's
Batch and EC2 models: measured here, 107 MB of LocalStack's resident memory and 1.2 s of its
start, for a service lsk never starts. Where Batch is not among the services, `moto.batch` is
registered as a package whose `__init__` runs only when something asks it for a name it does not
have (PEP 562), so `moto.batch.utils` loads alone.

**CPU: one botocore data loader.** botocore gives every Session a Loader of its own, and a Loader
caches the JSON it parses (`endpoints.json`, each service's model) only for its Session. LocalStack
makes new Sessions on its request paths: `boto3.Session()` for each service's region list the first
time its store is used, `boto3.client(...)` in moto's URL lookups and Lambda's code locations. Each
parses `endpoints.json` and the service model again: measured here, 330 ms for a region list with a
fresh Session against 40 ms with a shared Loader, about 3 s of the CPU of deploying the example
stack, in an interpreter whose GIL serializes every request. The parsed data is read-only once
loaded (botocore's own Session shares it between all its clients), so every Session gets the same
Loader for the same search path.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
import types

TARGET = "localstack.packages.api"
FUTURE = "from __future__ import annotations\n"


class _PostponedAnnotationsLoader(importlib.machinery.SourceFileLoader):
    """Compiles the module from its source with postponed annotations (never from a .pyc
    compiled without them)."""

    def get_code(self, fullname: str):  # type: ignore[override]
        source = self.get_data(self.path).decode("utf-8")
        return compile(FUTURE + source, self.path, "exec", dont_inherit=True)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):  # noqa: ANN001 - importlib's signature
        if fullname != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return None
        with open(spec.origin, encoding="utf-8") as f:
            if FUTURE.strip() in f.read():
                return None
        loader = _PostponedAnnotationsLoader(fullname, spec.origin)
        return importlib.util.spec_from_file_location(fullname, spec.origin, loader=loader)


def needed() -> bool:
    """Whether this Python evaluates `Lock | None` into an error."""
    return not isinstance(threading.Lock, type)


def install() -> None:
    """Puts the hook first on the import path (once), where it is needed."""
    if not needed() or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())


LAZY_PACKAGE = "moto.batch"


def defer_moto_batch(services: str | None = None) -> bool:
    """Registers `moto.batch` as a package that runs its `__init__` on first use of a name it
    lacks, unless Batch is among LocalStack's `SERVICES`. Returns whether it did."""
    services = os.environ.get("SERVICES", "") if services is None else services
    if "batch" in [s.strip() for s in services.split(",")] or LAZY_PACKAGE in sys.modules:
        return False
    spec = importlib.util.find_spec(LAZY_PACKAGE)
    if spec is None or not spec.origin or spec.submodule_search_locations is None:
        return False
    module = types.ModuleType(LAZY_PACKAGE)
    module.__file__ = spec.origin
    module.__path__ = list(spec.submodule_search_locations)
    module.__package__ = LAZY_PACKAGE
    module.__spec__ = spec
    origin = spec.origin

    def load_on_first_use(name: str):
        # Runs the real __init__ in this module's namespace, once; then the name is there.
        if not module.__dict__.get("_lsk_loaded"):
            module.__dict__["_lsk_loaded"] = True
            with open(origin, encoding="utf-8") as f:
                code = compile(f.read(), origin, "exec")
            del module.__dict__["__getattr__"]
            exec(code, module.__dict__)
            if name in module.__dict__:
                return module.__dict__[name]
        raise AttributeError(f"module {LAZY_PACKAGE!r} has no attribute {name!r}")

    module.__getattr__ = load_on_first_use
    sys.modules[LAZY_PACKAGE] = module
    # find_spec imported the parent; the import system sets a submodule on its parent only when
    # it loads it itself.
    parent, _, child = LAZY_PACKAGE.rpartition(".")
    setattr(sys.modules[parent], child, module)
    return True


def share_botocore_loader() -> bool:
    """Makes every botocore Session use one Loader per data path. Returns whether it patched
    (False when already done)."""
    import botocore.loaders
    import botocore.session

    if getattr(botocore.session.create_loader, "_lsk_shared", False):
        return False
    create = botocore.loaders.create_loader
    loaders: dict[str | None, botocore.loaders.Loader] = {}
    lock = threading.Lock()

    def create_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
        with lock:
            loader = loaders.get(search_path_string)
            if loader is None:
                loader = loaders[search_path_string] = create(search_path_string)
            return loader

    create_loader._lsk_shared = True  # type: ignore[attr-defined]
    # botocore.session imported the function by name; that is the one Sessions call.
    botocore.session.create_loader = create_loader
    return True
