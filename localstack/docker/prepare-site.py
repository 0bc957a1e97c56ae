"""Makes our image's files with the base image's own Python, before lsk imports them.

lsk runs this in a throwaway container of the base (`--network=none`), with the image's root
directory (`ROOT`, the first argument: the base's files are not in it) mounted at `/ctx/root`
and its `opt/lsk` also at `/opt/lsk`, where they end up. `opt/lsk/venv/lib/python<v>/
site-packages` already holds the lock's packages and our plugin, installed on the host by uv,
and `opt/lsk/bin/lsk-init` is there. This adds:

- the venv around those packages (`/opt/lsk/venv`, made in place, so its paths are the image's);
- the bytecode of every module, unchecked-hash (the image's files never change, and what
  carries them into the image need not keep source timestamps for the bytecode to stay valid);
- LocalStack's service catalog index in its static libs directory;
- the directories AWS gives a function (`/var/task`, `/var/runtime`).

The bytecode and the index are start-up work every new container would otherwise redo
(measured: Ready 15 s -> 4 s). Files it makes are given to the owner of ROOT, so lsk can remove
them whoever the engine runs containers as.

Exit status: 0 done; 1 the catalog could not be built; 2 ROOT is not there or holds no
site-packages (the engine runs elsewhere and cannot mount this machine's directories).
"""

import compileall
import os
import py_compile
import sys
import venv

VENV = "/opt/lsk/venv"


def give_back(top, uid, gid):
    """Hands every file under `top` to uid:gid (a no-op for the engine's own user)."""
    if os.geteuid() != 0 or (uid, gid) == (0, 0):
        return
    for parent, dirs, files in os.walk(top):
        for name in dirs + files:
            os.lchown(os.path.join(parent, name), uid, gid)
    os.lchown(top, uid, gid)


def prepare(root, site):
    venv.EnvBuilder(symlinks=True, with_pip=False).create(VENV)
    # A module that does not compile (test data, Python 2 leftovers) loads from source, as in
    # LocalStack's own image.
    compileall.compile_dir(
        site,
        quiet=2,
        workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    for d in ("var/task", "var/runtime"):
        os.makedirs(os.path.join(root, d), exist_ok=True)

    # LocalStack reads the index from its static libs dir when present, as it decides it in
    # the image.
    os.environ["OVERRIDE_IN_DOCKER"] = "1"
    sys.path.insert(0, site)
    from localstack import config
    from localstack.aws import spec

    static_libs = os.path.join(root, config.dirs.static_libs.lstrip("/"))
    os.makedirs(static_libs, exist_ok=True)
    catalog = os.path.join(static_libs, spec._get_catalog_filename())
    try:
        spec.build_service_index_cache(catalog)
    except Exception as e:  # any failure means "no index": lsk reports it
        print(
            f"building LocalStack's service catalog index failed: {e}", file=sys.stderr
        )
        return 1
    return 0


def main():
    root = sys.argv[1]
    version = "%d.%d" % sys.version_info[:2]
    site = f"{VENV}/lib/python{version}/site-packages"
    if not os.path.isdir(root) or not os.path.isdir(site):
        print(
            f"{root} or {site} is not here: the directories were not mounted",
            file=sys.stderr,
        )
        return 2
    owner = os.stat(root)
    try:
        return prepare(root, site)
    finally:
        give_back(root, owner.st_uid, owner.st_gid)


if __name__ == "__main__":
    sys.exit(main())
