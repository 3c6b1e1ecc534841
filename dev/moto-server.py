"""
moto's own server (moto/server.py: the same app, request handler and threads), with its ELBv2 and EC2 requests
taken one at a time. moto's ELBv2 backend keeps plain dicts without locks: a CreateTargetGroup that scans the groups
while another request adds or deletes one answers 500 (`OrderedDict mutated during iteration`), which AWS never does.
Python runs one thread at a time anyway, so the lock costs little; CloudWatch stays concurrent (its writes land).
"""
import argparse
import os
import re
import signal
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

# The services whose requests wait for each other (ELBv2 reads EC2's VPCs and subnets).
SERIAL = {"elasticloadbalancing", "ec2"}
# The service in a SigV4 credential scope: Credential=AKID/DATE/REGION/SERVICE/aws4_request.
SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))

    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    lock = threading.Lock()

    def serial(environ, start_response):
        scope = SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if scope and scope.group(1) in SERIAL:
            with lock:
                # The whole answer, inside the lock: moto computes it before it returns.
                return list(app(environ, start_response))
        return app(environ, start_response)

    run_simple(args.host, args.port, serial, threaded=True, use_reloader=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
