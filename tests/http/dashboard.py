#!/usr/bin/python3
"""Drives syncd-http's dashboard in headless Chromium over the DevTools protocol (stdlib only).

usage: dashboard.py URL STORE SHOTS_DIR RESTART_DONE_FILE

Steps, each printed as one line on stdout (the test reads them back):
  ready            the card for STORE is drawn and the page says "live"
  clicked          "sync" was clicked on the card; the card then shows a run (state syncing)
  shots A B        two screenshots taken ~1.5 s apart during that run, and the bar's percent in each
  restart          asks the test to restart the daemon; waits until RESTART_DONE_FILE exists
  resumed          the page saw the daemon go away and come back, without a reload, and a second
                   click on "sync" started a run it shows
A failed wait exits 1 with the reason on stderr. Chromium exits when this script does (its
DevTools pipe closes).
"""
import base64, fcntl, json, os, subprocess, sys, tempfile, time

url, store, shots, restart_done = sys.argv[1:5]
profile = tempfile.mkdtemp(prefix="syncd-http-chromium-")
a, b = os.pipe(), os.pipe()  # a: commands to chromium (its fd 3); b: replies (its fd 4)


def fds():
    r, w = (fcntl.fcntl(f, fcntl.F_DUPFD, 10) for f in (a[0], b[1]))
    os.dup2(r, 3)
    os.dup2(w, 4)


proc = subprocess.Popen(
    ["chromium", "--headless=new", "--no-sandbox", "--remote-debugging-pipe", "--user-data-dir=" + profile,
     "--window-size=800,600", url],
    pass_fds=(3, 4), preexec_fn=fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
os.close(a[0])
os.close(b[1])
buf, n = b"", 0


def cdp(method, sid=None, **params):
    global buf, n
    n += 1
    os.write(a[1], json.dumps({"id": n, "method": method, "params": params, **({"sessionId": sid} if sid else {})}).encode() + b"\0")
    while True:  # skip events and other replies
        while b"\0" not in buf and (c := os.read(b[0], 65536)):
            buf += c
        if b"\0" not in buf:
            fail("chromium exited")
        raw, buf = buf.split(b"\0", 1)
        m = json.loads(raw)
        if m.get("id") == n:
            return m.get("result", m.get("error"))


def fail(why):
    print(why, file=sys.stderr, flush=True)
    try:
        proc.kill()
    finally:
        subprocess.run(["rm", "-rf", profile])
    sys.exit(1)


def js(sid, expression):
    result = cdp("Runtime.evaluate", sid, expression=expression, returnByValue=True)
    return result.get("result", {}).get("value")


def wait(sid, expression, want=True, seconds=15):
    end = time.time() + seconds
    while (got := js(sid, expression)) != want:
        if time.time() > end:
            fail(f"timed out waiting for {expression} == {want!r} (last: {got!r})")
        time.sleep(0.1)


def click(sid, selector):
    x, y = js(sid, f"(r => [r.x + r.width/2, r.y + r.height/2])(document.querySelector({json.dumps(selector)}).getBoundingClientRect())")
    for kind in ("mousePressed", "mouseReleased"):
        cdp("Input.dispatchMouseEvent", sid, type=kind, x=x, y=y, button="left", clickCount=1)


def shot(sid, name):
    path = os.path.join(shots, name)
    with open(path, "wb") as f:
        f.write(base64.b64decode(cdp("Page.captureScreenshot", sid, format="png")["data"]))
    return path


def say(*words):
    print(*words, flush=True)


page = next(t["targetId"] for t in cdp("Target.getTargets")["targetInfos"] if t["type"] == "page")
sid = cdp("Target.attachToTarget", targetId=page, flatten=True)["sessionId"]
cdp("Emulation.setDeviceMetricsOverride", sid, width=800, height=600, deviceScaleFactor=1, mobile=False)
card = f'document.querySelector(\'[data-store="{store}"]\')'
wait(sid, f"!!{card}")
wait(sid, "document.querySelector('#connection').dataset.connected", "true")
# Set once; a reload would lose it.
js(sid, "window.loadedOnce = 'yes'; window.sawDown = false; "
        "new MutationObserver(() => { if (document.querySelector('#connection').dataset.connected === 'false') window.sawDown = true; })"
        ".observe(document.querySelector('#connection'), {attributes: true})")
wait(sid, f"{card}.querySelector('.controls').hidden", False)
say("ready")

sync = f'[data-store="{store}"] [data-action="sync"]'
click(sid, sync)
say("clicked")
wait(sid, f"{card}.querySelector('.state').textContent", "syncing")
wait(sid, f"Number({card}.dataset.percent) > 0", True)
first = js(sid, f"{card}.dataset.percent")
a_path = shot(sid, "a.png")
time.sleep(1.5)
second = js(sid, f"{card}.dataset.percent")
b_path = shot(sid, "b.png")
say("shots", a_path, b_path, first, second)

say("restart")
end = time.time() + 60
while not os.path.exists(restart_done):
    if time.time() > end:
        fail("the test did not restart the daemon")
    time.sleep(0.1)
wait(sid, "window.sawDown", True, seconds=20)
wait(sid, "document.querySelector('#connection').dataset.connected", "true", seconds=20)
wait(sid, "window.loadedOnce", "yes")
wait(sid, f"{card}.querySelector('.state').textContent === 'syncing'", False, seconds=20)
click(sid, sync)
wait(sid, f"{card}.querySelector('.state').textContent", "syncing", seconds=20)
say("resumed")
cdp("Browser.close")
proc.wait(10)
subprocess.run(["rm", "-rf", profile])
