// Wall display behaviour (clientside, no data of its own):
//  - clock; rotation between views unless the server says the current view holds;
//  - refresh gate: a tick is skipped while the previous refresh is still running;
//  - authorisation watch: a 401/403 (revoked token) blanks every number at once and says the
//    screen is no longer authorised;
//  - connection watch: a failed refresh keeps the last good data on screen under a full-width
//    "connection lost since HH:MM" banner; the next successful refresh clears it;
//  - self-reload on a new build or data scheme, after N consecutive failures (once the server
//    answers again), and optionally once a night.
(function () {
    "use strict";
    const state = {inflight: 0, failures: 0, since: null, loadedAt: Date.now(), reloadWhenBack: false,
                   lastOk: null, refreshes: 0};
    window.cityopsWall = state;
    const isWall = () => !!document.querySelector(".wall-page");
    const hhmm = (d) => d.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", hour12: false});
    const maxFailures = () => (window.cityopsWallConfig && window.cityopsWallConfig.max_failures) || 10;

    function banner(show) {
        let el = document.getElementById("wall-connection");
        if (!show) {
            if (el) el.remove();
            return;
        }
        if (!el) {
            el = document.createElement("div");
            el.id = "wall-connection";
            el.className = "wall-connection";
            el.setAttribute("role", "alert");
            document.body.appendChild(el);
        }
        el.textContent = "⚠ Connection lost since " + hhmm(state.since) +
            " — showing the last data received; retrying";
    }

    function failed(serverAnswered) {
        state.failures += 1;
        if (!state.since) state.since = new Date();
        banner(true);
        if (state.failures >= maxFailures()) {
            // the server answers but keeps failing: start afresh; unreachable: reload once it is back
            if (serverAnswered) reload("failures");
            else state.reloadWhenBack = true;
        }
    }

    function succeeded() {
        if (state.reloadWhenBack) {
            reload("back after failures");
            return;
        }
        state.failures = 0;
        state.since = null;
        state.lastOk = new Date();
        state.refreshes += 1;
        banner(false);
    }

    // The screen is no longer authorised (token revoked or expired, HTTP 401/403): blank
    // every number at once (no tile, map, alert or clock left to look live), say so, and keep
    // asking; the first successful answer reloads the page.
    const UNAUTHORISED_TEXT = "✖ This screen is no longer authorised";
    function unauthorised(status) {
        state.inflight = 0;
        if (state.unauthorised) return;
        state.unauthorised = status;
        state.failures = 0;
        state.since = null;
        banner(false);
        const dc = window.dash_clientside;
        const blank = {
            "wall-tiles": {children: []}, "wall-alerts": {children: []}, "wall-map-title": {children: ""},
            "wall-hold-text": {children: ""}, "wall-clock": {children: ""}, "wall-sig": {data: {}},
            "wall-map": {figure: {data: [], layout: {paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
                                                      xaxis: {visible: false}, yaxis: {visible: false}}}},
        };
        if (dc && typeof dc.set_props === "function") {
            Object.keys(blank).forEach((id) => {
                try { dc.set_props(id, blank[id]); } catch (e) { /* not on this page */ }
            });
        }
        const page = document.querySelector(".wall-page");
        if (page) page.classList.add("is-unauthorised");
        let el = document.getElementById("wall-unauthorised");
        if (!el) {
            el = document.createElement("div");
            el.id = "wall-unauthorised";
            el.className = "wall-unauthorised";
            el.setAttribute("role", "alert");
            const title = document.createElement("div");
            title.className = "wall-unauthorised-title";
            title.textContent = UNAUTHORISED_TEXT;
            const detail = document.createElement("div");
            detail.className = "wall-unauthorised-detail";
            detail.textContent = "The server refused this screen (HTTP " + status + "): its device token was " +
                "revoked or is not valid. No data is shown. An administrator can issue a new token " +
                "(python -m data.users token-add NAME) and open the wall with ?token=…";
            el.appendChild(title);
            el.appendChild(detail);
            document.body.appendChild(el);
        }
    }
    state.unauthorisedText = UNAUTHORISED_TEXT;

    const realFetch = window.fetch.bind(window);
    window.fetch = function (input, init) {
        const url = typeof input === "string" ? input : (input && input.url) || "";
        const body = init && typeof init.body === "string" ? init.body : "";
        if (!url.includes("_dash-update-component") || !isWall()) {
            return realFetch(input, init);
        }
        if (!body.includes("..wall-tiles.children")) {
            // any other wall callback: a refusal blanks the screen too (Dash would read the
            // refused body twice: "body stream already read")
            return realFetch(input, init).then((response) => {
                if (response.status === 401 || response.status === 403) {
                    unauthorised(response.status);
                    return new Response(null, {status: 204});
                }
                return response;
            });
        }
        // In flight until the response has been APPLIED (checkBuild runs on the refresh's
        // last output), not merely received: a tick between the two would send stale signatures.
        state.inflight += 1;
        state.inflightSince = Date.now();
        return realFetch(input, init).then((response) => {
            if (response.status === 401 || response.status === 403) {
                unauthorised(response.status);
                return new Response(null, {status: 204});  // Dash: no update, no error
            }
            if (state.unauthorised) {  // authorised again: start afresh
                state.inflight = 0;
                reload("authorised again");
                return new Response(null, {status: 204});
            }
            if (response.status >= 500 || response.status === 204) {
                state.inflight = Math.max(0, state.inflight - 1);
                if (response.status >= 500) failed(true);
                return new Response(null, {status: 204});  // keep the last good data
            }
            succeeded();
            return response;
        }, () => {
            state.inflight = Math.max(0, state.inflight - 1);
            failed(false);
            return new Response(null, {status: 204});  // Dash: no update, no error
        });
    };

    // Alert ticker: when the alerts do not fit, CSS scrolls the list (wall.css) by the
    // distance and for the duration set here (~2 s per alert); "+N more" under reduced motion.
    function ticker() {
        const box = document.querySelector(".wall-ticker");
        const list = box && box.querySelector(".wall-alerts");
        if (!list) return;
        const items = [...list.children];
        const overflow = Math.ceil(list.scrollHeight - box.clientHeight);
        if (overflow <= 2 || !items.length) {
            box.classList.remove("is-scrolling");
            box.removeAttribute("data-hidden");
            return;
        }
        const line = items[0].offsetHeight || 40;
        const shift = overflow + Math.round(line * 0.6);  // the last alert clears the bottom fade
        const duration = Math.max(12, Math.round(shift / line * 2 / 0.76));  // moving 76 % of it
        const hidden = items.filter((li) => li.offsetTop + li.offsetHeight > box.clientHeight - line * 0.9).length;
        box.style.setProperty("--ticker-shift", -shift + "px");
        box.style.setProperty("--ticker-duration", duration + "s");
        box.setAttribute("data-hidden", String(hidden));
        box.classList.add("is-scrolling");
    }
    state.ticker = ticker;
    window.addEventListener("resize", () => setTimeout(ticker, 100));

    const noUpdate = () => window.dash_clientside.no_update;
    // Reload only when the page itself loads: a reload into a proxy's error page would leave
    // the screen dead (no script left to recover). Otherwise retry once the server is back.
    // Put `next` on screen (the rotation's Store), marking its chip; `returned`: the rotation
    // callback returns it itself, else it is set from a timer (set_props).
    function show(next, returned) {
        clearTimeout(state.holdTimer);
        state.viewShown = next;
        state.viewSince = Date.now();
        document.querySelectorAll(".wall-view-chip").forEach((el) => {
            el.classList.toggle("is-current", el.dataset.view === next);
        });
        if (!returned) window.dash_clientside.set_props("wall-view", {data: next});
        return next;
    }

    function reload(reason) {
        if (state.reloading) return;
        state.reloading = true;
        realFetch(window.location.href, {cache: "no-store"}).then((response) => {
            if (response.redirected && new URL(response.url).pathname === "/login") {
                state.reloading = false;  // a revoked screen would reload into the sign-in page
                unauthorised(401);
                return;
            }
            if (!response.ok) throw new Error(String(response.status));
            try {
                window.sessionStorage.setItem("cityops-wall-reload", new Date().toISOString() + " " + reason);
            } catch (e) { /* storage may be disabled on a kiosk */ }
            window.location.reload();
        }).catch(() => {
            state.reloading = false;
            state.reloadWhenBack = true;
        });
    }
    state.reload = reload;

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        wall: {
            clock: function (_n, config) {
                window.cityopsWallConfig = config;
                if (state.unauthorised) return "";  // a ticking clock would look live
                const now = new Date();
                if (config && config.nightly && isWall()) {
                    const [h, m] = config.nightly.split(":").map(Number);
                    const due = new Date(now);
                    due.setHours(h, m, 0, 0);
                    // once a night: the page has been up for over an hour and the time has come
                    if (now >= due && now - due < 60000 && now - state.loadedAt > 3600000) {
                        reload("nightly");
                    }
                }
                return now.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false});
            },
            gate: function (n) {
                // a refresh lost without an answer must not stop the wall: give up waiting after 60 s
                if (state.inflight > 0 && Date.now() - state.inflightSince < 60000) {
                    state.skipped = (state.skipped || 0) + 1;
                    return noUpdate();
                }
                return n || 0;
            },
            rotate: function (n, view, hold, config) {
                if (!config || !config.rotate || !Array.isArray(config.views) || config.views.length < 2) {
                    return noUpdate();
                }
                const now = Date.now();
                if (state.viewShown !== view) {  // this view is on screen since now (or since load)
                    state.viewShown = view;
                    state.viewSince = state.viewSince && n ? now : state.loadedAt;
                }
                if (!n) return noUpdate();  // the initial call at load: the first view shows first
                const next = config.views[(config.views.indexOf(view) + 1) % config.views.length];
                // Hold on an open critical alert for at most config.hold seconds past the view's
                // dwell, counted from when the view was shown: however late the server's answer
                // came, and whatever opened meanwhile, a view leaves by then.
                if (hold && hold.view === view && hold.reason && config.hold > 0) {
                    const until = state.viewSince + (config.rotate + config.hold) * 1000;
                    if (now < until - 250) {
                        if (until - now < config.rotate * 1000 && window.dash_clientside.set_props) {
                            // the limit falls between two ticks: leave exactly at it
                            clearTimeout(state.holdTimer);
                            state.holdTimer = setTimeout(() => {
                                if (state.viewShown === view) show(next);
                            }, until - now);
                        }
                        return noUpdate();
                    }
                }
                return show(next, true);
            },
            screen: function (config) {
                // a screen is named by ?screen=<name>, else by a random id kept in the browser
                let id = config && config.screen;
                if (!id) {
                    try {
                        id = window.localStorage.getItem("cityops-wall-screen");
                        if (!id) {
                            id = "screen-" + Math.random().toString(36).slice(2, 10);
                            window.localStorage.setItem("cityops-wall-screen", id);
                        }
                    } catch (e) {
                        id = "";
                    }
                }
                return {w: window.innerWidth, h: window.innerHeight, id: id};
            },
            checkBuild: function (meta, config) {
                state.inflight = 0;  // the refresh's outputs are on the page
                setTimeout(ticker, 100);  // once they are laid out
                if (meta && config && meta.build && meta.scheme &&
                        (meta.build !== config.build || meta.scheme !== config.scheme)) {
                    reload(meta.build !== config.build ? "build" : "scheme");
                }
                return noUpdate();
            }
        }
    });
})();
