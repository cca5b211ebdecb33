// The dataset page's map: the table's filtered rows from data.geojson, drawn with Leaflet
// over the portal's own outlines of Mongolia and its neighbours. No tiles, no other host.
// Without JavaScript the page shows the same rows as a table.
"use strict";
(function () {
  function text(v) {
    return v === null || v === undefined ? "" : String(v);
  }
  function popup(properties) {
    var table = document.createElement("table");
    Object.keys(properties).slice(0, 12).forEach(function (k) {
      var tr = table.insertRow();
      var th = document.createElement("th");
      th.textContent = k;
      tr.appendChild(th);
      tr.insertCell().textContent = text(properties[k]);
    });
    return table;
  }
  function draw(el) {
    var map = L.map(el, { preferCanvas: true, zoomSnap: 0.25, attributionControl: true });
    map.attributionControl.setPrefix(false);
    map.setView([46.8, 103.0], 4);
    var outlines = fetch(el.dataset.outlines)
      .then(function (r) { return r.json(); })
      .then(function (doc) {
        L.geoJSON(doc, {
          interactive: false,
          style: { color: "#8a8f98", weight: 1, fillColor: "#eef0f2", fillOpacity: 1 },
        }).addTo(map);
        map.attributionControl.addAttribution("Natural Earth");
      });
    var data = fetch(el.dataset.src)
      .then(function (r) {
        if (!r.ok) throw new Error(r.status + " " + r.statusText);
        return r.json();
      })
      .then(function (doc) {
        var layer = L.geoJSON(doc, {
          pointToLayer: function (_, at) {
            return L.circleMarker(at, { radius: 4, weight: 1, color: "#0b5cad", fillOpacity: 0.7 });
          },
          style: { color: "#0b5cad", weight: 1.5, fillOpacity: 0.25 },
          onEachFeature: function (f, l) {
            l.bindPopup(function () { return popup(f.properties || {}); });
          },
        });
        // Data first, outlines under it whenever they arrive.
        layer.addTo(map);
        var placed = doc.features.filter(function (f) { return f.geometry; }).length;
        if (placed > 0) map.fitBounds(layer.getBounds(), { padding: [12, 12], maxZoom: 12 });
        el.dataset.features = String(placed);
        return placed;
      });
    Promise.all([outlines, data])
      .then(function () {
        // A frame after the layers are added, they are painted: first paint for benchmarks.
        requestAnimationFrame(function () {
          performance.mark("map-drawn");
          el.classList.add("ready");
        });
      })
      .catch(function (e) {
        el.classList.add("failed");
        var p = document.createElement("p");
        p.textContent = el.dataset.failed + " (" + e.message + ")";
        el.appendChild(p);
      });
  }
  document.querySelectorAll("div.map[data-src]").forEach(draw);
})();
