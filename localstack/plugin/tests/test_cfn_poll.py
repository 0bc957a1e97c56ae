"""CloudFormation's per-resource poll interval (lsk_localstack.cfn_poll)."""

import inspect
import os
import unittest

from localstack.services.cloudformation.resource_provider import ResourceProviderExecutor

from lsk_localstack import cfn_poll


class CfnPollTest(unittest.TestCase):
    def setUp(self):
        self.saved = ResourceProviderExecutor.deploy_loop.__defaults__

    def tearDown(self):
        ResourceProviderExecutor.deploy_loop.__defaults__ = self.saved
        os.environ.pop("LSK_CFN_POLL_MS", None)

    def sleep_default(self):
        params = inspect.signature(ResourceProviderExecutor.deploy_loop).parameters
        return params["sleep_time"].default

    def test_the_pinned_localstack_sleeps_one_second_between_looks(self):
        self.assertEqual(self.sleep_default(), 1)

    def test_install_makes_it_100_ms_and_keeps_the_timeout(self):
        params = inspect.signature(ResourceProviderExecutor.deploy_loop).parameters
        timeout = params["max_timeout"].default
        cfn_poll.install()
        self.assertEqual(self.sleep_default(), 0.1)
        params = inspect.signature(ResourceProviderExecutor.deploy_loop).parameters
        self.assertEqual(params["max_timeout"].default, timeout)

    def test_the_interval_can_be_set_and_a_bad_value_is_ignored(self):
        os.environ["LSK_CFN_POLL_MS"] = "250"
        cfn_poll.install()
        self.assertEqual(self.sleep_default(), 0.25)
        os.environ["LSK_CFN_POLL_MS"] = "soon"
        self.assertEqual(cfn_poll.poll_seconds(), 0.1)


if __name__ == "__main__":
    unittest.main()
