#!/usr/bin/env python3
"""Headless Chromium against the `chat` example: two tabs open the page, each sends a
message through the page's WebSocket, and each must show both messages (its own and the
other tab's, broadcast by the server). The handshake must have agreed permessage-deflate,
so the messages cross compressed both ways. Drives the browser over the DevTools protocol on
a pipe (--remote-debugging-pipe: JSON messages ended by NUL on fds 3 and 4), with the
standard library only.

usage: chat_browser_test.py CHAT_BINARY [CHROMIUM]
"""
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    def __init__(self, binary):
        # Our ends: we write commands to `to_chrome`, read events from `from_chrome`.
        chrome_in, self.to_chrome = os.pipe()
        self.from_chrome, chrome_out = os.pipe()
        self.profile = tempfile.mkdtemp(prefix="chat-chromium-")

        def child_fds():
            # Move both ends out of the way first: either may already be fd 3 or 4.
            high_in = fcntl.fcntl(chrome_in, fcntl.F_DUPFD, 10)
            high_out = fcntl.fcntl(chrome_out, fcntl.F_DUPFD, 10)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
             "--no-first-run", "about:blank"],
            # Kept open through the child's fd cleanup, which runs after preexec_fn.
            pass_fds=(3, 4, chrome_in, chrome_out), preexec_fn=child_fds,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(chrome_in)
        os.close(chrome_out)
        self.next_id = 0
        self.pending = b""
        self.events = []

    def call(self, method, session=None, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self.read()
            if "id" not in reply:
                self.events.append(reply)
            elif reply["id"] == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def read(self):
        while b"\0" not in self.pending:
            chunk = os.read(self.from_chrome, 65536)
            if not chunk:
                raise RuntimeError("the browser exited")
            self.pending += chunk
        msg, self.pending = self.pending.split(b"\0", 1)
        return json.loads(msg)

    def tab(self, url):
        # Network events on before the page opens its socket: the handshake is recorded.
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Network.enable", session)
        self.call("Page.navigate", session, url=url)
        return session

    def handshake_extensions(self, session):
        """The Sec-WebSocket-Extensions the server answered to this tab's socket."""
        for e in self.events:
            if (e.get("method") == "Network.webSocketHandshakeResponseReceived"
                    and e.get("sessionId") == session):
                headers = e["params"]["response"]["headers"]
                return next((v for k, v in headers.items()
                             if k.lower() == "sec-websocket-extensions"), None)
        return None

    def eval(self, session, expression):
        r = self.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def close(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def wait_for(what, check, seconds=15):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def main():
    chat = sys.argv[1]
    chromium = sys.argv[2] if len(sys.argv) > 2 else shutil.which("chromium")
    port = free_port()
    server = subprocess.Popen([chat, f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL)
    browser = None
    try:
        wait_for("the chat server", lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0)
        browser = Browser(chromium)
        url = f"http://127.0.0.1:{port}/"
        tabs = {name: browser.tab(url) for name in ("alice", "bob")}
        for name, tab in tabs.items():
            wait_for(f"{name} connected", lambda: browser.eval(
                tab, "document.getElementById('status')?.textContent") == "connected")
        for name, tab in tabs.items():
            # Chromium offers permessage-deflate and the server accepts it: the messages
            # below travel compressed both ways (Chromium's zlib against our encoder).
            extensions = browser.handshake_extensions(tab)
            print(f"{name} negotiated: {extensions}")
            assert extensions and extensions.startswith("permessage-deflate"), extensions
        # Short and long, and repeated: the second long one compresses against the first
        # (context takeover) in both directions.
        def said(name):
            return [f"hello from {name}"] + [f"{name}: " + "la " * 300] * 2
        for name, tab in tabs.items():
            for text in said(name):
                browser.eval(tab, f"send({json.dumps(text)})")
        expected = sorted(said("alice") + said("bob"))
        for name, tab in tabs.items():
            def shown():
                items = browser.eval(
                    tab, "[...document.querySelectorAll('#log li')].map(li => li.textContent)")
                return items if sorted(items or []) == expected else None
            items = wait_for(f"{name} to see both messages", shown)
            print(f"{name} sees {len(items)} messages: {[i[:20] for i in items]}")
        print("chat browser test: OK")
    finally:
        if browser:
            browser.close()
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
