/// The dashboard: one page, one stylesheet, one script, served from the binary (no build step).
/// The script follows `/events` (the browser's EventSource reconnects by itself and sends
/// Last-Event-ID), draws one card per store, and offers the buttons only when the server says
/// controls are on; the control token, when one is needed, stays in this browser's localStorage.
enum Dashboard {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>syncd</title>
        <link rel="stylesheet" href="dashboard.css">
        <script src="dashboard.js" defer></script>
        </head>
        <body>
        <header>
          <h1>syncd</h1>
          <span id="connection" class="connection">connecting…</span>
          <button id="login" class="login" hidden>enter control token</button>
        </header>
        <main id="stores"></main>
        <p id="empty" class="empty" hidden>No stores configured.</p>
        <template id="card">
          <section class="card">
            <div class="top"><h2 class="name"></h2><span class="state"></span></div>
            <div class="bar"><span class="fill"></span></div>
            <div class="step"></div>
            <dl>
              <dt>last result</dt><dd class="result"></dd>
              <dt>next run</dt><dd class="next"></dd>
            </dl>
            <ul class="errors"></ul>
            <div class="controls" hidden>
              <button data-action="sync">sync</button>
              <button data-action="cancel">cancel</button>
              <button data-action="pause">pause</button>
            </div>
            <div class="notice"></div>
          </section>
        </template>
        </body>
        </html>
        """#

    static let style = #"""
        :root { color-scheme: light dark; --ok: #2e7d32; --busy: #1565c0; --bad: #c62828; --warn: #ef6c00; --dim: #888; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.4 system-ui, sans-serif; }
        header { display: flex; flex-wrap: wrap; align-items: center; gap: .75rem; padding: .75rem 1rem; border-bottom: 1px solid #8884; }
        h1 { margin: 0; font-size: 1.25rem; }
        .connection { color: var(--dim); font-size: .9rem; flex: 1; }
        .connection.down { color: var(--bad); }
        main { display: grid; grid-template-columns: repeat(auto-fill, minmax(17rem, 1fr)); gap: 1rem; padding: 1rem; }
        .card { border: 1px solid #8886; border-radius: .5rem; padding: .75rem; }
        .top { display: flex; justify-content: space-between; align-items: baseline; gap: .5rem; }
        h2 { margin: 0 0 .5rem; font-size: 1.05rem; overflow-wrap: anywhere; }
        .state { font-size: .8rem; padding: .1rem .5rem; border-radius: 1rem; color: #fff; background: var(--dim); }
        .state.syncing { background: var(--busy); }
        .state.idle { background: var(--ok); }
        .state.error, .state.login-required, .state.stalled { background: var(--bad); }
        .state.queued, .state.retrying, .state.paused { background: var(--warn); }
        .bar { height: 1.1rem; border-radius: .3rem; background: #8883; overflow: hidden; }
        .fill { display: block; height: 100%; width: 0; background: var(--busy); transition: width .2s linear; }
        .step { min-height: 1.4em; font-size: .9rem; color: var(--dim); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
        dl { display: grid; grid-template-columns: auto 1fr; gap: .1rem .75rem; margin: .5rem 0; font-size: .9rem; }
        dt { color: var(--dim); }
        dd { margin: 0; }
        .errors { list-style: none; margin: 0; padding: 0; font-size: .85rem; }
        .errors li { border-left: 3px solid var(--bad); padding-left: .4rem; margin: .2rem 0; overflow-wrap: anywhere; }
        .errors li.warning { border-color: var(--warn); }
        .controls { display: flex; gap: .5rem; margin-top: .5rem; }
        button { font: inherit; padding: .45rem .9rem; border-radius: .4rem; border: 1px solid #8888; background: #8882; cursor: pointer; }
        .controls button { flex: 1; min-height: 2.5rem; }
        .notice { font-size: .85rem; color: var(--dim); min-height: 1.2em; }
        .empty { padding: 1rem; color: var(--dim); }
        """#

    static let script = #"""
        "use strict";
        const stores = new Map();   // name -> the store as /api/status gives it
        const errors = new Map();   // name -> the last few errors and warnings, newest first
        const cards = new Map();    // name -> its card element
        const dirty = new Set();
        let controls = false, framePending = false;
        const keep = 4;
        const $ = (selector, root = document) => root.querySelector(selector);

        // A token in the address (#token=...) is remembered in this browser and removed from the address bar.
        const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
        if (fromHash) { localStorage.setItem("syncd-token", fromHash); history.replaceState(null, "", location.pathname); }
        const token = () => localStorage.getItem("syncd-token");

        function when(iso) {
          if (!iso) return "-";
          const s = Math.round((Date.parse(iso) - Date.now()) / 1000);
          const span = a => a < 60 ? a + "s" : a < 3600 ? Math.floor(a / 60) + "m" : a < 86400 ? Math.floor(a / 3600) + "h" : Math.floor(a / 86400) + "d";
          return s < 1 ? (s > -5 ? "now" : span(-s) + " ago") : "in " + span(s);
        }

        function next(store) {
          if (store.paused) return "paused";
          if (store.auth_required) return "after a login";
          if (store.queue_place > 0) return "queued, #" + store.queue_place;
          if (store.retry > 0) return "retry " + store.retry + " " + when(store.next_run);
          return store.next_run ? when(store.next_run) : (store.interval ? "-" : "on demand only");
        }

        function card(name) {
          let element = cards.get(name);
          if (element) return element;
          element = $("#card").content.firstElementChild.cloneNode(true);
          element.dataset.store = name;
          $(".name", element).textContent = name;
          for (const button of element.querySelectorAll("button")) button.addEventListener("click", () => act(name, button.dataset.action, element));
          cards.set(name, element);
          const names = [...cards.keys()].sort();
          const after = cards.get(names[names.indexOf(name) + 1]);
          $("#stores").insertBefore(element, after || null);
          return element;
        }

        function draw(name) {
          const store = stores.get(name);
          if (!store) { cards.get(name)?.remove(); cards.delete(name); return; }
          const element = card(name), run = store.run;
          const state = $(".state", element);
          state.textContent = store.state; state.className = "state " + store.state;
          const percent = run ? (run.percent ?? 0) : 0;
          $(".fill", element).style.width = percent + "%";
          element.dataset.percent = String(percent);
          // Problems of the run in progress: the error list shows them once the run has ended.
          const problems = run ? [run.errors && run.errors + (run.errors > 1 ? " errors" : " error"),
                                  run.warnings && run.warnings + (run.warnings > 1 ? " warnings" : " warning")].filter(Boolean).join(", ") : "";
          $(".step", element).textContent = run ? [run.percent != null ? Math.floor(run.percent) + "%" : "", run.step || "",
                                                   problems && "(" + problems + ")"].join(" ").trim() : "";
          $(".result", element).textContent = store.last_result ? store.last_result.name + (store.last_run_ended ? " (" + when(store.last_run_ended) + ")" : "") : "-";
          $(".next", element).textContent = next(store);
          $(".controls", element).hidden = !controls;
          const pause = $('[data-action="pause"], [data-action="resume"]', element);
          pause.dataset.action = store.paused ? "resume" : "pause"; pause.textContent = pause.dataset.action;
          const list = $(".errors", element);
          list.replaceChildren(...(errors.get(name) || []).map(entry => {
            const item = document.createElement("li");
            item.className = entry.severity; item.textContent = entry.message; item.title = entry.time + " " + entry.name;
            return item;
          }));
        }

        function redraw(name) {
          dirty.add(name);
          if (framePending) return;
          framePending = true;
          requestAnimationFrame(() => { framePending = false; for (const n of dirty) draw(n); dirty.clear(); $("#empty").hidden = stores.size > 0; });
        }

        function remember(entry) {
          const list = errors.get(entry.store) || [];
          list.unshift(entry); errors.set(entry.store, list.slice(0, keep));
        }

        async function act(name, action, element) {
          const notice = $(".notice", element);
          const headers = { "X-Syncd-Control": "1" };
          if (token()) headers.Authorization = "Bearer " + token();
          notice.textContent = action + "…";
          try {
            const response = await fetch("api/stores/" + encodeURIComponent(name) + "/" + action, { method: "POST", headers });
            const body = await response.json();
            if (response.status === 401) { notice.textContent = "not authorised: enter the control token"; $("#login").hidden = false; return; }
            notice.textContent = body.message || body.error || (body.status && body.status.text) || response.statusText;
          } catch (error) { notice.textContent = "request failed: " + error; }
        }

        $("#login").addEventListener("click", () => {
          const entered = prompt("Control token (from the file given to --control-token-file):");
          if (entered) { localStorage.setItem("syncd-token", entered.trim()); $("#login").hidden = true; }
        });

        fetch("api/errors").then(r => r.ok ? r.json() : []).then(entries => { for (const e of entries) remember(e); for (const n of stores.keys()) redraw(n); }).catch(() => {});

        const events = new EventSource("events");
        events.addEventListener("snapshot", message => {
          const snapshot = JSON.parse(message.data);
          const names = new Set(snapshot.stores.map(s => s.name));
          for (const name of stores.keys()) if (!names.has(name)) { stores.delete(name); redraw(name); }
          for (const store of snapshot.stores) { stores.set(store.name, store); redraw(store.name); }
        });
        for (const type of ["run-started", "progress", "error", "warning", "done", "store-changed", "store-removed", "new-messages"]) {
          events.addEventListener(type, message => {
            const frame = JSON.parse(message.data), name = frame.event.store;
            if (type === "progress") {
              // Progress frames carry no store document: apply the step to the run shown.
              const run = stores.get(name)?.run, event = frame.event;
              if (!run || run.id !== event.run) return;
              if (event.step != null) run.step = event.step;
              run.index = event.index; run.max = event.max;
              run.percent = event.max > 0 ? Math.round(Math.min(event.index, event.max) / event.max * 1000) / 10 : null;
            } else if (frame.store) stores.set(name, frame.store); else stores.delete(name);
            if (type === "error" || type === "warning") remember({ store: name, time: frame.event.time, severity: type, name: frame.event.name, message: frame.event.message });
            redraw(name);
          });
        }
        events.addEventListener("daemon", message => {
          const daemon = JSON.parse(message.data);
          controls = daemon.controls;
          const line = $("#connection");
          line.textContent = daemon.connected ? "live" : "syncd unreachable (" + daemon.reason + "), reconnecting…";
          line.classList.toggle("down", !daemon.connected);
          line.dataset.connected = String(daemon.connected);
          for (const name of stores.keys()) redraw(name);
        });
        events.addEventListener("open", () => { document.body.dataset.stream = "open"; });
        events.addEventListener("error", () => {
          document.body.dataset.stream = "reconnecting";
          const line = $("#connection");
          line.textContent = "syncd-http unreachable, reconnecting…"; line.classList.add("down"); line.dataset.connected = "false";
        });
        setInterval(() => { for (const name of stores.keys()) redraw(name); }, 1000);
        """#
}
