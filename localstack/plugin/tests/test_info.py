"""`GET /_lsk/info` reports what lsk-init's probe finds (lsk_localstack.info)."""

import os
import stat
import tempfile
import unittest
from unittest import mock

from rolo.gateway import RequestContext
from rolo.request import Request
from rolo.response import Response

from lsk_localstack import info


def fake_init(answer: str) -> str:
    """An executable that answers --fs-probe like lsk-init."""
    fd, path = tempfile.mkstemp(prefix="fake-lsk-init-")
    with os.fdopen(fd, "w") as f:
        f.write(f'#!/bin/sh\n[ "$1" = --fs-probe ] && echo "{answer}" || exit 9\n')
    os.chmod(path, stat.S_IRWXU)
    return path


class Chain:
    stopped = False

    def stop(self):
        self.stopped = True


class InfoTest(unittest.TestCase):
    def setUp(self):
        info.function_fs.cache_clear()

    def tearDown(self):
        info.function_fs.cache_clear()

    def probe_with(self, answer: str) -> dict:
        path = fake_init(answer)
        self.addCleanup(os.unlink, path)
        with mock.patch.dict(os.environ, {"LSK_INIT_BIN": path}):
            return info.info()

    def test_namespaced(self):
        self.assertEqual(
            self.probe_with("namespaced"), {"executor": "process", "function_fs": "namespaced"}
        )

    def test_host_paths_carry_the_reason(self):
        doc = self.probe_with("host-paths: unshare(CLONE_NEWUSER | CLONE_NEWNS): EPERM")
        self.assertEqual(doc["function_fs"], "host-paths")
        self.assertEqual(doc["function_fs_reason"], "unshare(CLONE_NEWUSER | CLONE_NEWNS): EPERM")

    def test_no_init_binary_is_host_paths_with_why(self):
        with mock.patch.dict(os.environ, {"LSK_INIT_BIN": ""}):
            doc = info.info()
        self.assertEqual(doc["function_fs"], "host-paths")
        self.assertIn("LSK_INIT_BIN", doc["function_fs_reason"])

    def test_the_handler_answers_only_its_path(self):
        path = fake_init("namespaced")
        self.addCleanup(os.unlink, path)
        with mock.patch.dict(os.environ, {"LSK_INIT_BIN": path}):
            chain, response = Chain(), Response()
            info.serve_info(chain, RequestContext(Request("GET", "/_lsk/info")), response)
            self.assertTrue(chain.stopped)
            self.assertEqual(response.json["function_fs"], "namespaced")

            chain, response = Chain(), Response()
            info.serve_info(chain, RequestContext(Request("GET", "/_localstack/health")), response)
            self.assertFalse(chain.stopped)


if __name__ == "__main__":
    unittest.main()
