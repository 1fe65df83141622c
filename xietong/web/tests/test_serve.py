"""`xietong serve`: the accepted connections have TCP_NODELAY (no delayed-ACK wait per answer)."""

from __future__ import annotations

import socket

from django.core.servers.basehttp import WSGIRequestHandler

from xietong.web.management.commands.serve import NoDelayWSGIServer, _Runserver


def test_serve_runs_django_runserver_with_the_no_delay_server() -> None:
    assert _Runserver.server_cls is NoDelayWSGIServer


def test_accepted_connections_have_tcp_nodelay() -> None:
    server = NoDelayWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    try:
        client = socket.create_connection(server.server_address[:2], timeout=5)
        try:
            accepted, _address = server.get_request()
            try:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            finally:
                accepted.close()
        finally:
            client.close()
    finally:
        server.server_close()
