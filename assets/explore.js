// Explorer map: the server sends values only ({figure, geometry}); the district outlines are
// fetched once per outline version from `geometry` (an immutable, browser-cached URL) and
// kept here, then put into the choroplethmap traces before the figure reaches the graph.
(function () {
    "use strict";
    const outlines = {};

    function fetchOutlines(url) {
        if (!outlines[url]) {
            outlines[url] = fetch(url, {credentials: "same-origin"}).then(function (response) {
                if (!response.ok) {
                    throw new Error("district outlines: HTTP " + response.status);
                }
                return response.json();
            }).catch(function (error) {
                delete outlines[url];  // try again at the next change
                throw error;
            });
        }
        return outlines[url];
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        cityopsExplore: {
            map: function (payload) {
                const dc = window.dash_clientside;
                if (!payload || !payload.figure) {
                    return dc.no_update;
                }
                if (!payload.geometry) {
                    return payload.figure;  // an empty or "no data" figure
                }
                return fetchOutlines(payload.geometry).then(function (geojson) {
                    const data = payload.figure.data.map(function (trace) {
                        return trace.type === "choroplethmap" ? Object.assign({}, trace, {geojson: geojson}) : trace;
                    });
                    return {data: data, layout: payload.figure.layout};
                });
            }
        }
    });
})();
