#!/usr/bin/python3
# smtp_receiver.py -- the SMTP relay the email tests send to: aiosmtpd's
# Controller on 127.0.0.1, reporting on stdout, one JSON line each:
#
#   {"port": N}                                   once, when it accepts connections
#   {"mail_from": ..., "rcpt_tos": [...], "data_b64": ..., "peer_port": P}
#                                                 per message received (the raw bytes
#                                                 after DATA, base64; the client's port,
#                                                 so tests count connections)
#
# Its answers are programmed by the recipient address's local part, so a
# test picks an outcome by choosing an address:
#   bounce-*@...    RCPT TO: 550 5.1.1 No such user
#   soft-*@...      RCPT TO: 451 4.3.0 Try again later
#   softonce-*@...  RCPT TO: 451 the first time the address is seen, 250 after
#   reject-*@...    250 to RCPT, then 554 5.6.0 Message refused after DATA
#   anything else   250
#
# Usage: /usr/bin/python3 smtp_receiver.py [--port N] [--data-delay-ms MS]
#   --port: 0, the default, for any free port
#   --data-delay-ms: wait that long before answering each message's DATA
#   (a relay that takes its time: queue fsync, content scanning)
# It runs until stdin closes or it gets SIGTERM/SIGINT. Debian's
# python3-aiosmtpd is importable by /usr/bin/python3 only.
import argparse
import asyncio
import base64
import json
import signal
import socket
import sys
import threading

from aiosmtpd.controller import Controller


def local_part(address):
    return address.split("@", 1)[0].lower()


class Handler:
    def __init__(self, data_delay_ms=0):
        self.data_delay = data_delay_ms / 1000.0
        self.seen = set()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        lp = local_part(address)
        if lp.startswith("bounce-"):
            return "550 5.1.1 No such user"
        if lp.startswith("softonce-"):
            with self.lock:
                first = address not in self.seen
                self.seen.add(address)
            if first:
                return "451 4.3.0 Try again later"
        elif lp.startswith("soft-"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if any(local_part(a).startswith("reject-") for a in envelope.rcpt_tos):
            return "554 5.6.0 Message refused"
        line = json.dumps({
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data_b64": base64.b64encode(envelope.original_content).decode("ascii"),
            "peer_port": session.peer[1],
        })
        with self.lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        return "250 Message accepted"


class BoundController(Controller):
    """Controller on a socket bound here: with port 0 the kernel picks a
    free port, and the Controller (which connects to its own port to check
    it is up) must know which."""

    def __init__(self, handler, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        # server_hostname: else each session looks up the machine's FQDN.
        super().__init__(handler, hostname="127.0.0.1", port=self.sock.getsockname()[1],
                         server_hostname="smtp-receiver.test")

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self.sock)


def main():
    ap = argparse.ArgumentParser(description="An SMTP relay for brasa's tests.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--data-delay-ms", type=int, default=0)
    args = ap.parse_args()
    ctl = BoundController(Handler(args.data_delay_ms), args.port)
    ctl.start()
    sys.stdout.write(json.dumps({"port": ctl.port}) + "\n")
    sys.stdout.flush()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    # stdin closing (the test that started us is gone) ends us too.
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    while not done.wait(0.5):  # a timeout, so the signal handlers get to run
        pass
    ctl.stop()


if __name__ == "__main__":
    main()
