// Keeps the dashboard current without reloading: the server sends a section's new
// markup when it changes ("section") and each lattice event ("lattice-event").
"use strict";
(function () {
  const state = document.getElementById("live-state");
  const feed = document.getElementById("event-feed");
  const pending = new Map();

  function setState(text, ok) {
    if (!state) return;
    state.textContent = text;
    state.classList.toggle("ok", ok);
    state.classList.toggle("down", !ok);
  }

  // Values the user typed or chose, by element id, so a swap does not lose them.
  function typedValues(root) {
    const values = new Map();
    const controls = root.matches("select") ? [root] : root.querySelectorAll("input[id], select[id]");
    for (const control of controls) {
      if (control.type !== "hidden" && control.type !== "file") values.set(control.id, control.value);
    }
    return values;
  }

  function restore(root, values) {
    for (const [id, value] of values) {
      const control = document.getElementById(id);
      if (!control || !root.contains(control) && control !== root) continue;
      if (control.tagName === "SELECT" && ![...control.options].some((o) => o.value === value)) continue;
      control.value = value;
    }
  }

  function swap(id, html) {
    const target = document.getElementById(id);
    if (!target) return;
    // Never swap under the user's hands: wait until they leave the section.
    if (target.contains(document.activeElement) && document.activeElement !== document.body) {
      pending.set(id, html);
      return;
    }
    pending.delete(id);
    const values = typedValues(target);
    const userTyped = new Map([...values].filter(([key]) => {
      const control = document.getElementById(key);
      return control && control.dataset.dirty === "1";
    }));
    target.innerHTML = html;
    restore(target, target.tagName === "SELECT" ? values : userTyped);
  }

  document.addEventListener("input", (event) => {
    if (event.target.id) event.target.dataset.dirty = "1";
  });
  document.addEventListener("focusout", () => {
    setTimeout(() => {
      for (const [id, html] of [...pending]) swap(id, html);
    }, 0);
  });

  function applyFilters() {
    const shown = new Set(
      [...document.querySelectorAll('input[name="event-group"]:checked')].map((c) => c.value)
    );
    for (const item of feed ? feed.children : []) {
      item.hidden = !shown.has(item.dataset.group);
    }
  }
  document.addEventListener("change", (event) => {
    if (event.target.name === "event-group") applyFilters();
  });

  // Events newer than the page's newest come first; a reconnect may send some twice.
  let lastSeq = feed ? Number(feed.dataset.seq || 0) : 0;
  const source = new EventSource("/live?since=" + lastSeq);
  // Close the stream when the page goes (a form post, a link): a browser holds few
  // connections per host, and a page kept for "back" would hold one.
  window.addEventListener("pagehide", () => source.close());
  source.onopen = () => setState("live", true);
  source.onerror = () => setState("reconnecting", false);
  source.addEventListener("section", (event) => {
    const { id, html } = JSON.parse(event.data);
    swap(id, html);
  });
  source.addEventListener("lattice-event", (event) => {
    if (!feed) return;
    const { seq, html } = JSON.parse(event.data);
    if (seq <= lastSeq) return;
    lastSeq = seq;
    feed.insertAdjacentHTML("afterbegin", html);
    const empty = document.getElementById("no-events");
    if (empty) empty.remove();
    while (feed.children.length > 200) feed.lastElementChild.remove();
    applyFilters();
  });
})();
