// Purely visual clientside behaviour (no data): the wall clock.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    cityops: {
        documentLanguage: function (search) {
            const match = /[?&]lang=([a-z]{2,3})(&|$)/.exec(search || "");
            document.documentElement.lang = match ? match[1] : "en";
            return window.dash_clientside.no_update;
        },
        // My district: the district shown goes into the address (?district=<id>), so the
        // address bar is a link to this very scorecard; the language link follows it.
        districtInUrl: function (chosen) {
            if (!chosen || !chosen.district) {
                return window.dash_clientside.no_update;
            }
            const url = new URL(window.location.href);
            if (url.searchParams.get("district") !== chosen.district) {
                url.searchParams.set("district", chosen.district);
                window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
            }
            document.querySelectorAll("a.public-lang-switch").forEach(function (link) {
                const other = new URL(link.href, window.location.href);
                other.searchParams.set("district", chosen.district);
                link.href = other.pathname + other.search;
            });
            return chosen.district;
        },
        clock: function () {
            const now = new Date();
            return now.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit"});
        }
    }
});

// Chart maps (MapLibre, inside Plotly) label their canvas "Map" and their attribution button
// "Toggle attribution" in English whatever Plotly's locale: translate those labels with the
// graph's own locale dictionary (dcc.Graph config.locales, from data/i18n/<lang>.yaml).
(function () {
    let pending = false;
    function translate() {
        pending = false;
        document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
            const ctx = gd._context;
            const entry = ctx && ctx.locales && ctx.locale ? ctx.locales[ctx.locale] : null;
            const dict = entry && entry.dictionary;
            if (!dict) {
                return;
            }
            gd.querySelectorAll("[aria-label], [title]").forEach(function (el) {
                ["aria-label", "title"].forEach(function (name) {
                    const value = el.getAttribute(name);
                    if (value && dict[value] && dict[value] !== value) {
                        el.setAttribute(name, dict[value]);
                    }
                });
            });
        });
    }
    new MutationObserver(function () {
        if (!pending && document.documentElement.lang !== "en") {
            pending = true;
            window.requestAnimationFrame(translate);
        }
    }).observe(document.documentElement, {subtree: true, childList: true});
})();
