// Purely visual clientside behaviour (no data): the wall clock.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    cityops: {
        clock: function () {
            const now = new Date();
            return now.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit"});
        }
    }
});
