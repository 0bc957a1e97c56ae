"""Step Functions loads on Python 3.11 and 3.12 (lsk_localstack.compat).

Each case runs in a fresh interpreter, since what matters is the first import of LocalStack's
`localstack.packages.api`."""

import os
import subprocess
import sys
import unittest

from lsk_localstack import compat

ENV = {**os.environ, "OVERRIDE_IN_DOCKER": "0"}


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120
    )


class CompatTest(unittest.TestCase):
    @unittest.skipUnless(compat.needed(), "threading.Lock is a class on this Python: no hook")
    def test_the_pinned_localstack_still_needs_the_hook_here(self):
        out = run("import localstack.packages.api")
        self.assertNotEqual(
            out.returncode,
            0,
            "localstack.packages.api imports without the hook: LocalStack fixed it, "
            "remove lsk_localstack/compat.py",
        )
        self.assertIn("TypeError", out.stderr)

    def test_with_the_hook_the_stepfunctions_provider_imports(self):
        out = run(
            "from lsk_localstack import compat; compat.install(); "
            "from localstack.services.stepfunctions import provider; "
            "from localstack.packages.api import PackageInstaller; "
            "print(PackageInstaller.__name__)"
        )
        self.assertEqual(out.returncode, 0, out.stderr[-2000:])
        self.assertEqual(out.stdout.strip(), "PackageInstaller")


class DeferredMotoBatchTest(unittest.TestCase):
    def test_step_functions_loads_without_moto_batch_and_batch_still_works_when_asked(self):
        out = run(
            "import sys\n"
            "from lsk_localstack import compat\n"
            "compat.install()\n"
            "assert compat.defer_moto_batch('lambda,stepfunctions')\n"
            "from localstack.services.stepfunctions import provider\n"
            "print('models loaded:', 'moto.batch.models' in sys.modules)\n"
            "import moto.batch\n"
            "print('backends:', type(moto.batch.batch_backends).__name__)\n"
        )
        self.assertEqual(out.returncode, 0, out.stderr[-2000:])
        self.assertIn("models loaded: False", out.stdout, "moto's Batch models were loaded")
        self.assertIn("backends: BackendDict", out.stdout, "moto.batch must load when used")

    def test_nothing_is_deferred_where_batch_is_a_service(self):
        out = run(
            "from lsk_localstack import compat\nprint(compat.defer_moto_batch('lambda,batch'))\n"
        )
        self.assertEqual(out.stdout.strip(), "False", out.stderr[-2000:])


class SharedBotocoreLoaderTest(unittest.TestCase):
    def test_a_new_session_parses_no_json_another_session_parsed(self):
        out = run(
            "import boto3, botocore.loaders\n"
            "from lsk_localstack import compat\n"
            "before = boto3.Session().get_available_regions('sqs')\n"
            "assert compat.share_botocore_loader()\n"
            "assert not compat.share_botocore_loader()\n"
            "first = boto3.Session().get_available_regions('sqs')\n"
            "parsed = []\n"
            "load = botocore.loaders.JSONFileLoader.load_file\n"
            "def counting(self, path):\n"
            "    parsed.append(path)\n"
            "    return load(self, path)\n"
            "botocore.loaders.JSONFileLoader.load_file = counting\n"
            "second = boto3.Session().get_available_regions('sqs')\n"
            "a, b = boto3.Session()._session, boto3.Session()._session\n"
            "same = a.get_component('data_loader') is b.get_component('data_loader')\n"
            "print('same loader:', same)\n"
            "print('same regions:', before == first == second)\n"
            "print('parsed again:', parsed)\n"
        )
        self.assertEqual(out.returncode, 0, out.stderr[-2000:])
        self.assertIn("same loader: True", out.stdout)
        self.assertIn("same regions: True", out.stdout)
        self.assertIn("parsed again: []", out.stdout, "a new Session parsed botocore's JSON again")


if __name__ == "__main__":
    unittest.main()
