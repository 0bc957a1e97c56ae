"""A gateway server plugin that listens only where GATEWAY_LISTEN says.

Stock Twisted binds 0.0.0.0 whatever host GATEWAY_LISTEN names. It also puts the kit's own
request handlers into the gateway it serves: function URL bodies (urls.py) and `/_lsk/info`
(info.py); and it makes concurrent first requests to a service safe (service_loading.py) and
CloudFormation look at resources in progress every 100 ms (cfn_poll.py)."""

from __future__ import annotations

import logging
import os

from localstack.runtime.server.core import RuntimeServerPlugin

LOG = logging.getLogger(__name__)


def _with_nodelay(factory):
    """Sets TCP_NODELAY on every accepted connection.

    Clients that write headers and body separately otherwise wait ~40 ms per request: Nagle's
    algorithm holds the response's second segment until the client's delayed ACK of the first."""
    build = factory.buildProtocol

    def build_protocol(addr):
        proto = build(addr)
        if proto is None:
            return proto
        make_connection = proto.makeConnection

        def make_connection_nodelay(transport):
            try:
                transport.setTcpNoDelay(True)
            except Exception:  # not a TCP transport (e.g. wrapped TLS); nothing to tune
                pass
            return make_connection(transport)

        proto.makeConnection = make_connection_nodelay
        return proto

    factory.buildProtocol = build_protocol
    return factory


class LoopbackTwistedServerPlugin(RuntimeServerPlugin):
    name = "lsk-twisted"

    def load(self, *args, **kwargs):
        from localstack.runtime.server.twisted import TwistedRuntimeServer

        class LoopbackTwistedRuntimeServer(TwistedRuntimeServer):
            def register(self, gateway, listen, ssl_creds=None):
                from localstack import config
                from rolo.serving.twisted import TwistedGateway
                from twisted.internet import endpoints, reactor

                from lsk_localstack import cfn_poll, info, service_loading, urls

                service_loading.install()
                if "cloudformation" in os.environ.get("SERVICES", "").split(","):
                    cfn_poll.install()
                urls.install_gateway_handler(gateway)
                if "apigateway" in os.environ.get("SERVICES", "").split(","):
                    urls.install_rest_api_patch()
                info.install_gateway_handler(gateway)
                site = TwistedGateway(gateway)
                if ssl_creds:
                    from localstack.aws.serving.twisted import TLSMultiplexerFactory
                    from twisted.internet import ssl

                    cert_file_name, key_file_name = ssl_creds
                    ctx = ssl.DefaultOpenSSLContextFactory(key_file_name, cert_file_name)
                    ctx.getContext().use_certificate_chain_file(cert_file_name)
                    factory = TLSMultiplexerFactory(ctx, False, site)
                else:
                    factory = site
                factory = _with_nodelay(factory)

                for host_and_port in listen:
                    host = host_and_port.host
                    if config.is_ipv6_address(host):
                        endpoint = endpoints.TCP6ServerEndpoint(
                            reactor, host_and_port.port, interface=host
                        )
                    else:
                        # The point of this plugin: honour the host part for IPv4 too.
                        endpoint = endpoints.TCP4ServerEndpoint(
                            reactor, host_and_port.port, interface=host
                        )
                    endpoint.listen(factory)
                    LOG.debug("gateway listening on %s:%s", host, host_and_port.port)

        return LoopbackTwistedRuntimeServer()
