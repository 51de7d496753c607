// Purely visual clientside behaviour (no data): the wall clock.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    cityops: {
        documentLanguage: function (search) {
            const match = /[?&]lang=(en|es)(&|$)/.exec(search || "");
            document.documentElement.lang = match ? match[1] : "en";
            return window.dash_clientside.no_update;
        },
        clock: function () {
            const now = new Date();
            return now.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit"});
        }
    }
});
