/// The status page at `/`: plain HTML and a little JavaScript, no build step. It draws
/// `GET /v1/integrations` every two seconds: each target's budgets as gauges, the integrations
/// with their states in colour (sortable; oldest waiting event first by default), and a
/// 30-minute timeline per integration of events, polls and triggers by outcome. With
/// `http.admin_tokens` set, open it as `/#token=...`; the token stays in the tab's session
/// storage and goes only into the `Authorization` header.
enum StatusPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>SyncBridge</title>
        <style>
          :root { --ink: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #f8f9fb; }
          body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--bg); margin: 0; }
          header { display: flex; align-items: baseline; gap: 1em; padding: 12px 20px; background: #fff; border-bottom: 1px solid var(--line); }
          header h1 { font-size: 18px; margin: 0; }
          header .meta { color: var(--muted); }
          main { padding: 16px 20px; }
          #error { display: none; background: #fee4e2; color: #912018; padding: 8px 12px; border-radius: 6px; margin-bottom: 12px; }
          #login { display: none; margin-bottom: 12px; }
          #targets { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 16px; }
          .target { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; display: flex; gap: 14px; align-items: center; }
          .target h2 { font-size: 14px; margin: 0 0 4px; }
          .gauge text { font-size: 11px; fill: var(--muted); }
          .gauge .value { font-size: 13px; fill: var(--ink); font-weight: 600; }
          .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; }
          .badge.paused { background: #fee4e2; color: #912018; }
          table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); border-radius: 8px; }
          th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
          th { font-weight: 600; color: var(--muted); cursor: pointer; user-select: none; }
          th.sorted::after { content: " \25BE"; }
          td.id { font-family: ui-monospace, monospace; font-size: 12px; }
          td.num { text-align: right; font-variant-numeric: tabular-nums; }
          .state { padding: 2px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
          .state-idle { background: #f2f4f7; color: #475467; }
          .state-coalescing { background: #eff8ff; color: #175cd3; }
          .state-due { background: #ecfdf3; color: #067647; }
          .state-waiting_for_budget { background: #fffaeb; color: #b54708; }
          .state-running { background: #f4f3ff; color: #5925dc; }
          .state-running_with_new_events { background: #ebe9fe; color: #3e1c96; }
          .state-backing_off { background: #fef0c7; color: #93370d; }
          .state-disabled { background: #fee4e2; color: #912018; }
          .state-paused { background: #fda29b; color: #55160c; }
          .legend { color: var(--muted); font-size: 12px; margin-top: 8px; }
          .legend span { margin-right: 12px; }
          .dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; vertical-align: middle; margin-right: 3px; }
        </style>
        </head>
        <body>
        <header><h1>SyncBridge</h1><span class="meta" id="meta">loading…</span></header>
        <main>
          <div id="error" role="alert"></div>
          <form id="login"><label>Admin token <input id="token" type="password" autocomplete="off"></label> <button>Show</button></form>
          <section id="targets"></section>
          <table id="integrations">
            <thead><tr>
              <th data-key="id">Integration</th><th data-key="target">Target</th><th data-key="state">State</th>
              <th data-key="pending_events">Pending</th><th data-key="oldest_pending_age_seconds" class="sorted">Oldest waiting</th>
              <th data-key="next">Next</th><th data-key="last_trigger">Last trigger</th><th>Last 30 minutes</th>
            </tr></thead>
            <tbody></tbody>
          </table>
          <div class="legend" id="legend"></div>
        </main>
        <script>
        "use strict";
        const outcomeColours = { accepted: "#12b76a", in_progress: "#7a5af8", rate_limited: "#f79009", client_error: "#f04438", server_error: "#d92d20", network_error: "#98a2b3" };
        const svgNS = "http://www.w3.org/2000/svg";
        let sortKey = "oldest_pending_age_seconds";
        let latest = null;

        const hashToken = new URLSearchParams(location.hash.slice(1)).get("token");
        if (hashToken) { sessionStorage.setItem("syncbridge-token", hashToken); history.replaceState(null, "", location.pathname); }

        function el(tag, attributes, text) {
          const node = tag.startsWith("svg:") ? document.createElementNS(svgNS, tag.slice(4)) : document.createElement(tag);
          for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
          if (text !== undefined) node.textContent = text;
          return node;
        }
        function clock(iso) { return iso ? iso.slice(11, 19) : ""; }
        function age(seconds) {
          if (seconds == null) return "–";
          if (seconds < 120) return seconds.toFixed(seconds < 10 ? 1 : 0) + " s";
          if (seconds < 7200) return Math.floor(seconds / 60) + " min";
          return Math.floor(seconds / 3600) + " h";
        }

        function gauge(label, budget) {
          const fraction = budget.limit > 0 ? Math.min(1, budget.used / budget.limit) : 0;
          const svg = el("svg:svg", { width: 96, height: 64, viewBox: "0 0 96 64", class: "gauge", "data-used": budget.used, "data-limit": budget.limit });
          const arc = (f) => { const a = Math.PI * (1 - f); return [48 + 38 * Math.cos(a), 50 - 38 * Math.sin(a)]; };
          const [x, y] = arc(fraction);
          svg.append(el("svg:path", { d: "M10 50 A38 38 0 0 1 86 50", fill: "none", stroke: "#e4e7ec", "stroke-width": 8 }));
          if (fraction > 0) {
            const colour = fraction >= 1 ? "#f04438" : fraction > 0.75 ? "#f79009" : "#12b76a";
            svg.append(el("svg:path", { d: `M10 50 A38 38 0 0 1 ${x.toFixed(1)} ${y.toFixed(1)}`, fill: "none", stroke: colour, "stroke-width": 8 }));
          }
          svg.append(el("svg:text", { x: 48, y: 46, "text-anchor": "middle", class: "value" }, `${budget.used}/${budget.limit}`));
          svg.append(el("svg:text", { x: 48, y: 59, "text-anchor": "middle" }, label));
          return svg;
        }

        function renderTargets(targets) {
          const section = document.getElementById("targets");
          section.replaceChildren(...targets.map((target) => {
            const box = el("div", { class: "target", "data-target": target.name });
            const title = el("div");
            title.append(el("h2", {}, target.name));
            if (target.paused) title.append(el("span", { class: "badge paused" }, `paused (HTTP ${target.paused.status})`));
            const windowText = target.triggers.window_seconds === 60 ? "per minute" : `per ${target.triggers.window_seconds} s`;
            title.append(el("div", { class: "meta" }, windowText));
            box.append(title, gauge("triggers", target.triggers), gauge("status calls", target.statuses));
            return box;
          }));
        }

        function timeline(item) {
          const lanes = item.timeline.lanes || {};
          const count = (lanes.events || []).length || 60;
          const width = 300, height = 34, step = width / count;
          const svg = el("svg:svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "timeline" });
          svg.append(el("svg:line", { x1: 0, y1: 24.5, x2: width, y2: 24.5, stroke: "#e4e7ec" }));
          const events = lanes.events || [];
          const peak = Math.max(1, ...events);
          events.forEach((n, i) => {
            if (!n) return;
            const h = Math.max(2, 16 * Math.log1p(n) / Math.log1p(peak));
            const bar = el("svg:rect", { x: (i * step + 0.5).toFixed(1), y: (24 - h).toFixed(1), width: Math.max(1, step - 1).toFixed(1), height: h.toFixed(1), fill: "#b2ccff", class: "events" });
            bar.append(el("svg:title", {}, `${n} events`));
            svg.append(bar);
          });
          (lanes.polls || []).forEach((n, i) => {
            if (!n) return;
            const tick = el("svg:rect", { x: (i * step + step / 2 - 1).toFixed(1), y: 27, width: 2, height: 6, fill: "#7a5af8", class: "polls" });
            tick.append(el("svg:title", {}, `${n} status polls`));
            svg.append(tick);
          });
          for (const [outcome, colour] of Object.entries(outcomeColours)) {
            (lanes[outcome] || []).forEach((n, i) => {
              if (!n) return;
              const dot = el("svg:circle", { cx: (i * step + step / 2).toFixed(1), cy: 5, r: 4, fill: colour, class: `trigger ${outcome}` });
              dot.append(el("svg:title", {}, `${n} trigger${n > 1 ? "s" : ""}: ${outcome}`));
              svg.append(dot);
            });
          }
          return svg;
        }

        function nextText(item) {
          const next = item.next_action;
          if (!next) return "–";
          if (next.kind === "await_answer") return "awaiting answer";
          return next.in_seconds < 0.5 ? `${next.kind} now` : `${next.kind} in ${age(next.in_seconds)}`;
        }

        function sortValue(item, key) {
          switch (key) {
            case "oldest_pending_age_seconds": return item.oldest_pending_age_seconds ?? -1;
            case "pending_events": return item.pending_events;
            case "next": return item.next_action ? item.next_action.in_seconds : Infinity;
            case "last_trigger": return item.last_trigger ? item.last_trigger.sent_at : "";
            default: return item[key] ?? "";
          }
        }

        function renderIntegrations(items) {
          const descending = ["oldest_pending_age_seconds", "pending_events", "last_trigger"].includes(sortKey);
          const sorted = [...items].sort((a, b) => {
            const [x, y] = [sortValue(a, sortKey), sortValue(b, sortKey)];
            if (x < y) return descending ? 1 : -1;
            if (x > y) return descending ? -1 : 1;
            return (a.target + a.id).localeCompare(b.target + b.id);
          });
          const rows = sorted.map((item) => {
            const row = el("tr", { "data-integration": item.id, "data-target": item.target, "data-state": item.state });
            row.append(el("td", { class: "id", title: item.rules.length ? `rules: ${item.rules.join(", ")}` : "no rule names it" }, item.id));
            row.append(el("td", {}, item.target));
            const state = el("td");
            state.append(el("span", { class: `state state-${item.state}` }, item.state.replaceAll("_", " ")));
            row.append(state);
            row.append(el("td", { class: "num" }, String(item.pending_events)));
            row.append(el("td", { class: "num" }, age(item.oldest_pending_age_seconds)));
            row.append(el("td", {}, nextText(item)));
            const last = item.last_trigger;
            row.append(el("td", {}, last ? `${clock(last.sent_at)} ${last.outcome} (${last.events})` : "–"));
            const cell = el("td");
            cell.append(timeline(item));
            row.append(cell);
            return row;
          });
          if (rows.length === 0) {
            const empty = el("tr");
            empty.append(el("td", { colspan: 8, class: "meta" }, "No integration has seen an event yet."));
            rows.push(empty);
          }
          document.querySelector("#integrations tbody").replaceChildren(...rows);
          document.querySelectorAll("#integrations th").forEach((th) => th.classList.toggle("sorted", th.dataset.key === sortKey));
        }

        function render(doc) {
          latest = doc;
          document.getElementById("meta").textContent = `${doc.mode} mode · ${doc.integrations.length} integrations · updated ${clock(doc.generated_at)} UTC`;
          renderTargets(doc.targets);
          renderIntegrations(doc.integrations);
        }

        async function refresh() {
          const error = document.getElementById("error");
          const token = sessionStorage.getItem("syncbridge-token");
          try {
            const response = await fetch("/v1/integrations", { headers: token ? { Authorization: `Bearer ${token}` } : {}, cache: "no-store" });
            if (response.status === 401) {
              document.getElementById("login").style.display = "block";
              throw new Error("this service needs an admin token (http.admin_tokens)");
            }
            if (!response.ok) throw new Error(`GET /v1/integrations answered ${response.status}`);
            render(await response.json());
            error.style.display = "none";
            document.body.dataset.loaded = "true";
          } catch (problem) {
            error.textContent = String(problem.message || problem);
            error.style.display = "block";
          }
        }

        document.querySelectorAll("#integrations th[data-key]").forEach((th) => th.addEventListener("click", () => {
          sortKey = th.dataset.key;
          if (latest) renderIntegrations(latest.integrations);
        }));
        document.getElementById("login").addEventListener("submit", (event) => {
          event.preventDefault();
          sessionStorage.setItem("syncbridge-token", document.getElementById("token").value);
          document.getElementById("login").style.display = "none";
          refresh();
        });
        const legend = document.getElementById("legend");
        legend.append(el("span", {}, "Last 30 minutes up to now, 30 s per column: bars are events, ticks are status polls, dots are triggers:"));
        for (const [outcome, colour] of Object.entries(outcomeColours)) {
          const item = el("span");
          item.append(el("span", { class: "dot", style: `background:${colour}` }), document.createTextNode(outcome.replaceAll("_", " ")));
          legend.append(item);
        }
        refresh();
        setInterval(refresh, 2000);
        </script>
        </body>
        </html>
        """#
}
