// ecsops ui: keeps an unfinished run's page current without reloading it.
// Every 2 s it asks the server for the page's live part (#live) with the entity tag it has; the server answers
// 304 while nothing recorded about the run changed, else the new part, which replaces the old one in one step
// (no flicker; open <details> stay open). It stops once the run has finished.
(function () {
  "use strict";

  var PERIOD_MS = 2000;
  var live = document.getElementById("live");
  if (!live || live.dataset.finished === "true" || !window.fetch) {
    return;
  }

  function openDetails(root) {
    var open = [];
    root.querySelectorAll("details[id]").forEach(function (element) {
      if (element.open) {
        open.push(element.id);
      }
    });
    return open;
  }

  // Where each scrolling box (the journal, the transitions) was: at its end (it follows new lines), or at a place.
  function scrolled(root) {
    var places = {};
    root.querySelectorAll(".scroll-box[id]").forEach(function (box) {
      var atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 4;
      places[box.id] = atEnd ? -1 : box.scrollTop;
    });
    return places;
  }

  function rescroll(places) {
    Object.keys(places).forEach(function (id) {
      var box = document.getElementById(id);
      if (box) {
        box.scrollTop = places[id] < 0 ? box.scrollHeight : places[id];
      }
    });
  }

  function swap(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    var fresh = template.content.getElementById("live");
    if (!fresh) {
      return;
    }
    var open = openDetails(live);
    var places = scrolled(live);
    live.replaceChildren.apply(live, Array.prototype.slice.call(fresh.childNodes));
    open.forEach(function (id) {
      var element = document.getElementById(id);
      if (element && element.tagName === "DETAILS") {
        element.open = true;
      }
    });
    rescroll(places);
    live.dataset.etag = fresh.dataset.etag || live.dataset.etag;
    live.dataset.finished = fresh.dataset.finished || "false";
    live.dataset.updates = String(Number(live.dataset.updates || "0") + 1);
  }

  function lost(yes) {
    var note = document.getElementById("live-note");
    if (note) {
      note.classList.toggle("lost", yes);
      note.textContent = yes ? "connection lost · retrying" : "live · updates every 2 s";
    }
  }

  function poll() {
    fetch(live.dataset.liveUrl, {
      headers: { "If-None-Match": live.dataset.etag || "" },
      cache: "no-store",
      credentials: "same-origin"
    }).then(function (response) {
      if (response.status === 304) {
        return null;
      }
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.text();
    }).then(function (html) {
      if (html !== null) {
        swap(html);
      }
      lost(false);
      live.dataset.polls = String(Number(live.dataset.polls || "0") + 1);
      if (live.dataset.finished !== "true") {
        window.setTimeout(poll, PERIOD_MS);
      }
    }).catch(function () {
      lost(true);
      window.setTimeout(poll, PERIOD_MS);
    });
  }

  // A running run's journal opens at its newest lines.
  var journal = document.getElementById("messages-box");
  if (journal) {
    journal.scrollTop = journal.scrollHeight;
  }
  window.setTimeout(poll, PERIOD_MS);
}());
